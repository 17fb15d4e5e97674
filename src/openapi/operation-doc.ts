// The words of one operation in /openapi.json that the mounted middleware cannot give: written by
// hand in operations.ts, or made by a route factory from its definition and carried by the route's
// handler (route-meta.ts: documents), as owned resources do.
import type { z } from 'zod'
import type { ErrorCode } from '../errors.ts'

export interface OperationDoc<Tag extends string = string> {
  tag: Tag
  summary: string
  description?: string
  ok: { status: 200 | 201 | 204; description: string; schema?: z.ZodType; contentType?: string }
  /** errors the handler itself answers with, beyond those of its validators and guards */
  errors?: ErrorCode[]
  /** a JSON body read by the handler itself rather than by a validator */
  body?: { schema: z.ZodType; required: boolean }
  /** a JSON body the server accepts */
  example?: unknown
  /** a JSON body the server rejects with 400 validation_error */
  invalidExample?: unknown
}

/** a group of operations in the document (and a section of /docs) */
export interface TagDoc<Tag extends string = string> {
  name: Tag
  description: string
}
