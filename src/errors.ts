// The one map of error codes the API answers with, and the error type routes throw.
import type { ContentfulStatusCode } from 'hono/utils/http-status'

export const ERROR_STATUS = {
  validation_error: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>

export type ErrorCode = keyof typeof ERROR_STATUS

export class AppError extends Error {
  override readonly name = 'AppError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** extra response headers, e.g. Retry-After */
    readonly headers?: Record<string, string>,
  ) {
    super(message)
  }
  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code]
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown; request_id: string }
}

export const errorBody = (code: ErrorCode, message: string, requestId: string, details?: unknown): ErrorBody => ({
  error: details === undefined ? { code, message, request_id: requestId } : { code, message, details, request_id: requestId },
})
