// Rows ↔ records, for both dialects, made once per table from its definition (tables.ts): snake_case
// columns ↔ camelCase records (store.ts). SQLite holds booleans as INTEGER 0/1 and JSON as text;
// PostgreSQL (postgres.js) gives timestamptz as Date, jsonb parsed, booleans as booleans, and in
// jsonb_agg/to_jsonb rows timestamps as text. Records always hold timestamps as ISO-8601 UTC strings
// with milliseconds, the very value the application made (store.ts).
//
// These run on every row of every request: each mapper is built once per table and column list (see
// copyStep), with a conversion only where a kind needs one.
import type { RowChange, SyncTable } from './store.ts'
import { fieldOf, TABLES, type ColumnKind, type TableDefinition } from './tables.ts'

/** SQLite statement parameters (bun:sqlite, strict: `$name` in the SQL, `name` here) */
export type Params = Record<string, string | number | null>

type Nullable<C, T> = C extends { nullable: true } ? T | null : T
type SqliteValue<K extends ColumnKind> = K extends 'boolean' | 'integer' ? number : string
type PostgresValue<K extends ColumnKind> = K extends 'timestamp'
  ? Date
  : K extends 'boolean'
    ? boolean
    : K extends 'integer'
      ? number
      : K extends 'json'
        ? Record<string, unknown>
        : string

/** A row of `T` as bun:sqlite returns it. */
export type SqliteRow<T extends TableDefinition> = {
  [C in keyof T['columns']]: Nullable<T['columns'][C], SqliteValue<T['columns'][C]['kind']>>
}
/** A row of `T` as postgres.js returns it. */
export type PostgresRow<T extends TableDefinition> = {
  [C in keyof T['columns']]: Nullable<T['columns'][C], PostgresValue<T['columns'][C]['kind']>>
}

/** The record type of a replicated table (store.ts). */
export type RecordOf<Name extends SyncTable> = Extract<RowChange, { table: Name }>['row']

export interface Codec<R extends object> {
  readonly table: TableDefinition
  /** every column in the definition's order, derived ones included */
  readonly columns: readonly string[]
  /** the columns a record is read from: all but the derived ones */
  readonly readColumns: readonly string[]
  /** the primary key's column */
  readonly key: string
  /** the record's fields of the secret columns, which conflict listings mask */
  readonly secretFields: readonly string[]
  /** the value of the key column */
  keyOf(record: R): string
  /** SQLite: `INSERT INTO <into> (columns) VALUES ($columns)`, for toSqlite's params; `into` defaults to the table */
  insertSql(into?: string): string
  fromSqlite(row: object): R
  toSqlite(record: R): Params
  fromPostgres(row: object): R
  /** column values for postgres.js's `sql(object)`; ISO strings go into timestamptz(3) without loss */
  toPostgres(record: R): Record<string, unknown>
  /** a row of PostgreSQL's `to_jsonb(row)` / `jsonb_agg` */
  fromJson(row: object): R
  /** fromPostgres of a row whose columns are named `<prefix><column>` (a joined table's, beside another row) */
  fromPostgresPrefixed(prefix: string): (row: object) => R
}

type Convert = (value: any) => unknown

const isoOfDate: Convert = (d: Date | null) => (d === null ? null : d.toISOString())
// PostgreSQL's text form has an offset (`…05.678+00:00`) and leaves out a zero fraction
const isoOfText: Convert = (t: string | null) => (t === null ? null : new Date(t).toISOString())

const FROM_SQLITE: Partial<Record<ColumnKind, Convert>> = {
  boolean: (v: number) => v === 1,
  json: (v: string | null) => (v === null ? null : JSON.parse(v)),
}
const TO_SQLITE: Partial<Record<ColumnKind, Convert>> = {
  boolean: (v: boolean) => (v ? 1 : 0),
  json: (v: unknown) => (v === null ? null : JSON.stringify(v)),
}
const FROM_POSTGRES: Partial<Record<ColumnKind, Convert>> = { timestamp: isoOfDate }
const FROM_JSON: Partial<Record<ColumnKind, Convert>> = { timestamp: isoOfText }

/** what one mapper copies: `from[i]` of the input, converted by `convert[i]` (null: as it is), into `to[i]` */
interface Copy {
  from: string[]
  to: string[]
  convert: (Convert | null)[]
}

type Row = Record<string, unknown>
type Twelve<T> = [T, T, T, T, T, T, T, T, T, T, T, T]
const WIDTH = 12

/**
 * Copies the first WIDTH columns with a statement each, the rest by a step of its own. Not a loop: a
 * statement's property access learns the few names it sees (one per table), where a loop's single
 * access would see every column and stay slow; and a column that needs no conversion calls nothing.
 * Measured (bun:sqlite rows, every table's mappers in use): several times faster per row than a loop
 * over the columns, and some tens of ns slower than the hand-written mappers it replaces.
 */
