// The table definitions (src/db/tables.ts) against the columns and foreign keys both databases really
// have after every migration: a migration and a definition cannot disagree unnoticed, and TABLES'
// order (the order of copies and replays) puts every table after the tables it references.
import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { SYNC_TABLES } from '../src/db/store.ts'
import { defineTable, misorderedReferences, TABLES, type ColumnKind, type TableDefinition } from '../src/db/tables.ts'
import { createTestDatabase, pgAvailable, requirePostgres } from './helpers/pg.ts'

setDefaultTimeout(60_000)

/** One column as a database has it, in the definition's terms. */
interface Found {
  type: string
  nullable: boolean
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
function expected(t: TableDefinition, types: Record<ColumnKind, string>): { columns: Record<string, Found>; references: string[] } {
  const columns = Object.fromEntries(Object.entries(t.columns).map(([name, c]) => [name, { type: types[c.kind], nullable: c.nullable === true }]))
  const references = Object.entries(t.columns).flatMap(([name, c]) => (c.references ? [`${name} → ${c.references}`] : []))
  return { columns, references: references.sort() }
}

describe('table definitions', () => {
  test('SYNC_TABLES is TABLES in order, and every table comes after the tables it references', () => {
    expect(SYNC_TABLES).toEqual(TABLES.map((t) => t.name))
    expect(misorderedReferences(TABLES)).toEqual([])
  })

  test('a child listed before its parent is named; a key that is no column is refused', () => {
    const parent = defineTable({ name: 'parents', key: 'id', columns: { id: { kind: 'id' } } })
    const child = defineTable({ name: 'children', key: 'id', columns: { id: { kind: 'id' }, parent_id: { kind: 'id', references: 'parents' } } })
    expect(misorderedReferences([parent, child])).toEqual([])
    expect(misorderedReferences([child, parent])).toEqual(['children.parent_id references parents, which does not come before it'])
    expect(() => defineTable({ name: 'broken', key: 'nope', columns: { id: { kind: 'id' } } })).toThrow('table broken: its key nope is not one of its columns')
  })
})

describe('SQLite after its migrations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schema-drift-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('each definition matches its table: columns, types, NULL, foreign keys', async () => {
    const path = join(dir, 'drift.db')
    const store = new SqliteStore({ path, busyTimeoutS: 5 })
    await store.migrate()
    await store.close()
    const db = new Database(path, { readonly: true })
    try {
      for (const t of TABLES) {
        const info = db.query(`pragma table_info(${t.name})`).all() as { name: string; type: string; notnull: number; pk: number }[]
        const columns = Object.fromEntries(info.map((c) => [c.name, { type: c.type, nullable: c.notnull === 0 && c.pk === 0 }]))
        const fks = db.query(`pragma foreign_key_list(${t.name})`).all() as { from: string; table: string }[]
        const want = expected(t, SQLITE_TYPE)
        expect({ table: t.name, columns, references: fks.map((f) => `${f.from} → ${f.table}`).sort() }).toEqual({ table: t.name, ...want })
      }
    } finally {
      db.close()
    }
  })
})

const pgUp = requirePostgres(await pgAvailable(), 'schema drift on PostgreSQL')

describe.skipIf(!pgUp)('PostgreSQL after its migrations', () => { // skipped only when PostgreSQL is unreachable and not required
  test('each definition matches its table: columns, types, NULL, foreign keys', async () => {
    const db = await createTestDatabase('schema_drift')
    const store = new PostgresStore({ url: db.url, poolSize: 1, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
    const sql = postgres(db.url, { max: 1, onnotice: () => {} })
    try {
      await store.migrate()
      for (const t of TABLES) {
        const info = await sql<{ column_name: string; data_type: string; is_nullable: string }[]>`
          select column_name, data_type, is_nullable from information_schema.columns
          where table_schema = current_schema() and table_name = ${t.name}`
        const columns = Object.fromEntries(info.map((c) => [c.column_name, { type: c.data_type, nullable: c.is_nullable === 'YES' }]))
        const fks = await sql<{ column_name: string; parent: string }[]>`
          select a.attname as column_name, c.confrelid::regclass::text as parent
          from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
          where c.contype = 'f' and c.conrelid = ${t.name}::regclass`
        const want = expected(t, PG_TYPE)
        expect({ table: t.name, columns, references: fks.map((f) => `${f.column_name} → ${f.parent}`).sort() }).toEqual({ table: t.name, ...want })
      }
    } finally {
      await sql.end({ timeout: 1 })
      await store.close()
      await db.drop()
    }
  })
})
