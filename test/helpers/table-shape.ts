// A table as a database really has it (columns, their types, NULL, foreign keys) beside what its
// definition (src/db/tables.ts) says it should be, in the same terms: what the schema-drift checks
// compare, for the app's migrations and for the ones `bun run db new` writes.
import type { Database } from 'bun:sqlite'
import type postgres from 'postgres'
import type { ColumnKind, TableDefinition } from '../../src/db/tables.ts'

/** One column as a database has it, in the definition's terms. */
interface Found {
  type: string
  nullable: boolean
}

export interface TableShape {
  table: string
  columns: Record<string, Found>
  /** `column → parent table`, sorted */
  references: string[]
}

const PG_TYPE: Record<ColumnKind, string> = {
  id: 'uuid',
  text: 'text',
  boolean: 'boolean',
  integer: 'integer',
  timestamp: 'timestamp with time zone',
  json: 'jsonb',
}
const SQLITE_TYPE: Record<ColumnKind, string> = { id: 'TEXT', text: 'TEXT', boolean: 'INTEGER', integer: 'INTEGER', timestamp: 'TEXT', json: 'TEXT' }

/** What the definition says the database should have. */
export function expectedShape(t: TableDefinition, dialect: 'postgres' | 'sqlite'): TableShape {
  const types = dialect === 'postgres' ? PG_TYPE : SQLITE_TYPE
  const columns = Object.fromEntries(Object.entries(t.columns).map(([name, c]) => [name, { type: types[c.kind], nullable: c.nullable === true }]))
  const references = Object.entries(t.columns).flatMap(([name, c]) => (c.references ? [`${name} → ${c.references}`] : []))
  return { table: t.name, columns, references: references.sort() }
}

export function sqliteShape(db: Database, table: string): TableShape {
  const info = db.query(`pragma table_info(${table})`).all() as { name: string; type: string; notnull: number; pk: number }[]
  const columns = Object.fromEntries(info.map((c) => [c.name, { type: c.type, nullable: c.notnull === 0 && c.pk === 0 }]))
  const fks = db.query(`pragma foreign_key_list(${table})`).all() as { from: string; table: string }[]
  return { table, columns, references: fks.map((f) => `${f.from} → ${f.table}`).sort() }
}

export async function postgresShape(sql: postgres.Sql, table: string): Promise<TableShape> {
  const info = await sql<{ column_name: string; data_type: string; is_nullable: string }[]>`
    select column_name, data_type, is_nullable from information_schema.columns
    where table_schema = current_schema() and table_name = ${table}`
  const columns = Object.fromEntries(info.map((c) => [c.column_name, { type: c.data_type, nullable: c.is_nullable === 'YES' }]))
  const fks = await sql<{ column_name: string; parent: string }[]>`
    select a.attname as column_name, c.confrelid::regclass::text as parent
    from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
    where c.contype = 'f' and c.conrelid = ${table}::regclass`
  return { table, columns, references: fks.map((f) => `${f.column_name} → ${f.parent}`).sort() }
}

/** An index as a database has it (the primary key's left out), or as a definition declares it. */
export interface IndexShape {
  name: string
  /** `unique (a, b) where …` or `(a)`: what the index does, whatever its name */
  does: string
}

const does = (columns: readonly string[], unique: boolean, partial: boolean) =>
  `${unique ? 'unique ' : ''}(${columns.join(', ')})${partial ? ' where …' : ''}`
const byName = (a: IndexShape, b: IndexShape) => a.name.localeCompare(b.name)

export const expectedIndexes = (t: TableDefinition): IndexShape[] =>
  (t.indexes ?? []).map((i) => ({ name: i.name, does: does(i.columns, i.unique === true, i.where !== undefined) })).sort(byName)

export function sqliteIndexes(db: Database, table: string): IndexShape[] {
  const list = db.query(`pragma index_list(${table})`).all() as { name: string; unique: number; origin: string; partial: number }[]
  return list
    .filter((i) => i.origin !== 'pk')
    .map((i) => {
      const columns = (db.query(`pragma index_info(${i.name})`).all() as { seqno: number; name: string }[]).sort((a, b) => a.seqno - b.seqno)
      return { name: i.name, does: does(columns.map((c) => c.name), i.unique === 1, i.partial === 1) }
    })
    .sort(byName)
}

export async function postgresIndexes(sql: postgres.Sql, table: string): Promise<IndexShape[]> {
  const rows = await sql<{ name: string; columns: string[]; unique: boolean; partial: boolean }[]>`
    select i.relname as name, x.indisunique as unique, x.indpred is not null as partial,
           array_agg(a.attname order by k.n) as columns
    from pg_index x
    join pg_class i on i.oid = x.indexrelid
    cross join unnest(x.indkey) with ordinality as k(attnum, n)
    join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum
    where x.indrelid = ${table}::regclass and not x.indisprimary
    group by i.relname, x.indisunique, x.indpred`
  return rows.map((r) => ({ name: r.name, does: does(r.columns, r.unique, r.partial) })).sort(byName)
}
