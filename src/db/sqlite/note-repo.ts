import {
  budgetedPage, NOTE_PAGE_MAX_BYTES, NOTE_SEARCH_SCAN_BYTES, noteBytes, noteLimitError, noteSearchText, nowIso, StoreError,
  type Note, type NoteRepo,
} from '../store.ts'
import type { Scope, SqliteConnection } from './connection.ts'
import { pageLimit } from './paging.ts'
import { insertSql, noteParams, toNote, type NoteRow } from './rows.ts'

const INSERT = `${insertSql('notes')} RETURNING *`
const GET = 'SELECT * FROM notes WHERE id = $id AND owner_id = $owner_id AND deleted_at IS NULL'
// search_text is for the search only: a page need not read it back (about half of a note's bytes).
const PAGE_COLUMNS = 'n.id, n.owner_id, n.title, n.body, n.created_at, n.updated_at, n.version, n.deleted_at'
// Sizes come from octet_length, which SQLite answers from the record header without reading the text.
// `ranked`: the limit+1 candidates with the running total of their text; the page keeps the first and
// those within $budget, and `candidates` tells the caller whether the budget ended it early.
const RANKED = `ranked AS (
    SELECT id, sum(size) OVER (ORDER BY id DESC) AS run, row_number() OVER (ORDER BY id DESC) AS rn, count(*) OVER () AS candidates
    FROM cand)`
const LIST = `WITH cand AS (
    SELECT id, octet_length(title) + octet_length(body) AS size FROM notes
    WHERE owner_id = $owner_id AND deleted_at IS NULL AND ($cursor IS NULL OR id < $cursor)
    ORDER BY id DESC LIMIT $n
  ), ${RANKED}
  SELECT ${PAGE_COLUMNS}, ranked.candidates FROM ranked JOIN notes n ON n.id = ranked.id
  WHERE ranked.rn = 1 OR ranked.run <= $budget ORDER BY n.id DESC`
// A search reads at most $scan_budget bytes of search_text (the first note always): `win` is those
// notes; `meta` says where the reading stopped, and comes back even when nothing matched.
// instr, not LIKE: `%`, `_` and quotes in q stay literal without escaping (same as strpos on PostgreSQL).
const SEARCH = `WITH scan AS (
    SELECT id, octet_length(search_text) AS size, sum(octet_length(search_text)) OVER (ORDER BY id DESC) AS scanned
    FROM notes WHERE owner_id = $owner_id AND deleted_at IS NULL AND ($cursor IS NULL OR id < $cursor)
  ), win AS (SELECT id FROM scan WHERE scanned - size < $scan_budget),
  meta AS (SELECT (SELECT min(id) FROM win) AS scan_end, (SELECT count(*) FROM scan) > (SELECT count(*) FROM win) AS scan_cut),
  cand AS (
    SELECT id, octet_length(title) + octet_length(body) AS size FROM notes
    WHERE id IN (SELECT id FROM win) AND instr(search_text, $q) > 0 ORDER BY id DESC LIMIT $n
  ), ${RANKED}
  SELECT ${PAGE_COLUMNS}, ranked.candidates, meta.scan_end, meta.scan_cut
  FROM meta LEFT JOIN ranked ON ranked.rn = 1 OR ranked.run <= $budget LEFT JOIN notes n ON n.id = ranked.id
  ORDER BY n.id DESC`
const USAGE = `SELECT count(*) AS notes, coalesce(sum(octet_length(title) + octet_length(body)), 0) AS bytes
  FROM notes WHERE owner_id = $owner_id AND deleted_at IS NULL AND id IS NOT $except_id`
const UPDATE = `UPDATE notes SET title = $title, body = $body, search_text = $search_text, updated_at = $now,
  version = version + 1 WHERE id = $id AND owner_id = $owner_id AND deleted_at IS NULL RETURNING *`
