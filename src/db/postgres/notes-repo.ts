import { noteSearchText, nowIso, StoreError, type Note, type NoteRepo } from '../store.ts'
import type { PgExecutor } from './executor.ts'
import { toNote, type NoteRow } from './rows.ts'
import { checkCursor, isUuid, pageOf } from './uuid.ts'

/**
 * What reads and RETURNING bring back: every column but search_text, which only the search uses and
 * which is about half of a note's bytes (it is derived from title and body wherever it is stored).
 */
type NoteFields = Omit<NoteRow, 'search_text'>
const NOTE_COLUMNS = 'id, owner_id, title, body, created_at, updated_at, version, deleted_at'

const notFound = () => new StoreError('not_found', 'note not found')

// A partial update must recompute search_text in JS (unicode folds as in SQLite), so it reads the
// note and writes it back only if nobody changed it meanwhile; a busy note gets a few tries.
const UPDATE_TRIES = 5

export function createNoteRepo(ex: PgExecutor): NoteRepo {
  const written = (row: NoteFields): Note => {
    const note = toNote(row)
    ex.emit({ table: 'notes', row: note })
    return note
  }

  const get = async (ownerId: string, id: string): Promise<Note | null> => {
    if (!isUuid(ownerId) || !isUuid(id)) return null
    const [row] = await ex.run((sql) => sql<NoteFields[]>`
      select ${sql.unsafe(NOTE_COLUMNS)} from notes where id = ${id} and owner_id = ${ownerId} and deleted_at is null`)
    return row ? toNote(row) : null
  }

  return {
    get,

    async create(input) {
      const now = nowIso()
      // the columns written out, not sql(object): that escapes every column name on every call
      const [row] = await ex.run((sql) => sql<NoteFields[]>`
        insert into notes (id, owner_id, title, body, search_text, created_at, updated_at, version)
        values (${input.id}, ${input.ownerId}, ${input.title}, ${input.body}, ${noteSearchText(input.title, input.body)}, ${now}, ${now}, 1)
        on conflict (id) do update set id = excluded.id
          where notes.owner_id = excluded.owner_id and notes.title = excluded.title and notes.body = excluded.body
        returning ${sql.unsafe(NOTE_COLUMNS)}`)
      // Idempotent for its own id: a create retried after a lost connection returns what it committed.
      if (!row) throw new StoreError('conflict', 'a note with this id already exists')
      return written(row)
    },

    async list(ownerId, { limit, cursor, q }) {
      const before = checkCursor(cursor)
      if (!isUuid(ownerId)) return { items: [], nextCursor: null }
      const needle = q ? q.toLowerCase() : null
      const rows = await ex.run((sql) => sql<NoteFields[]>`
        select ${sql.unsafe(NOTE_COLUMNS)} from notes
        where owner_id = ${ownerId} and deleted_at is null
          ${before ? sql`and id < ${before}` : sql``}
          ${needle ? sql`and strpos(search_text, ${needle}) > 0` : sql``}
        order by id desc
        limit ${limit + 1}`)
      return pageOf(rows.map(toNote), limit)
    },

    async update(ownerId, id, patch) {
      for (let i = 0; i < UPDATE_TRIES; i++) {
        const current = await get(ownerId, id)
        if (!current) throw notFound()
        const title = patch.title ?? current.title
        const body = patch.body ?? current.body
        const [row] = await ex.run((sql) => sql<NoteFields[]>`
          update notes
          set title = ${title}, body = ${body}, search_text = ${noteSearchText(title, body)},
              updated_at = ${nowIso()}, version = version + 1
          where id = ${id} and owner_id = ${ownerId} and deleted_at is null and version = ${current.version}
          returning ${sql.unsafe(NOTE_COLUMNS)}`)
        if (row) return written(row)
      }
      throw new StoreError('conflict', 'the note is being changed concurrently; retry')
    },

    async softDelete(ownerId, id) {
      if (!isUuid(ownerId) || !isUuid(id)) throw notFound()
      const now = nowIso()
      const [row] = await ex.run((sql) => sql<NoteFields[]>`
        update notes set deleted_at = ${now}, updated_at = ${now}, version = version + 1
        where id = ${id} and owner_id = ${ownerId} and deleted_at is null
        returning ${sql.unsafe(NOTE_COLUMNS)}`)
      if (!row) throw notFound()
      written(row)
    },
  }
}
