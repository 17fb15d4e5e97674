// GET /openapi.json's document, made from the app itself: every route the Hono app mounts, with the
// zod schemas of the validators mounted on it (z.toJSONSchema) and the access its guards demand, plus
// the words of operations.ts or those its handler carries (owned routes). Nothing is listed that the
// server does not check, and the reverse.
import type { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../app-env.ts'
import { ERROR_STATUS, type ErrorCode } from '../errors.ts'
import type { OperationDoc, TagDoc } from './operation-doc.ts'
import { OPERATIONS, OWNED_TAGS_AFTER, TAGS } from './operations.ts'
import { docOf, guardOf, validationOf, type Guard, type RouteDoc, type ValidatedTarget } from './route-meta.ts'
import { errorSchema } from './response-schemas.ts'

type JsonSchema = Record<string, unknown>

export interface MountedOperation {
  method: string
  /** Hono's form: /api/v1/notes/:id */
  path: string
  validators: Array<{ target: ValidatedTarget; schema: z.ZodType }>
  guards: Guard[]
  /** the words its handler carries, if it documents itself */
  documented?: RouteDoc
}

const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])

/** `/*`-style middleware paths (`app.use`) cover the routes under them */
const covers = (middlewarePath: string, path: string): boolean => {
  if (middlewarePath === path) return true
  if (!middlewarePath.endsWith('/*')) return false
  const prefix = middlewarePath.slice(0, -2)
  return path === prefix || path.startsWith(`${prefix}/`)
}

/** The routes of `app`, each with the validators and guards that run for it. */
export function mountedOperations(app: Hono<AppEnv>): MountedOperation[] {
  const ops = new Map<string, MountedOperation>()
  const middleware = app.routes.filter((r) => r.method === 'ALL')
  for (const r of app.routes) {
    if (!HTTP_METHODS.has(r.method)) continue
    const key = `${r.method} ${r.path}`
    let op = ops.get(key)
    if (!op) {
      op = { method: r.method, path: r.path, validators: [], guards: [] }
      for (const m of middleware) {
        const guard = covers(m.path, r.path) ? guardOf(m.handler) : undefined
        if (guard) op.guards.push(guard)
      }
      ops.set(key, op)
    }
    const validation = validationOf(r.handler)
    if (validation) op.validators.push(validation)
    const guard = guardOf(r.handler)
    if (guard) op.guards.push(guard)
    op.documented ??= docOf(r.handler)
  }
  return [...ops.values()]
}

/** /api/v1/notes/:id → /api/v1/notes/{id} */
export const openApiPath = (honoPath: string): string => honoPath.replace(/:(\w+)/g, '{$1}')

/** zod's pattern beside a `format` (uuid, date-time) is how zod checks that format: the format says it. */
const withoutFormatPatterns = (ctx: { jsonSchema: JsonSchema }) => {
  if (ctx.jsonSchema.format && ctx.jsonSchema.pattern) delete ctx.jsonSchema.pattern
}
const convert = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12', override: withoutFormatPatterns }) as JsonSchema
  return rest
}
/** requests as they arrive (before defaults and coercion); answers as they leave */
const jsonSchema = (schema: z.ZodType): JsonSchema => convert(schema, 'input')
const outputSchema = (schema: z.ZodType): JsonSchema => convert(schema, 'output')

function parameters(op: MountedOperation): JsonSchema[] {
  const out: JsonSchema[] = []
  for (const v of op.validators) {
    if (v.target === 'json') continue
    const schema = jsonSchema(v.schema) as { properties?: Record<string, JsonSchema>; required?: string[] }
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const { description, ...rest } = property
      out.push({
        name,
        in: v.target === 'param' ? 'path' : 'query',
        required: v.target === 'param' || (schema.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: rest,
      })
    }
  }
  return out
}

/** The error codes an operation can answer with: from its validators, guards and own words. */
export function errorCodes(op: MountedOperation, doc: OperationDoc): ErrorCode[] {
  const codes = new Set<ErrorCode>(doc.errors ?? [])
  if (op.validators.length > 0) codes.add('validation_error')
  for (const g of op.guards) {
    if (g === 'json-content-type') {
      codes.add('unsupported_media_type')
      codes.add('payload_too_large')
    } else if (g === 'bearer') codes.add('unauthorized')
    else if (typeof g === 'object') {
      codes.add('unauthorized')
      codes.add('forbidden')
    }
  }
  codes.add('internal')
  return [...codes]
}

