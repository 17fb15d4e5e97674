// The repository of an owned resource on SQLite (src/db/owned.ts). Statements are made once per
// resource (compileOwned) and cached by the connection; every call is one synchronous step, the
// caller check (Store.as) in it.
import { codecOf, type Params } from '../codec.ts'
import {
  budgetedPage, fieldBytes, ownedLimitError, ownedShape, OWNED_PAGE_MAX_BYTES, OWNED_SEARCH_SCAN_BYTES,
  type Owned, type OwnedRepo, type OwnedShape, type OwnedTable, type OwnedUsage,
} from '../owned.ts'
import { nowIso, type TableRow } from '../store.ts'
import { searchTextOf } from '../tables.ts'
import type { Scope, SqliteConnection } from './connection.ts'
import type { ErrorHints } from './errors.ts'
import { pageLimit } from './paging.ts'

type Row = Record<string, string | number | null>
type PageRow = Row & { candidates: number | null; scan_end?: string | null; scan_cut?: number }

/** An owned resource's statements and row mapping (its codec's), made once per resource. */
export interface CompiledOwned {
  shape: OwnedShape
  toRecord(row: object): object
  /** the record's parameters for INSERT: its columns by name, search_text derived */
  insertParams(record: object): Params
  insert: string
  get: string
  list: string
  search: string
  usage: string
  update: string
  softDelete: string
  createHints: ErrorHints
}

/** fields are bound as `$f_<column>`, so no field can take the name of another parameter */
const fieldParam = (f: string) => `f_${f}`

export function compileOwned(table: OwnedTable): CompiledOwned {
  const shape = ownedShape(table)
  const codec = codecOf(table)
  const { fields, searchable, owner } = shape
  const t = shape.table
  const searched = searchable.length > 0
  // search_text is for the search only: reads and RETURNING leave it out (about half of a row's bytes).
  const columns = ['id', owner, ...fields, 'created_at', 'updated_at', 'version', 'deleted_at']
  const COLUMNS = columns.join(', ')
  const PAGE_COLUMNS = columns.map((c) => `n.${c}`).join(', ')
  // Sizes come from octet_length, which SQLite answers from the record header without reading the text.
  const size = (prefix: string) => fields.map((f) => `octet_length(${prefix}${f})`).join(' + ')
  const LIVE = `${owner} = $owner AND deleted_at IS NULL`
  // `ranked`: the limit+1 candidates with the running total of their bytes; the page keeps the first
  // and those within $budget, and `candidates` tells the caller whether the budget ended it early.
  const RANKED = `ranked AS (
    SELECT id, sum(size) OVER (ORDER BY id DESC) AS run, row_number() OVER (ORDER BY id DESC) AS rn, count(*) OVER () AS candidates
    FROM cand)`

  return {
    shape,
    toRecord: codec.fromSqlite,
    insertParams: codec.toSqlite,
    insert: `${codec.insertSql()} RETURNING ${COLUMNS}`,
    get: `SELECT ${COLUMNS} FROM ${t} WHERE id = $id AND ${LIVE}`,
    list: `WITH cand AS (
        SELECT id, ${size('')} AS size FROM ${t}
        WHERE ${LIVE} AND ($cursor IS NULL OR id < $cursor)
        ORDER BY id DESC LIMIT $n
      ), ${RANKED}
      SELECT ${PAGE_COLUMNS}, ranked.candidates FROM ranked JOIN ${t} n ON n.id = ranked.id
      WHERE ranked.rn = 1 OR ranked.run <= $budget ORDER BY n.id DESC`,
    // A search reads at most $scan_budget bytes of search_text (the first row always): `win` is those
    // rows; `meta` says where the reading stopped, and comes back even when nothing matched. instr,
    // not LIKE: `%`, `_` and quotes in q stay literal without escaping (same as strpos on PostgreSQL).
    search: `WITH scan AS (
        SELECT id, octet_length(search_text) AS size, sum(octet_length(search_text)) OVER (ORDER BY id DESC) AS scanned
        FROM ${t} WHERE ${LIVE} AND ($cursor IS NULL OR id < $cursor)
      ), win AS (SELECT id FROM scan WHERE scanned - size < $scan_budget),
      meta AS (SELECT (SELECT min(id) FROM win) AS scan_end, (SELECT count(*) FROM scan) > (SELECT count(*) FROM win) AS scan_cut),
      cand AS (
        SELECT id, ${size('')} AS size FROM ${t}
        WHERE id IN (SELECT id FROM win) AND instr(search_text, $q) > 0 ORDER BY id DESC LIMIT $n
      ), ${RANKED}
      SELECT ${PAGE_COLUMNS}, ranked.candidates, meta.scan_end, meta.scan_cut
      FROM meta LEFT JOIN ranked ON ranked.rn = 1 OR ranked.run <= $budget LEFT JOIN ${t} n ON n.id = ranked.id
      ORDER BY n.id DESC`,
    usage: `SELECT count(*) AS count, coalesce(sum(${size('')}), 0) AS bytes
      FROM ${t} WHERE ${LIVE} AND id IS NOT $except_id`,
    update: `UPDATE ${t} SET ${[...fields.map((f) => `${f} = $${fieldParam(f)}`), ...(searched ? ['search_text = $search_text'] : [])].join(', ')},
      updated_at = $now, version = version + 1 WHERE id = $id AND ${LIVE} RETURNING ${COLUMNS}`,
    softDelete: `UPDATE ${t} SET deleted_at = $now, updated_at = $now, version = version + 1
      WHERE id = $id AND ${LIVE} RETURNING ${COLUMNS}`,
    createHints: { foreignKey: 'owner does not exist', unique: shape.idTaken().message },
  }
}

