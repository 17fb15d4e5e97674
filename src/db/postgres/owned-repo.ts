// The repository of an owned resource on PostgreSQL (src/db/owned.ts): every route's call is one
// statement, the caller check (Store.as) inside it. Statements are made once per resource
// (compileOwned) as postgres.js templates whose holes take the values of each call.
import { codecOf } from '../codec.ts'
import {
  budgetedPage, fieldBytes, ownedLimitError, ownedShape, OWNED_PAGE_MAX_BYTES, OWNED_SEARCH_SCAN_BYTES,
  type Owned, type OwnedPatch, type OwnedRepo, type OwnedShape, type OwnedTable,
} from '../owned.ts'
import { nowIso } from '../store.ts'
import { searchTextOf } from '../tables.ts'
import type { PgExecutor } from './executor.ts'
import type { QuerySql } from './pool.ts'
import { checkCursor, isUuid } from './uuid.ts'

/** What a hole in a statement's text looks like: `$?` is no SQL of ours. */
const HOLE = '$?'
/** A statement's text as the strings of a tagged template, for `sql(template, ...values)`. */
function template(text: string): TemplateStringsArray {
  const strings = text.split(HOLE)
  return Object.assign(strings, { raw: strings }) as unknown as TemplateStringsArray
}

type Row = Record<string, unknown>
type PageRow = Row & { candidates: number | null; scan_end?: string | null; scan_cut?: boolean | null }

/** An owned resource's statements and row mapping (its codec's), made once per resource. */
export interface CompiledOwned {
  shape: OwnedShape
  toRecord(row: object): object
  /** the columns a create inserts, in the order of its holes, from the record's column values */
  insertedValues(record: object): (string | number | null)[]
  create: TemplateStringsArray
  createWithin: TemplateStringsArray
  get: TemplateStringsArray
  usage: TemplateStringsArray
  list: TemplateStringsArray
  search: TemplateStringsArray
  softDelete: TemplateStringsArray
  /** the update of these patched fields (a bit per field), with or without the limit check; made on first use */
  update(mask: number, limited: boolean): TemplateStringsArray
}

