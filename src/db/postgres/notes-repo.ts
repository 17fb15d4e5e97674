import {
  budgetedPage, NOTE_PAGE_MAX_BYTES, NOTE_SEARCH_SCAN_BYTES, noteBytes, noteLimitError, noteSearchText, nowIso, StoreError,
  type Note, type NoteRepo,
} from '../store.ts'
import type { PgExecutor } from './executor.ts'
import type { QuerySql } from './pool.ts'
import { toNote, type NoteRow } from './rows.ts'
import { checkCursor, isUuid } from './uuid.ts'

/**
 * What reads and RETURNING bring back: every column but search_text, which only the search uses and
 * which is about half of a note's bytes (it is derived from title and body wherever it is stored).
 */
type NoteFields = Omit<NoteRow, 'search_text'>
const NOTE_COLUMNS = 'id, owner_id, title, body, created_at, updated_at, version, deleted_at'
const PAGE_COLUMNS = 'n.id, n.owner_id, n.title, n.body, n.created_at, n.updated_at, n.version, n.deleted_at'
// As on SQLite: octet_length of a stored text is read from its TOAST header, not by reading the text.
// `ranked`: the limit+1 candidates with the running total of their text (see sqlite/note-repo.ts).
const RANKED = `ranked as (
    select id, sum(size) over (order by id desc) as run, row_number() over (order by id desc) as rn, (count(*) over ())::int as candidates
    from cand)`

type PageRow = NoteFields & { candidates: number | null; scan_end?: string | null; scan_cut?: boolean | null }

const notFound = () => new StoreError('not_found', 'note not found')

/**
 * Makes a create idempotent for its own id: retried after a lost connection, it finds the row its
 * first attempt committed, and the no-op update makes RETURNING yield it — never a 409. The id is one
 * only this create made (UUIDv7), so a row with it and the same content is its own.
 */
const ownRow = (sql: QuerySql) => sql`on conflict (id) do update set id = excluded.id
  where notes.owner_id = excluded.owner_id and notes.title = excluded.title and notes.body = excluded.body`