export function sqliteOwnedRepo<F extends string>(conn: SqliteConnection, scope: Scope, compiled: CompiledOwned): OwnedRepo<F> {
  const { shape, insertParams } = compiled
  const { fields, searchable } = shape
  const searched = searchable.length > 0
  // the one place a row becomes a record of this resource: its columns are the definition's
  const toRecord = compiled.toRecord as (row: object) => Owned<F>
  const change = (record: Owned<F>): TableRow => ({ table: shape.table, row: record })
  const get = (ownerId: string, id: string) => conn.stmt<Row>(compiled.get).get({ id, owner: ownerId })
  /** the owner's live rows, but `exceptId`: how many, and their bytes */
  const usage = (ownerId: string, exceptId: string | null) => conn.stmt<OwnedUsage>(compiled.usage).get({ owner: ownerId, except_id: exceptId })!
  const valuesOf = (record: Row, names: readonly string[]) => names.map((f) => record[f] as string)

  return {
    // Inside the IMMEDIATE transaction: the limits hold exactly, however many creates race.
    create: (input, limits) =>
      conn.write(
        scope,
        (emit) => {
          const given = input as Row
          if (limits) {
            const used = usage(input.ownerId, null)
            limits.onUsage?.(used)
            if (used.count >= limits.maxCount) throw ownedLimitError(shape.table, 'count', limits)
            if (used.bytes + fieldBytes(valuesOf(given, fields)) > limits.maxBytes) throw ownedLimitError(shape.table, 'bytes', limits)
          }
          const now = nowIso()
          const record = { ...given, createdAt: now, updatedAt: now, version: 1, deletedAt: null }
          const stored = toRecord(conn.stmt<Row>(compiled.insert).get(insertParams(record))!)
          emit(change(stored))
          return stored
        },
        compiled.createHints,
      ),

    usage: (ownerId) => conn.read(scope, () => usage(ownerId, null)),

    get: (ownerId, id) =>
      conn.read(scope, () => {
        const row = get(ownerId, id)
        return row ? toRecord(row) : null
      }),

    list: (ownerId, query) =>
      conn.read(scope, () => {
        const limit = pageLimit(query)
        const params = { owner: ownerId, cursor: query.cursor || null, n: limit + 1, budget: OWNED_PAGE_MAX_BYTES }
        if (!query.q) {
          const rows = conn.stmt<PageRow>(compiled.list).all(params)
          return budgetedPage(rows.map(toRecord), limit, rows[0]?.candidates ?? 0)
        }
        const rows = conn.stmt<PageRow>(compiled.search).all({ ...params, q: query.q.toLowerCase(), scan_budget: OWNED_SEARCH_SCAN_BYTES })
        const meta = rows[0]!
        const found = rows.filter((r) => r.id !== null)
        return budgetedPage(found.map(toRecord), limit, meta.candidates ?? 0, { end: meta.scan_end ?? null, cut: meta.scan_cut === 1 })
      }),

    update: (ownerId, id, patch, limits) =>
      conn.write(scope, (emit) => {
        const current = get(ownerId, id)
        if (!current) throw shape.notFound()
        const next: Row = {}
        for (const f of fields) next[f] = (patch as Row)[f] ?? current[f]!
        // Only a row that grows can break the limit (one that shrinks is always allowed).
        const size = fieldBytes(valuesOf(next, fields))
        if (limits && size > fieldBytes(valuesOf(current, fields)) && usage(ownerId, id).bytes + size > limits.maxBytes) {
          throw ownedLimitError(shape.table, 'bytes', limits)
        }
        const params: Params = { id, owner: ownerId, now: nowIso() }
        for (const f of fields) params[fieldParam(f)] = next[f]!
        if (searched) params.search_text = searchTextOf(valuesOf(next, searchable))
        const updated = toRecord(conn.stmt<Row>(compiled.update).get(params)!)
        emit(change(updated))
        return updated
      }),

    softDelete: (ownerId, id) =>
      conn.write(scope, (emit) => {
        const row = conn.stmt<Row>(compiled.softDelete).get({ id, owner: ownerId, now: nowIso() })
        if (!row) throw shape.notFound()
        emit(change(toRecord(row)))
      }),
  }
}