const SOFT_DELETE = `UPDATE notes SET deleted_at = $now, updated_at = $now, version = version + 1
  WHERE id = $id AND owner_id = $owner_id AND deleted_at IS NULL RETURNING *`

const notFound = () => new StoreError('not_found', 'note not found')

type PageRow = NoteRow & { candidates: number | null; scan_end?: string | null; scan_cut?: number }

export function sqliteNoteRepo(conn: SqliteConnection, scope: Scope): NoteRepo {
  const get = (ownerId: string, id: string) => conn.stmt<NoteRow>(GET).get({ id, owner_id: ownerId })
  /** the owner's live notes, but `exceptId`: how many, and their bytes of text */
  const usage = (ownerId: string, exceptId: string | null) =>
    conn.stmt<{ notes: number; bytes: number }>(USAGE).get({ owner_id: ownerId, except_id: exceptId })!

  return {
    // Inside the IMMEDIATE transaction: the limits hold exactly, however many creates race.
    create: (input, limits) =>
      conn.write(
        scope,
        (emit) => {
          if (limits) {
            const used = usage(input.ownerId, null)
            limits.onUsage?.(used)
            if (used.notes >= limits.maxNotes) throw noteLimitError('count', limits)
            if (used.bytes + noteBytes(input.title, input.body) > limits.maxBytes) throw noteLimitError('bytes', limits)
          }
          const now = nowIso()
          const note: Note = { ...input, createdAt: now, updatedAt: now, version: 1, deletedAt: null }
          const stored = toNote(conn.stmt<NoteRow>(INSERT).get(noteParams(note))!)
          emit({ table: 'notes', row: stored })
          return stored
        },
        { foreignKey: 'owner does not exist' },
      ),

    usage: (ownerId) => conn.read(scope, () => usage(ownerId, null)),

    get: (ownerId, id) =>
      conn.read(scope, () => {
        const row = get(ownerId, id)
        return row ? toNote(row) : null
      }),

    list: (ownerId, query) =>
      conn.read(scope, () => {
        const limit = pageLimit(query)
        const params = { owner_id: ownerId, cursor: query.cursor || null, n: limit + 1, budget: NOTE_PAGE_MAX_BYTES }
        if (!query.q) {
          const rows = conn.stmt<PageRow>(LIST).all(params)
          return budgetedPage(rows.map(toNote), limit, rows[0]?.candidates ?? 0)
        }
        const rows = conn.stmt<PageRow>(SEARCH).all({ ...params, q: query.q.toLowerCase(), scan_budget: NOTE_SEARCH_SCAN_BYTES })
        const meta = rows[0]!
        const found = rows.filter((r) => r.id !== null)
        return budgetedPage(found.map(toNote), limit, meta.candidates ?? 0, { end: meta.scan_end ?? null, cut: meta.scan_cut === 1 })
      }),

    update: (ownerId, id, patch, limits) =>
      conn.write(scope, (emit) => {
        const current = get(ownerId, id)
        if (!current) throw notFound()
        const title = patch.title ?? current.title
        const body = patch.body ?? current.body
        // Only a note that grows can break the limit (one that shrinks is always allowed).
        const size = noteBytes(title, body)
        if (limits && size > noteBytes(current.title, current.body) && usage(ownerId, id).bytes + size > limits.maxBytes) {
          throw noteLimitError('bytes', limits)
        }
        const row = conn.stmt<NoteRow>(UPDATE).get({ id, owner_id: ownerId, title, body, search_text: noteSearchText(title, body), now: nowIso() })!
        const note = toNote(row)
        emit({ table: 'notes', row: note })
        return note
      }),

    softDelete: (ownerId, id) =>
      conn.write(scope, (emit) => {
        const row = conn.stmt<NoteRow>(SOFT_DELETE).get({ id, owner_id: ownerId, now: nowIso() })
        if (!row) throw notFound()
        emit({ table: 'notes', row: toNote(row) })
      }),
  }
}
