// bun:sqlite errors → StoreError. Messages say what is wrong in words; SQLite's own text is kept only
// as the `cause` because it can quote SQL (CHECK expressions, syntax errors).
import { SQLiteError } from 'bun:sqlite'
import { StoreError } from '../store.ts'

/** Unique keys the application can clash on, by SQLite's `table.column` name for them. */
const UNIQUE_MESSAGES: Record<string, string> = {
  'users.email': 'email already in use',
  'users.id': 'a user with this id already exists',
  'sessions.token_hash': 'session token already in use',
  'sessions.id': 'a session with this id already exists',
  'audit.id': 'an audit event with this id already exists',
  'settings.key': 'a setting with this key already exists',
}

/** The database file or its connection is the problem, not the data: retrying elsewhere may help. */
const UNAVAILABLE = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_FULL', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_NOMEM', 'SQLITE_PROTOCOL']

export interface ErrorHints {
  /** what a failed foreign key means for this call, e.g. 'user does not exist' */
  foreignKey?: string
  /** what a unique violation means for this call (an owned resource's id taken), before UNIQUE_MESSAGES */
  unique?: string
}

export const isUniqueViolation = (e: unknown): boolean =>
  e instanceof SQLiteError && (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')

/** the row itself is refused by the table: a CHECK constraint or a NOT NULL column */
export const isRefusedRow = (e: unknown): boolean =>
  e instanceof SQLiteError && (e.code === 'SQLITE_CONSTRAINT_CHECK' || e.code === 'SQLITE_CONSTRAINT_NOTNULL')

/**
 * StoreErrors pass through. SQLite errors map to a kind. Anything else is a bug in our code and is
 * rethrown as it is, except the one error bun throws for a closed connection.
 */
export function toStoreError(e: unknown, hints: ErrorHints = {}): unknown {
  if (e instanceof StoreError) return e
  if (!(e instanceof SQLiteError)) {
    if (e instanceof Error && e.message === 'Database has closed') return new StoreError('unavailable', 'SQLite store is closed', { cause: e })
    return e
  }
  const code = e.code ?? `SQLITE_${e.errno}`
  if (isUniqueViolation(e)) {
    const target = /constraint failed: ([\w.]+)/.exec(e.message)?.[1] ?? ''
    return new StoreError('conflict', hints.unique ?? UNIQUE_MESSAGES[target] ?? 'a row with the same unique key already exists', { cause: e })
  }
  if (UNAVAILABLE.some((prefix) => code === prefix || code.startsWith(`${prefix}_`)))
    return new StoreError('unavailable', `SQLite database unavailable (${code})`, { cause: e })
  return new StoreError('invalid', invalidMessage(code, hints), { cause: e })
}

function invalidMessage(code: string, hints: ErrorHints): string {
  switch (code) {
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return hints.foreignKey ?? 'the row refers to a row that does not exist'
    case 'SQLITE_CONSTRAINT_NOTNULL':
      return 'a required value is missing'
    case 'SQLITE_CONSTRAINT_CHECK':
      return 'a value is not allowed'
    case 'SQLITE_CONSTRAINT_DATATYPE':
    case 'SQLITE_MISMATCH':
      return 'a value has the wrong type'
    case 'SQLITE_TOOBIG':
      return 'a value is too large'
    default:
      return `SQLite rejected the operation (${code})`
  }
}

/** `throw toStoreError(...)` loses the type; this keeps call sites short. */
export function mapErrors<T>(fn: () => T, hints?: ErrorHints): T {
  try {
    return fn()
  } catch (e) {
    throw toStoreError(e, hints)
  }
}
