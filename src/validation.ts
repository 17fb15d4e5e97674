// Request validation: zod schemas through @hono/zod-validator, with our error shape.
// Every failure names the field: details is a list of {field, message}.
import { zValidator } from '@hono/zod-validator'
import { createMiddleware } from 'hono/factory'
import { z } from 'zod'
import type { AppEnv } from './app-env.ts'
import { AppError } from './errors.ts'
import { guards, validates } from './openapi/route-meta.ts'

export interface FieldIssue {
  field: string
  message: string
}

export const fieldIssues = (error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): FieldIssue[] =>
  error.issues.map((i) => ({ field: i.path.length ? i.path.map(String).join('.') : '(body)', message: i.message }))

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i

/** 415 unless the body is declared JSON: without it Hono's validator would silently see `{}`. */
export const requireJson = guards(
  createMiddleware<AppEnv>(async (c, next) => {
    const type = (c.req.header('Content-Type') ?? '').split(';')[0]!.trim()
    if (!JSON_TYPE.test(type)) throw new AppError('unsupported_media_type', 'Content-Type must be application/json')
    await next()
  }),
  'json-content-type',
)

/** The middleware carries its schema (openapi/route-meta.ts): /openapi.json is made from it. */
function validate<T extends z.ZodType, Target extends 'json' | 'query' | 'param'>(target: Target, schema: T, what: string) {
  const middleware = zValidator(
    target,
    schema,
    (result) => {
      if (!result.success) {
        const issues = fieldIssues(result.error)
        const first = issues[0]
        throw new AppError('validation_error', first ? `${what} field '${first.field}': ${first.message}` : `invalid ${what}`, issues)
      }
    },
    // zod's synchronous parse: none of our schemas refines asynchronously, and the default
    // safeParseAsync awaits every check (3% of a note create's CPU). The cast: the option's return
    // type is conditional on the schema type, which TypeScript cannot resolve for a generic T.
    { validationFunction: (s: T, value: unknown) => s.safeParse(value) as never },
  )
  return validates(middleware, target, schema)
}

/** JSON body validated by `schema` (use strict object schemas so unknown fields are rejected). */
export const jsonBody = <T extends z.ZodType>(schema: T) => [requireJson, validate('json', schema, 'body')] as const

export const query = <T extends z.ZodType>(schema: T) => validate('query', schema, 'query')

export const params = <T extends z.ZodType>(schema: T) => validate('param', schema, 'path')

/**
 * A UUID (an id or a page cursor), lower-cased here, once: PostgreSQL's uuid type matches any case
 * while SQLite's text compares exactly, and the routes compare ids as strings (an admin's own id).
 * From here on every database and every comparison sees one form.
 */
export const uuidField = (message: string) => z.uuid(message).transform((s) => s.toLowerCase())

/** ?limit= of a paged list: 1 to 100, default 20 */
export const pageLimit = z.coerce
  .number('must be a number')
  .int('must be an integer')
  .min(1, 'must be at least 1')
  .max(100, 'must be at most 100')
  .default(20)
export const pageCursor = uuidField('must be the next_cursor of a previous page').optional()

// Both databases must store exactly what was sent: PostgreSQL rejects NUL in text, and lone
// surrogates would be silently replaced when encoded as UTF-8.
const storable = (s: string) => s.isWellFormed() && !s.includes('\u0000')
/** text both databases store exactly as sent */
export const storableText = <T extends z.ZodType<string, string>>(schema: T) => schema.refine(storable, 'must be valid unicode text without NUL characters')