export function compileOwned(table: OwnedTable): CompiledOwned {
  const shape = ownedShape(table)
  const codec = codecOf(table)
  const { fields, searchable, owner } = shape
  const t = shape.table
  // search_text is for the search only: reads and RETURNING leave it out (about half of a row's bytes).
  const columns = ['id', owner, ...fields, 'created_at', 'updated_at', 'version', 'deleted_at']
  const COLUMNS = columns.join(', ')
  const PAGE_COLUMNS = columns.map((c) => `n.${c}`).join(', ')
  // octet_length of a stored text is read from its TOAST header, not by reading the text.
  const size = (prefix: string) => fields.map((f) => `octet_length(${prefix}${f})`).join(' + ')
  const searched = searchable.length > 0
  const inserted = [...columns.slice(0, 2 + fields.length), ...(searched ? ['search_text'] : []), 'created_at', 'updated_at', 'version']
  /** the inserted columns bound to holes: all but version, which is 1 in the SQL */
  const bound = inserted.filter((c) => c !== 'version')
  // the columns written out, not sql(object): that escapes every column name on every call
  const VALUES = `${HOLE}::uuid, ${HOLE}::uuid, ${fields.map(() => `${HOLE}::text`).join(', ')}, ${searched ? `${HOLE}::text, ` : ''}${HOLE}::timestamptz, ${HOLE}::timestamptz, 1`
  // Makes a create idempotent for its own id: retried after a lost connection, it finds the row its
  // first attempt committed, and the no-op update makes RETURNING yield it — never a 409. The id is
  // one only this create made (UUIDv7), so a row with it and the same content is its own.
  const OWN_ROW = `on conflict (id) do update set id = excluded.id
    where ${[owner, ...fields].map((c) => `${t}.${c} = excluded.${c}`).join(' and ')}`
  // `ranked`: the limit+1 candidates with the running total of their bytes; the page keeps the first
  // and those within the budget, and `candidates` tells whether the budget ended it early.
  const RANKED = `ranked as (
    select id, sum(size) over (order by id desc) as run, row_number() over (order by id desc) as rn, (count(*) over ())::int as candidates
    from cand)`
  const LIVE = `${owner} = ${HOLE} and deleted_at is null`

  const updates = new Map<number, TemplateStringsArray>()
  const update = (mask: number, limited: boolean): TemplateStringsArray => {
    const key = mask * 2 + (limited ? 1 : 0)
    let made = updates.get(key)
    if (!made) updates.set(key, (made = template(updateText(shape, mask, limited, PAGE_COLUMNS))))
    return made
  }

  return {
    shape,
    toRecord: codec.fromPostgres,
    // search_text comes from the codec, which derives it from the searchable fields
    insertedValues: (record) => {
      const values = codec.toPostgres(record)
      return bound.map((c) => values[c] as string | number | null)
    },
    create: template(`insert into ${t} (${inserted.join(', ')})
      select ${VALUES}
      where true ${HOLE}
      ${OWN_ROW}
      returning ${COLUMNS}`),
    // One statement: the owner's usage, and the insert only when it stays within the limits. Creates
    // racing each other may each see the usage before the others' rows (read committed): the limits
    // can be overshot by as many rows as are created at the same moment.
    createWithin: template(`with usage as (
        select count(*)::int as count, coalesce(sum(${size('')}), 0)::float8 as bytes
        from ${t} where ${LIVE} ${HOLE}
      ), created as (
        insert into ${t} (${inserted.join(', ')})
        select ${VALUES}
        from usage
        where (usage.count < ${HOLE} and usage.bytes + ${HOLE} <= ${HOLE})
           or exists (select 1 from ${t} where id = ${HOLE}::uuid)
        ${OWN_ROW}
        returning ${COLUMNS}
      )
      select created.*, usage.count as used_count, usage.bytes as used_bytes,
             exists (select 1 from ${t} where id = ${HOLE}::uuid) as id_taken
      from usage left join created on true`),
    get: template(`select ${COLUMNS} from ${t} where id = ${HOLE} and ${LIVE} ${HOLE}`),
    usage: template(`select count(*)::int as count, coalesce(sum(${size('')}), 0)::float8 as bytes from ${t} where ${LIVE} ${HOLE}`),
    list: template(`with cand as (
        select id, ${size('')} as size from ${t}
        where ${LIVE} ${HOLE} ${HOLE}
        order by id desc limit ${HOLE}
      ), ${RANKED}
      select ${PAGE_COLUMNS}, ranked.candidates from ranked join ${t} n on n.id = ranked.id
      where ranked.rn = 1 or ranked.run <= ${OWNED_PAGE_MAX_BYTES}
      order by n.id desc`),
    // A search reads at most OWNED_SEARCH_SCAN_BYTES of search_text (the first row always): `win` is
    // those rows; `meta` says where the reading stopped, and comes back even when nothing matched.
    // strpos, not LIKE: `%`, `_` and quotes in q stay literal without escaping.
    search: template(`with scan as (
        select id, octet_length(search_text) as size, sum(octet_length(search_text)) over (order by id desc) as scanned
        from ${t} where ${LIVE} ${HOLE} ${HOLE}
      ), win as (select id from scan where scanned - size < ${OWNED_SEARCH_SCAN_BYTES}),
      meta as (select (select min(id::text collate "C") from win) as scan_end, (select count(*) from scan) > (select count(*) from win) as scan_cut),
      cand as (
        select id, ${size('')} as size from ${t}
        where id in (select id from win) and strpos(search_text, ${HOLE}) > 0
        order by id desc limit ${HOLE}
      ), ${RANKED}
      select ${PAGE_COLUMNS}, ranked.candidates, meta.scan_end, meta.scan_cut
      from meta left join ranked on ranked.rn = 1 or ranked.run <= ${OWNED_PAGE_MAX_BYTES} left join ${t} n on n.id = ranked.id
      order by n.id desc`),
    softDelete: template(`update ${t} set deleted_at = ${HOLE}, updated_at = ${HOLE}, version = version + 1
      where id = ${HOLE} and ${LIVE} ${HOLE}
      returning ${COLUMNS}`),
    update,
  }
}

