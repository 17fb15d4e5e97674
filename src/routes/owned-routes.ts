// The routes of an owned resource (src/db/owned.ts), made from its definition: list (cursor, `q`),
// get, create, patch, soft delete. Every query is scoped to the caller, so another user's row is
// indistinguishable from a missing one (404, never 403). Every statement checks the caller's
// account and session itself (Store.as): one round trip per request. Each handler carries its words
// for /openapi.json, made from the same definition (openapi/owned-operations.ts).
import { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../app-env.ts'
import { callerStore, requireCaller } from '../auth/guard.ts'
import type { Config } from '../config-types.ts'
import { fieldBytes, type FieldsOf, type NewOwned, type Owned, type OwnedLimits, type OwnedTable } from '../db/owned.ts'
import { isStoreError, newId } from '../db/store.ts'
import { ownedFieldColumns } from '../db/tables.ts'
import { AppError } from '../errors.ts'
import type { OwnedExamples } from '../openapi/owned-examples.ts'
import { ownedOperations } from '../openapi/owned-operations.ts'
import { documents, type RouteDoc } from '../openapi/route-meta.ts'
import { jsonBody, pageCursor, pageLimit, params, query, storableText, uuidField } from '../validation.ts'
import { OwnedUsageCache } from './owned-usage.ts'

const SEARCH_QUERY_MAX = 200

/** What the routes of one owned resource are made from. */
export interface OwnedRoutesDefinition<T extends OwnedTable> {
  table: T
  /** each field's validation: a create carries them all, a patch at least one */
  fields: { [K in FieldsOf<T>]: z.ZodType<string, string> }
  /**
   * Per-user limits read from the configuration, and the settings that set them (named in the
   * messages of a 409 or 413); without them, an owner may keep any number of rows.
   */
  limits?: { of(config: Config): { maxCount: number; maxBytes: number }; settings: { count: string; bytes: string } }
  /** what its tag says in /openapi.json and /docs; without it, "Each user's own <table>" */
  description?: string
  /** the bodies /openapi.json shows; those not given are made from the fields (openapi/owned-examples.ts) */
  examples?: Partial<OwnedExamples<FieldsOf<T>>>
}

export function ownedRoutes<T extends OwnedTable>(definition: OwnedRoutesDefinition<T>): Hono<AppEnv> {
  type F = FieldsOf<T>
  const { table } = definition
  const fields = ownedFieldColumns(table) as F[]
  const fieldSchemas = definition.fields as Record<F, z.ZodType<string, string>>
  const createBody = z.strictObject(fieldSchemas)
  const patchBody = z
    .strictObject(Object.fromEntries(fields.map((f) => [f, fieldSchemas[f].optional()])) as Record<F, z.ZodOptional<z.ZodType<string, string>>>)
    .refine((p) => fields.some((f) => (p as Partial<Record<F, string>>)[f] !== undefined), `give at least one of ${fields.join(', ')}`)
  const idParam = z.strictObject({ id: uuidField(`must be a ${table.rowName} id (UUID)`) })
  const search = z.string().max(SEARCH_QUERY_MAX, `must be at most ${SEARCH_QUERY_MAX} characters`)
  const listQuery = z.strictObject({
    limit: pageLimit,
    cursor: pageCursor,
    ...(table.searchable?.length ? { q: storableText(search).optional() } : {}),
  })

  const toJson = (row: Owned<F>) => {
    const json: Record<string, unknown> = { id: row.id }
    for (const f of fields) json[f] = row[f]
    json.created_at = row.createdAt
    json.updated_at = row.updatedAt
    json.version = row.version
    return json
  }
  const notFound = () => new AppError('not_found', `${table.rowName} not found`)
  const sizeOf = (values: Partial<Record<F, string>>) => fieldBytes(fields.map((f) => values[f] ?? ''))

  const { limits } = definition
  const usage = new OwnedUsageCache()
  /** the limits a write adding `adding` is checked against in the database (OwnedUsageCache says when) */
  const limitsFor = (config: Config, ownerId: string, adding: { count: number; bytes: number }): OwnedLimits | undefined =>
    limits && usage.limitsFor(ownerId, adding, limits.of(config))
  /** a write over a limit: 409 or 413, naming the setting that sets it */
  const overLimit = (e: unknown, config: Config): unknown => {
    if (!limits || !(isStoreError(e, 'too_many') || isStoreError(e, 'too_large'))) return e
    const { maxCount, maxBytes } = limits.of(config)
    return e.kind === 'too_many'
      ? new AppError('conflict', `this account already keeps ${maxCount} ${table.name}, the most allowed (${limits.settings.count}); delete some first`)
      : new AppError('payload_too_large', `this would bring this account's ${table.name} over ${maxBytes} bytes of text, the most allowed (${limits.settings.bytes}); delete or shorten some first`)
  }

  const app = new Hono<AppEnv>()
  app.use(requireCaller)
  const docs = ownedOperations(definition)
  // The words of the route just mounted, hung on its handler (the last of its app.routes): wrapping
  // the handler instead would cost Hono its inference of `c` from the validators.
  const documentLast = (doc: RouteDoc) => void documents(app.routes.at(-1)!.handler, doc)

  app.get('/', query(listQuery), async (c) => {
    const { limit, cursor, q } = c.req.valid('query') as { limit: number; cursor?: string; q?: string }
    const page = await callerStore(c).resource(table).list(c.get('caller').userId, { limit, cursor: cursor ?? null, q: q || null })
    return c.json({ items: page.items.map(toJson), next_cursor: page.nextCursor })
  })
  documentLast(docs.list)

  app.post('/', ...jsonBody(createBody), async (c) => {
    const input = c.req.valid('json') as Record<F, string>
    const ownerId = c.get('caller').userId
    const bytes = sizeOf(input)
    const checked = limitsFor(c.get('deps').config, ownerId, { count: 1, bytes })
    let row: Owned<F>
    try {
      row = await callerStore(c).resource(table).create({ ...input, id: newId(), ownerId } as NewOwned<F>, checked)
    } catch (e) {
      usage.forget(ownerId)
      throw overLimit(e, c.get('deps').config)
    }
    usage.created(ownerId, bytes)
    return c.json(toJson(row), 201, { Location: `${c.req.path.replace(/\/$/, '')}/${row.id}` })
  })
  documentLast(docs.create)

  app.get('/:id', params(idParam), async (c) => {
    const row = await callerStore(c).resource(table).get(c.get('caller').userId, c.req.valid('param').id)
    if (!row) throw notFound()
    return c.json(toJson(row))
  })
  documentLast(docs.get)

  app.patch('/:id', params(idParam), ...jsonBody(patchBody), async (c) => {
    const ownerId = c.get('caller').userId
    const patch = c.req.valid('json') as Partial<Record<F, string>>
    // At most the size of the fields sent is added (the row's old values go): an upper bound.
    const checked = limitsFor(c.get('deps').config, ownerId, { count: 0, bytes: sizeOf(patch) })
    try {
      return c.json(toJson(await callerStore(c).resource(table).update(ownerId, c.req.valid('param').id, patch, checked)))
    } catch (e) {
      throw isStoreError(e, 'not_found') ? notFound() : overLimit(e, c.get('deps').config)
    } finally {
      usage.forget(ownerId)
    }
  })
  documentLast(docs.patch)

  app.delete('/:id', params(idParam), async (c) => {
    try {
      await callerStore(c).resource(table).softDelete(c.get('caller').userId, c.req.valid('param').id)
    } catch (e) {
      throw isStoreError(e, 'not_found') ? notFound() : e
    } finally {
      usage.forget(c.get('caller').userId)
    }
    return c.body(null, 204)
  })
  documentLast(docs.delete)

  return app
}
