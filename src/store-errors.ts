// What each StoreError kind answers over HTTP: one deliberate status per kind, so none ends as a 500.
// Store messages are written to be shown: a reason, never SQL, values or secrets.
import type { StoreError } from './db/store.ts'
import { AppError } from './errors.ts'

/** For the routes that read and write data. */
export function storeErrorToAppError(err: StoreError): AppError {
  switch (err.kind) {
    case 'unavailable':
      return new AppError('unavailable', `the database is unavailable: ${err.message}`)
    case 'conflict':
      return new AppError('conflict', err.message)
    case 'not_found':
      return new AppError('not_found', err.message)
    case 'invalid':
      return new AppError('validation_error', `the database refused the request: ${err.message}`)
    case 'too_many':
      return new AppError('conflict', err.message)
    case 'too_large':
      return new AppError('payload_too_large', err.message)
    case 'unauthorized':
      return new AppError('unauthorized', err.message, undefined, { 'WWW-Authenticate': 'Bearer' })
    case 'forbidden':
      return new AppError('forbidden', err.message)
  }
}

/**
 * For the fallback admin routes, which act on PostgreSQL itself (switch, copy, replay): PostgreSQL
 * refusing what we ask of it — a startup option it rejects (SQLSTATE 22023), a query it refuses — is
 * the primary being unusable, not a fault of the admin's request: 503, with the reason in words.
 */
export function primaryErrorToAppError(err: StoreError): AppError {
  switch (err.kind) {
    case 'unavailable':
    case 'invalid':
      return new AppError('unavailable', `PostgreSQL cannot be used for this: ${err.message}`)
    case 'conflict':
    case 'not_found':
    case 'too_many':
    case 'too_large':
    case 'unauthorized':
    case 'forbidden':
      return storeErrorToAppError(err)
  }
}