/**
 * The update of the patched fields (`mask`), computed from the row as it stands when updated (a
 * concurrent patch of another field is kept). Holes, in order: each patched field's value (in the
 * SET), search_text's parts, now, id, owner, the caller check, then with `limited` each patched
 * value, owner, id, each patched value again and the byte limit; last id and owner for `found`.
 *
 * search_text is the searchable fields lower-cased in JS and joined by '\n', folded apart (a line
 * break ends the context of every case rule): a field not patched is cut out of the stored
 * search_text by the line breaks of the fields before it, so the whole text is never re-read.
 */
function updateText(shape: OwnedShape, mask: number, limited: boolean, pageColumns: string): string {
  const { fields, searchable, owner } = shape
  const t = shape.table
  const patched = (f: string) => (mask & (1 << fields.indexOf(f))) !== 0
  const set = fields.filter(patched).map((f) => `${f} = ${HOLE}::text`)
  if (searchable.some(patched)) set.push(`search_text = ${searchText(searchable, patched)}`)
  const value = (f: string) => (patched(f) ? `${HOLE}::text` : `n.${f}`)
  const newSize = fields.map((f) => `octet_length(${value(f)})`).join(' + ')
  // Only a row that grows can break the limit (one that shrinks is always allowed).
  const withinLimit = limited
    ? `and (${newSize} <= ${fields.map((f) => `octet_length(n.${f})`).join(' + ')}
        or (select coalesce(sum(${fields.map((f) => `octet_length(o.${f})`).join(' + ')}), 0) from ${t} o
            where o.${owner} = ${HOLE} and o.deleted_at is null and o.id <> ${HOLE})
           + ${newSize} <= ${HOLE})`
    : ''
  return `with updated as (
      update ${t} n
      set ${[...set, `updated_at = ${HOLE}`, 'version = n.version + 1'].join(', ')}
      where n.id = ${HOLE} and n.${owner} = ${HOLE} and n.deleted_at is null ${HOLE} ${withinLimit}
      returning ${pageColumns}
    )
    select updated.*, exists (select 1 from ${t} where id = ${HOLE} and ${owner} = ${HOLE} and deleted_at is null) as found
    from (select 1) as one left join updated on true`
}

function searchText(searchable: readonly string[], patched: (f: string) => boolean): string {
  if (searchable.every(patched)) return `${HOLE}::text`
  const breaks = (f: string) => `(length(n.${f}) - length(replace(n.${f}, E'\\n', '')))`
  return searchable
    .map((f, i) => {
      if (patched(f)) return `${HOLE}::text`
      // field i's lines in the stored text: after the lines of the fields before it
      const before = searchable.slice(0, i).map(breaks)
      const start = [String(i + 1), ...before].join(' + ')
      const end = i === searchable.length - 1 ? '' : [String(i + 1), ...before, breaks(f)].join(' + ')
      return `array_to_string((string_to_array(n.search_text, E'\\n'))[${start}:${end}], E'\\n')`
    })
    .join(` || E'\\n' || `)
}