function responses(op: MountedOperation, doc: OperationDoc): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {}
  const ok = doc.ok
  out[String(ok.status)] =
    ok.status === 204
      ? { description: ok.description }
      : {
          description: ok.description,
          content: { [ok.contentType ?? 'application/json']: ok.schema ? { schema: outputSchema(ok.schema) } : {} },
        }
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of errorCodes(op, doc)) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code])
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: codes.join(' or '),
      content: { 'application/json': { schema: outputSchema(errorSchema(codes)) } },
    }
  }
  return out
}

function security(op: MountedOperation): Record<string, unknown> {
  const role = op.guards.find((g): g is { role: string } => typeof g === 'object')
  if (role) return { security: [{ bearerAuth: [] }], 'x-required-role': role.role }
  if (op.guards.includes('bearer')) return { security: [{ bearerAuth: [] }] }
  if (op.guards.includes('optional-bearer')) return { security: [{}, { bearerAuth: [] }] }
  return { security: [] }
}

function requestBody(op: MountedOperation, doc: OperationDoc): JsonSchema | null {
  const validated = op.validators.find((v) => v.target === 'json')
  const body = validated ? { schema: validated.schema, required: true } : doc.body
  if (!body) return null
  const media: JsonSchema = { schema: jsonSchema(body.schema) }
  if (doc.example !== undefined) media.example = doc.example
  return { required: body.required, content: { 'application/json': media } }
}

export class UndocumentedRouteError extends Error {
  override readonly name = 'UndocumentedRouteError'
}

/** An operation's words: its entry in operations.ts, or those its handler carries; never both. */
export function operationDoc(op: MountedOperation): OperationDoc {
  const key = `${op.method} ${op.path}`
  const written = OPERATIONS[key]
  if (written && op.documented) throw new Error(`${key} documents itself and has an entry in src/openapi/operations.ts: remove the entry`)
  const doc = written ?? op.documented?.operation
  if (!doc) throw new UndocumentedRouteError(`${key} is mounted but has no entry in src/openapi/operations.ts`)
  return doc
}

/** TAGS, with the tags of the operations that document themselves after OWNED_TAGS_AFTER (each name once) */
function tags(ops: MountedOperation[]): TagDoc[] {
  const owned = new Map<string, TagDoc>()
  for (const op of ops) if (op.documented && !owned.has(op.documented.tag.name)) owned.set(op.documented.tag.name, op.documented.tag)
  const at = TAGS.findIndex((t) => t.name === OWNED_TAGS_AFTER) + 1
  // a table named like a written tag (admin, say) is listed under that tag, not twice
  const own = [...owned.values()].filter((t) => !TAGS.some((written) => written.name === t.name))
  return [...TAGS.slice(0, at), ...own, ...TAGS.slice(at)]
}

export function openApiDocument(app: Hono<AppEnv>, info: { version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {}
  const ops = mountedOperations(app)
  for (const op of ops) {
    const doc = operationDoc(op)
    const params = parameters(op)
    const body = requestBody(op, doc)
    const operation: JsonSchema = {
      operationId: `${op.method.toLowerCase()}${op.path.replace(/[^A-Za-z0-9]+(\w)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      tags: [doc.tag],
      summary: doc.summary,
      ...(doc.description ? { description: doc.description } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(body ? { requestBody: body } : {}),
      responses: responses(op, doc),
      ...security(op),
    }
    if (doc.invalidExample !== undefined) operation['x-invalid-example'] = doc.invalidExample
    ;(paths[openApiPath(op.path)] ??= {})[op.method.toLowerCase()] = operation
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hono Failover API',
      version: info.version,
      description:
        'A Hono-on-Bun API that serves from PostgreSQL and falls back to SQLite without losing an acknowledged write. Every error is {"error": {code, message, details?, request_id}}; every response carries X-Request-Id.',
    },
    servers: [{ url: '/' }],
    tags: tags(ops),
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'the access_token of POST /api/v1/auth/login' },
      },
    },
  }
}