function copyStep({ from, to, convert }: Copy): (input: Row, out: Row) => Row {
  const n = Math.min(from.length, WIDTH)
  const rest = from.length > WIDTH ? copyStep({ from: from.slice(WIDTH), to: to.slice(WIDTH), convert: convert.slice(WIDTH) }) : null
  const f = Array.from({ length: WIDTH }, (_, i) => from[i] ?? '') as Twelve<string>
  const t = Array.from({ length: WIDTH }, (_, i) => to[i] ?? '') as Twelve<string>
  const c = Array.from({ length: WIDTH }, (_, i) => convert[i] ?? null) as Twelve<Convert | null>
  return (input, out) => {
    out[t[0]] = c[0] === null ? input[f[0]] : c[0](input[f[0]])
    if (n === 1) return out
    out[t[1]] = c[1] === null ? input[f[1]] : c[1](input[f[1]])
    if (n === 2) return out
    out[t[2]] = c[2] === null ? input[f[2]] : c[2](input[f[2]])
    if (n === 3) return out
    out[t[3]] = c[3] === null ? input[f[3]] : c[3](input[f[3]])
    if (n === 4) return out
    out[t[4]] = c[4] === null ? input[f[4]] : c[4](input[f[4]])
    if (n === 5) return out
    out[t[5]] = c[5] === null ? input[f[5]] : c[5](input[f[5]])
    if (n === 6) return out
    out[t[6]] = c[6] === null ? input[f[6]] : c[6](input[f[6]])
    if (n === 7) return out
    out[t[7]] = c[7] === null ? input[f[7]] : c[7](input[f[7]])
    if (n === 8) return out
    out[t[8]] = c[8] === null ? input[f[8]] : c[8](input[f[8]])
    if (n === 9) return out
    out[t[9]] = c[9] === null ? input[f[9]] : c[9](input[f[9]])
    if (n === 10) return out
    out[t[10]] = c[10] === null ? input[f[10]] : c[10](input[f[10]])
    if (n === 11) return out
    out[t[11]] = c[11] === null ? input[f[11]] : c[11](input[f[11]])
    return rest === null ? out : rest(input, out)
  }
}

function copier<Out>(copy: Copy): (input: object) => Out {
  const step = copyStep(copy)
  return (input) => step(input as Row, {}) as Out
}

interface Derivation {
  column: string
  /** the record's fields it is made of */
  fields: string[]
  make: (values: readonly unknown[]) => unknown
}

/** a record → row mapper that also fills each derived column */
function withDerived<Out>(copy: (record: object) => Out, derivations: Derivation[]): (record: object) => Out {
  if (derivations.length === 0) return copy
  return (record) => {
    const out = copy(record) as Row
    const source = record as Row
    for (const d of derivations) out[d.column] = d.make(d.fields.map((f) => source[f]))
    return out as Out
  }
}

function buildCodec<R extends object>(table: TableDefinition): Codec<R> {
  const derived = table.derived ?? {}
  const columns = Object.keys(table.columns)
  const fieldOfColumn = Object.fromEntries(Object.entries(table.columns).map(([name, c]) => [name, fieldOf(name, c)]))
  const stored = Object.entries(table.columns).filter(([name]) => !(name in derived))
  const names = stored.map(([name]) => name)
  const fields = names.map((name) => fieldOfColumn[name]!)
  const converting = (conversions: Partial<Record<ColumnKind, Convert>>) => stored.map(([, c]) => conversions[c.kind] ?? null)
  const derivations = Object.entries(derived).map(([column, d]) => ({ column, fields: d.from.map((c) => fieldOfColumn[c]!), make: d.make }))

  const reader = (conversions: Partial<Record<ColumnKind, Convert>>, prefix = '') =>
    copier<R>({ from: names.map((name) => prefix + name), to: fields, convert: converting(conversions) })
  const writer = <Out>(conversions: Partial<Record<ColumnKind, Convert>>) =>
    withDerived(copier<Out>({ from: fields, to: names, convert: converting(conversions) }), derivations)

  const keyField = fieldOfColumn[table.key]!
  const insertInto = (into: string) => `INSERT INTO ${into} (${columns.join(', ')}) VALUES (${columns.map((c) => `$${c}`).join(', ')})`
  const insert = insertInto(table.name)

  return {
    table,
    columns,
    readColumns: names,
    key: table.key,
    secretFields: (table.secret ?? []).map((c) => fieldOfColumn[c]!),
    keyOf: (record) => (record as Record<string, string>)[keyField]!,
    insertSql: (into) => (into === undefined ? insert : insertInto(into)),
    fromSqlite: reader(FROM_SQLITE),
    toSqlite: writer<Params>(TO_SQLITE),
    fromPostgres: reader(FROM_POSTGRES),
    toPostgres: writer<Row>({}),
    fromJson: reader(FROM_JSON),
    fromPostgresPrefixed: (prefix) => reader(FROM_POSTGRES, prefix),
  }
}

const built = new WeakMap<TableDefinition, Codec<object>>()

/** The codec of `table`, built on first use. */
export function codecOf<Name extends SyncTable>(table: TableDefinition<Name>): Codec<RecordOf<Name>>
export function codecOf<R extends object>(table: TableDefinition): Codec<R>
export function codecOf(table: TableDefinition): Codec<object> {
  let codec = built.get(table)
  if (!codec) built.set(table, (codec = buildCodec(table)))
  return codec
}

/**
 * The built-in tables' codecs, by name, for the hand-written repositories of those tables. Code that
 * moves rows of any table gets its codecs from the store's tables instead (sync-tables.ts).
 */
export const CODECS = Object.fromEntries(TABLES.map((t) => [t.name, codecOf(t)])) as { [Name in SyncTable]: Codec<RecordOf<Name>> }