export function createNoteRepo(ex: PgExecutor): NoteRepo {
  const written = (row: NoteFields): Note => {
    const note = toNote(row)
    ex.emit({ table: 'notes', row: note })
    return note
  }

  const get = async (ownerId: string, id: string): Promise<Note | null> => {
    if (!isUuid(ownerId) || !isUuid(id)) return null
    const [row] = await ex.run((sql) => sql<NoteFields[]>`
      select ${sql.unsafe(NOTE_COLUMNS)} from notes
      where id = ${id} and owner_id = ${ownerId} and deleted_at is null ${ex.callerCheck(sql)}`)
    return row ? toNote(row) : null
  }

  return {
    get,

    async usage(ownerId) {
      if (!isUuid(ownerId)) return { notes: 0, bytes: 0 }
      const [row] = await ex.run((sql) => sql<{ notes: number; bytes: number }[]>`
        select count(*)::int as notes, coalesce(sum(octet_length(title) + octet_length(body)), 0)::float8 as bytes
        from notes where owner_id = ${ownerId} and deleted_at is null ${ex.callerCheck(sql)}`)
      return row!
    },

    async create(input, limits) {
      const now = nowIso()
      if (!limits) {
        // the columns written out, not sql(object): that escapes every column name on every call
        const [row] = await ex.run((sql) => sql<NoteFields[]>`
          insert into notes (id, owner_id, title, body, search_text, created_at, updated_at, version)
          select ${input.id}::uuid, ${input.ownerId}::uuid, ${input.title}::text, ${input.body}::text,
                 ${noteSearchText(input.title, input.body)}::text, ${now}::timestamptz, ${now}::timestamptz, 1
          where true ${ex.callerCheck(sql)}
          ${ownRow(sql)}
          returning ${sql.unsafe(NOTE_COLUMNS)}`)
        if (!row) throw new StoreError('conflict', 'a note with this id already exists')
        return written(row)
      }
      // One statement: the owner's usage, and the insert only when it stays within the limits. Creates
      // racing each other may each see the usage before the others' rows (read committed): the limits
      // can be overshot by as many notes as are created at the same moment.
      const size = noteBytes(input.title, input.body)
      const [row] = await ex.run((sql) => sql<(NoteFields & { used_notes: number; used_bytes: number; id_taken: boolean })[]>`
        with usage as (
          select count(*)::int as notes, coalesce(sum(octet_length(title) + octet_length(body)), 0)::float8 as bytes
          from notes where owner_id = ${input.ownerId} and deleted_at is null ${ex.callerCheck(sql)}
        ), created as (
          insert into notes (id, owner_id, title, body, search_text, created_at, updated_at, version)
          select ${input.id}::uuid, ${input.ownerId}::uuid, ${input.title}::text, ${input.body}::text,
                 ${noteSearchText(input.title, input.body)}::text, ${now}::timestamptz, ${now}::timestamptz, 1
          from usage
          where (usage.notes < ${limits.maxNotes} and usage.bytes + ${size} <= ${limits.maxBytes})
             or exists (select 1 from notes where id = ${input.id}::uuid)
          ${ownRow(sql)}
          returning ${sql.unsafe(NOTE_COLUMNS)}
        )
        select created.*, usage.notes as used_notes, usage.bytes as used_bytes,
               exists (select 1 from notes where id = ${input.id}::uuid) as id_taken
        from usage left join created on true`)
      if (row) limits.onUsage?.({ notes: row.used_notes, bytes: row.used_bytes })
      if (row?.id) {
        const { used_notes: _, used_bytes: __, id_taken: ___, ...fields } = row
        return written(fields)
      }
      if (row?.id_taken) throw new StoreError('conflict', 'a note with this id already exists')
      throw noteLimitError((row?.used_notes ?? 0) >= limits.maxNotes ? 'count' : 'bytes', limits)
    },

    async list(ownerId, { limit, cursor, q }) {
      const before = checkCursor(cursor)
      if (!isUuid(ownerId)) return { items: [], nextCursor: null }
      const after = (sql: Parameters<Parameters<PgExecutor['run']>[0]>[0]) => (before ? sql`and id < ${before}` : sql``)
      if (!q) {
        const rows = await ex.run((sql) => sql<PageRow[]>`
          with cand as (
            select id, octet_length(title) + octet_length(body) as size from notes
            where owner_id = ${ownerId} and deleted_at is null ${after(sql)} ${ex.callerCheck(sql)}
            order by id desc limit ${limit + 1}
          ), ${sql.unsafe(RANKED)}
          select ${sql.unsafe(PAGE_COLUMNS)}, ranked.candidates from ranked join notes n on n.id = ranked.id
          where ranked.rn = 1 or ranked.run <= ${NOTE_PAGE_MAX_BYTES}
          order by n.id desc`)
        return budgetedPage(rows.map(toNote), limit, rows[0]?.candidates ?? 0)
      }
      // A search reads at most NOTE_SEARCH_SCAN_BYTES of search_text (see sqlite/note-repo.ts).
      const rows = await ex.run((sql) => sql<PageRow[]>`
        with scan as (
          select id, octet_length(search_text) as size, sum(octet_length(search_text)) over (order by id desc) as scanned
          from notes where owner_id = ${ownerId} and deleted_at is null ${after(sql)} ${ex.callerCheck(sql)}
        ), win as (select id from scan where scanned - size < ${NOTE_SEARCH_SCAN_BYTES}),
        meta as (select (select min(id::text collate "C") from win) as scan_end, (select count(*) from scan) > (select count(*) from win) as scan_cut),
        cand as (
          select id, octet_length(title) + octet_length(body) as size from notes
          where id in (select id from win) and strpos(search_text, ${q.toLowerCase()}) > 0
          order by id desc limit ${limit + 1}
        ), ${sql.unsafe(RANKED)}
        select ${sql.unsafe(PAGE_COLUMNS)}, ranked.candidates, meta.scan_end, meta.scan_cut
        from meta left join ranked on ranked.rn = 1 or ranked.run <= ${NOTE_PAGE_MAX_BYTES} left join notes n on n.id = ranked.id
        order by n.id desc`)
      const meta = rows[0]!
      const found = rows.filter((r) => r.id !== null)
      return budgetedPage(found.map(toNote), limit, meta.candidates ?? 0, { end: meta.scan_end ?? null, cut: meta.scan_cut === true })
    },

    async update(ownerId, id, patch, limits) {
      if (!isUuid(ownerId) || !isUuid(id)) throw notFound()
      const title = patch.title ?? null
      const body = patch.body ?? null
      // One statement, computed from the row as it stands when updated (a concurrent patch of the
      // other field is kept). search_text is lower(title) + '\n' + lower(body) folded in JS, as the
      // two halves folded apart (a line break ends the context of every case rule): the half not
      // patched is cut out of the stored search_text after the title's own line breaks.
      const rows = await ex.run((sql) => {
        const newTitle = sql`coalesce(${title}::text, n.title)`
        const newBody = sql`coalesce(${body}::text, n.body)`
        const titleBreaks = sql`(length(n.title) - length(replace(n.title, E'\n', '')))`
        const searchText =
          title !== null && body !== null
            ? sql`${noteSearchText(title, body)}::text`
            : title !== null
              ? sql`${title.toLowerCase()}::text || E'\n' || array_to_string((string_to_array(n.search_text, E'\n'))[${titleBreaks} + 2:], E'\n')`
              : sql`array_to_string((string_to_array(n.search_text, E'\n'))[1:${titleBreaks} + 1], E'\n') || E'\n' || ${(body ?? '').toLowerCase()}::text`
        // Only a note that grows can break the limit (one that shrinks is always allowed).
        const withinLimit = limits
          ? sql`and (octet_length(${newTitle}) + octet_length(${newBody}) <= octet_length(n.title) + octet_length(n.body)
              or (select coalesce(sum(octet_length(o.title) + octet_length(o.body)), 0) from notes o
                  where o.owner_id = ${ownerId} and o.deleted_at is null and o.id <> ${id})
                 + octet_length(${newTitle}) + octet_length(${newBody}) <= ${limits.maxBytes})`
          : sql``
        return sql<(NoteFields & { found: boolean })[]>`
          with updated as (
            update notes n
            set title = ${newTitle}, body = ${newBody}, search_text = ${searchText}, updated_at = ${nowIso()}, version = n.version + 1
            where n.id = ${id} and n.owner_id = ${ownerId} and n.deleted_at is null ${ex.callerCheck(sql)} ${withinLimit}
            returning ${sql.unsafe(PAGE_COLUMNS)}
          )
          select updated.*, exists (select 1 from notes where id = ${id} and owner_id = ${ownerId} and deleted_at is null) as found
          from (select 1) as one left join updated on true`
      })
      const row = rows[0]!
      if (row.id) {
        const { found: _, ...fields } = row
        return written(fields)
      }
      if (!row.found || !limits) throw notFound()
      throw noteLimitError('bytes', limits)
    },

    async softDelete(ownerId, id) {
      if (!isUuid(ownerId) || !isUuid(id)) throw notFound()
      const now = nowIso()
      const [row] = await ex.run((sql) => sql<NoteFields[]>`
        update notes set deleted_at = ${now}, updated_at = ${now}, version = version + 1
        where id = ${id} and owner_id = ${ownerId} and deleted_at is null ${ex.callerCheck(sql)}
        returning ${sql.unsafe(NOTE_COLUMNS)}`)
      if (!row) throw notFound()
      written(row)
    },
  }
}