export function createOwnedRepo<F extends string>(ex: PgExecutor, compiled: CompiledOwned): OwnedRepo<F> {
  const { shape } = compiled
  const { fields, searchable } = shape
  // the one place a row becomes a record of this resource: its columns are the definition's
  const toRecord = compiled.toRecord as (row: object) => Owned<F>
  const written = (row: Row): Owned<F> => {
    const record = toRecord(row)
    ex.emit({ table: shape.table, row: record })
    return record
  }
  const run = <T>(build: (sql: QuerySql) => unknown) => ex.run((sql) => build(sql) as never) as Promise<T>

  return {
    async get(ownerId, id) {
      if (!isUuid(ownerId) || !isUuid(id)) return null
      const [row] = await run<Row[]>((sql) => sql(compiled.get, id, ownerId, ex.callerCheck(sql)))
      return row ? toRecord(row) : null
    },

    async usage(ownerId) {
      if (!isUuid(ownerId)) return { count: 0, bytes: 0 }
      const [row] = await run<{ count: number; bytes: number }[]>((sql) => sql(compiled.usage, ownerId, ex.callerCheck(sql)))
      return row!
    },

    async create(input, limits) {
      const now = nowIso()
      const inserted = compiled.insertedValues({ ...input, createdAt: now, updatedAt: now, version: 1, deletedAt: null })
      if (!limits) {
        const [row] = await run<Row[]>((sql) => sql(compiled.create, ...inserted, ex.callerCheck(sql)))
        if (!row) throw shape.idTaken()
        return written(row)
      }
      const given = input as Record<string, string>
      const size = fieldBytes(fields.map((f) => given[f]!))
      const [row] = await run<(Row & { used_count: number; used_bytes: number; id_taken: boolean })[]>((sql) =>
        sql(compiled.createWithin, input.ownerId, ex.callerCheck(sql), ...inserted, limits.maxCount, size, limits.maxBytes, input.id, input.id))
      if (row) limits.onUsage?.({ count: row.used_count, bytes: row.used_bytes })
      if (row?.id) return written(row)
      if (row?.id_taken) throw shape.idTaken()
      throw ownedLimitError(shape.table, (row?.used_count ?? 0) >= limits.maxCount ? 'count' : 'bytes', limits)
    },

    async list(ownerId, { limit, cursor, q }) {
      const before = checkCursor(cursor)
      if (!isUuid(ownerId)) return { items: [], nextCursor: null }
      const after = (sql: QuerySql) => (before ? sql`and id < ${before}` : sql``)
      if (!q) {
        const rows = await run<PageRow[]>((sql) => sql(compiled.list, ownerId, after(sql), ex.callerCheck(sql), limit + 1))
        return budgetedPage(rows.map(toRecord), limit, rows[0]?.candidates ?? 0)
      }
      const rows = await run<PageRow[]>((sql) => sql(compiled.search, ownerId, after(sql), ex.callerCheck(sql), q.toLowerCase(), limit + 1))
      const meta = rows[0]!
      const found = rows.filter((r) => r.id !== null)
      return budgetedPage(found.map(toRecord), limit, meta.candidates ?? 0, { end: meta.scan_end ?? null, cut: meta.scan_cut === true })
    },

    async update(ownerId, id, patch, limits) {
      if (!isUuid(ownerId) || !isUuid(id)) throw shape.notFound()
      const sent = patchedValues(fields, patch)
      const searchParts = searchable.some((f) => sent.has(f))
        ? searchable.every((f) => sent.has(f))
          ? [searchTextOf(searchable.map((f) => sent.get(f)!))]
          : searchable.filter((f) => sent.has(f)).map((f) => sent.get(f)!.toLowerCase())
        : []
      const values = [...sent.values()]
      const limitValues = limits ? [...values, ownerId, id, ...values, limits.maxBytes] : []
      const rows = await run<(Row & { found: boolean })[]>((sql) =>
        sql(compiled.update(sent.mask, limits !== undefined), ...values, ...searchParts, nowIso(), id, ownerId, ex.callerCheck(sql), ...limitValues, id, ownerId))
      const row = rows[0]!
      if (row.id) return written(row)
      if (!row.found || !limits) throw shape.notFound()
      throw ownedLimitError(shape.table, 'bytes', limits)
    },

    async softDelete(ownerId, id) {
      if (!isUuid(ownerId) || !isUuid(id)) throw shape.notFound()
      const now = nowIso()
      const [row] = await run<Row[]>((sql) => sql(compiled.softDelete, now, now, id, ownerId, ex.callerCheck(sql)))
      if (!row) throw shape.notFound()
      written(row)
    },
  }
}

/** the patch's fields in the definition's order, and which they are as a bit per field */
function patchedValues(fields: readonly string[], patch: OwnedPatch<string>): Map<string, string> & { mask: number } {
  const sent = Object.assign(new Map<string, string>(), { mask: 0 })
  fields.forEach((f, i) => {
    const value = (patch as Record<string, string | undefined>)[f]
    if (value !== undefined) {
      sent.set(f, value)
      sent.mask |= 1 << i
    }
  })
  return sent
}
