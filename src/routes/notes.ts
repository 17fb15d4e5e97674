// /api/v1/notes: each user's private notes. Every query is scoped to the caller, so another user's
// note is indistinguishable from a missing one (404, never 403).
import { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../app-env.ts'
import { callerStore, requireCaller } from '../auth/guard.ts'
import type { Config } from '../config-types.ts'
import { isStoreError, newId, noteBytes, type Note, type NoteLimits } from '../db/store.ts'
import { AppError } from '../errors.ts'
import { jsonBody, params, query, uuidField } from '../validation.ts'
import { NoteUsage } from './note-usage.ts'

export const NOTE_TITLE_MAX = 200
/** The JSON body limit (1 MiB) is the real bound; this keeps the text itself under it. */
export const NOTE_BODY_MAX = 1_000_000
export const NOTE_QUERY_MAX = 200

// Both databases must store exactly what was sent: PostgreSQL rejects NUL in text, and lone
// surrogates would be silently replaced when encoded as UTF-8.
const storable = (s: string) => s.isWellFormed() && !s.includes('\u0000')
const STORABLE = 'must be valid unicode text without NUL characters'

const title = z.string().trim().min(1, 'must not be empty').max(NOTE_TITLE_MAX, `must be at most ${NOTE_TITLE_MAX} characters`).refine(storable, STORABLE)
const body = z.string().max(NOTE_BODY_MAX, `must be at most ${NOTE_BODY_MAX} characters`).refine(storable, STORABLE)

const createBody = z.strictObject({ title, body })
const patchBody = z
  .strictObject({ title: title.optional(), body: body.optional() })
  .refine((p) => p.title !== undefined || p.body !== undefined, 'give at least one of title, body')
const idParam = z.strictObject({ id: uuidField('must be a note id (UUID)') })

export const pageLimit = z.coerce
  .number('must be a number')
  .int('must be an integer')
  .min(1, 'must be at least 1')
  .max(100, 'must be at most 100')
  .default(20)
export const pageCursor = uuidField('must be the next_cursor of a previous page').optional()

const listQuery = z.strictObject({
  limit: pageLimit,
  cursor: pageCursor,
  q: z.string().max(NOTE_QUERY_MAX, `must be at most ${NOTE_QUERY_MAX} characters`).refine(storable, STORABLE).optional(),
})

const noteJson = (n: Note) => ({
  id: n.id,
  title: n.title,
  body: n.body,
  created_at: n.createdAt,
  updated_at: n.updatedAt,
  version: n.version,
})

const noteNotFound = () => new AppError('not_found', 'note not found')

/** NOTES_MAX_PER_USER and NOTES_MAX_BYTES_PER_USER: over them a create answers 409 or 413 (checked as NoteUsage says). */
const limitsOf = (config: Config): NoteLimits => ({ maxNotes: config.notes.maxPerUser, maxBytes: config.notes.maxBytesPerUser })

export function notesRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const usage = new NoteUsage()
  // Every statement checks the caller's account and session itself (Store.as): one round trip each.
  app.use(requireCaller)

  app.get('/', query(listQuery), async (c) => {
    const { limit, cursor, q } = c.req.valid('query')
    const page = await callerStore(c).notes.list(c.get('caller').userId, { limit, cursor: cursor ?? null, q: q || null })
    return c.json({ items: page.items.map(noteJson), next_cursor: page.nextCursor })
  })

  app.post('/', ...jsonBody(createBody), async (c) => {
    const input = c.req.valid('json')
    const ownerId = c.get('caller').userId
    const bytes = noteBytes(input.title, input.body)
    const limits = usage.limitsFor(ownerId, { notes: 1, bytes }, limitsOf(c.get('deps').config))
    let note: Note
    try {
      note = await callerStore(c).notes.create({ id: newId(), ownerId, title: input.title, body: input.body }, limits)
    } catch (e) {
      usage.forget(ownerId)
      throw e
    }
    usage.created(ownerId, bytes)
    return c.json(noteJson(note), 201, { Location: `${c.req.path.replace(/\/$/, '')}/${note.id}` })
  })

  app.get('/:id', params(idParam), async (c) => {
    const note = await callerStore(c).notes.get(c.get('caller').userId, c.req.valid('param').id)
    if (!note) throw noteNotFound()
    return c.json(noteJson(note))
  })

  app.patch('/:id', params(idParam), ...jsonBody(patchBody), async (c) => {
    const ownerId = c.get('caller').userId
    const patch = c.req.valid('json')
    // At most the size of the fields sent is added (the note's old text goes): an upper bound.
    const bytes = noteBytes(patch.title ?? '', patch.body ?? '')
    const limits = usage.limitsFor(ownerId, { notes: 0, bytes }, limitsOf(c.get('deps').config))
    try {
      return c.json(noteJson(await callerStore(c).notes.update(ownerId, c.req.valid('param').id, patch, limits)))
    } catch (e) {
      throw isStoreError(e, 'not_found') ? noteNotFound() : e
    } finally {
      usage.forget(ownerId)
    }
  })

  app.delete('/:id', params(idParam), async (c) => {
    try {
      await callerStore(c).notes.softDelete(c.get('caller').userId, c.req.valid('param').id)
    } catch (e) {
      throw isStoreError(e, 'not_found') ? noteNotFound() : e
    } finally {
      usage.forget(c.get('caller').userId)
    }
    return c.body(null, 204)
  })

  return app
}
