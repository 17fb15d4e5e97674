import { noteSearchText, nowIso, StoreError, type Note, type NoteRepo } from '../store.ts'
import type { Scope, SqliteConnection } from './connection.ts'
import { pageLimit, toPage } from './paging.ts'
import { insertSql, noteParams, toNote, type NoteRow } from './rows.ts'

const INSERT = `${insertSql('notes')} RETURNING *`
const GET = 'SELECT * FROM notes WHERE id = $id AND owner_id = $owner_id AND deleted_at IS NULL'
// search_text is for the search only: a page need not read it back (about half of a note's bytes).
const PAGE_COLUMNS = 'id, owner_id, title, body, created_at, updated_at, version, deleted_at'
// instr, not LIKE: `%`, `_` and quotes in q stay literal without escaping (same as strpos on PostgreSQL).
const LIST = `SELECT ${PAGE_COLUMNS} FROM notes WHERE owner_id = $owner_id AND deleted_at IS NULL
  AND ($cursor IS NULL OR id < $cursor) AND ($q IS NULL OR instr(search_text, $q) > 0)
  ORDER BY id DESC LIMIT $n`
/** the first page without a search, the one asked for most: without LIST's optional terms SQLite does less */
const LIST_FIRST = `SELECT ${PAGE_COLUMNS} FROM notes WHERE owner_id = $owner_id AND deleted_at IS NULL ORDER BY id DESC LIMIT $n`
const UPDATE = `UPDATE notes SET title = $title, body = $body, search_text = $search_text, updated_at = $now,
  version = version + 1 WHERE id = $id AND owner_id = $owner_id AND deleted_at IS NULL RETURNING *`
const SOFT_DELETE = `UPDATE notes SET deleted_at = $now, updated_at = $now, version = version + 1
  WHERE id = $id AND owner_id = $owner_id AND deleted_at IS NULL RETURNING *`

const notFound = () => new StoreError('not_found', 'note not found')

export function sqliteNoteRepo(conn: SqliteConnection, scope: Scope): NoteRepo {
  const get = (ownerId: string, id: string) => conn.stmt<NoteRow>(GET).get({ id, owner_id: ownerId })

  return {
    create: (input) =>
      conn.write(
        scope,
        (emit) => {
          const now = nowIso()
          const note: Note = { ...input, createdAt: now, updatedAt: now, version: 1, deletedAt: null }
          const stored = toNote(conn.stmt<NoteRow>(INSERT).get(noteParams(note))!)
          emit({ table: 'notes', row: stored })
          return stored
        },
        { foreignKey: 'owner does not exist' },
      ),

    get: (ownerId, id) =>
      conn.read(scope, () => {
        const row = get(ownerId, id)
        return row ? toNote(row) : null
      }),

    list: (ownerId, query) =>
      conn.read(scope, () => {
        const limit = pageLimit(query)
        const rows =
          query.cursor || query.q
            ? conn.stmt<NoteRow>(LIST).all({ owner_id: ownerId, cursor: query.cursor || null, q: query.q ? query.q.toLowerCase() : null, n: limit + 1 })
            : conn.stmt<NoteRow>(LIST_FIRST).all({ owner_id: ownerId, n: limit + 1 })
        return toPage(rows.map(toNote), limit)
      }),

    update: (ownerId, id, patch) =>
      conn.write(scope, (emit) => {
        const current = get(ownerId, id)
        if (!current) throw notFound()
        const title = patch.title ?? current.title
        const body = patch.body ?? current.body
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
