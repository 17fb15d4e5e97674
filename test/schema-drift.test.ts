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
import { defineTable, insertOnly, lastWriterWins, misorderedReferences, TABLES, type TableDefinition } from '../src/db/tables.ts'
import { createTestDatabase, pgAvailable, requirePostgres } from './helpers/pg.ts'
import { expectedIndexes, expectedShape, postgresIndexes, postgresShape, sqliteIndexes, sqliteShape } from './helpers/table-shape.ts'

setDefaultTimeout(60_000)

describe('table definitions', () => {
  test('SYNC_TABLES is TABLES in order, and every table comes after the tables it references', () => {
    expect(SYNC_TABLES).toEqual(TABLES.map((t) => t.name))
    expect(misorderedReferences(TABLES)).toEqual([])
  })

  test('a child listed before its parent is named; a key that is no column is refused', () => {
    const parent = defineTable({ name: 'parents', key: 'id', columns: { id: { kind: 'id' } }, merge: insertOnly })
    const child = defineTable({
      name: 'children',
      key: 'id',
      columns: { id: { kind: 'id' }, parent_id: { kind: 'id', references: 'parents' } },
      merge: insertOnly,
    })
    expect(misorderedReferences([parent, child])).toEqual([])
    expect(misorderedReferences([child, parent])).toEqual(['children.parent_id references parents, which does not come before it'])
    expect(() => defineTable({ name: 'broken', key: 'nope', columns: { id: { kind: 'id' } }, merge: insertOnly })).toThrow(
      'table broken: its key nope is not one of its columns',
    )
  })

  test('a merge rule, secret columns and indexes are refused unless the columns they need are there', () => {
    const columns = {
      id: { kind: 'id' },
      secret: { kind: 'text' },
      gone_at: { kind: 'timestamp', nullable: true },
      updated_at: { kind: 'timestamp' },
      version: { kind: 'integer' },
    } as const
    const table = (more: Partial<TableDefinition>) => () => defineTable({ name: 't', key: 'id', columns, merge: lastWriterWins('gone_at'), ...more })
    expect(table({})).not.toThrow()
    expect(table({ columns: { id: { kind: 'id' }, version: { kind: 'integer' } } })).toThrow('table t: last-writer-wins needs the column updated_at')
    expect(table({ merge: lastWriterWins('updated_at') })).toThrow('table t: its tombstone updated_at is not one of its nullable timestamp columns')
    expect(table({ merge: lastWriterWins('deleted_at') })).toThrow('table t: its tombstone deleted_at is not one of its nullable timestamp columns')
    expect(table({ secret: ['password'] })).toThrow('table t: its secret column password is not one of its columns')
    expect(table({ indexes: [{ name: 't_x', columns: ['id', 'x'] }] })).toThrow('table t: index t_x is on x, which is not one of its columns')
  })
})

describe('SQLite after its migrations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schema-drift-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('each definition matches its table: columns, types, NULL, foreign keys, what its indexes do', async () => {
    const path = join(dir, 'drift.db')
    const store = new SqliteStore({ path, busyTimeoutS: 5 })
    await store.migrate()
    await store.close()
    const db = new Database(path, { readonly: true })
    try {
      for (const t of TABLES) {
        expect(sqliteShape(db, t.name)).toEqual(expectedShape(t, 'sqlite'))
        expect(sqliteIndexes(db, t.name)).toEqual(expectedIndexes(t))
      }
    } finally {
      db.close()
    }
  })
})

const pgUp = requirePostgres(await pgAvailable(), 'schema drift on PostgreSQL')

describe.skipIf(!pgUp)('PostgreSQL after its migrations', () => { // skipped only when PostgreSQL is unreachable and not required
  test('each definition matches its table: columns, types, NULL, foreign keys, what its indexes do', async () => {
    const db = await createTestDatabase('schema_drift')
    const store = new PostgresStore({ url: db.url, poolSize: 1, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
    const sql = postgres(db.url, { max: 1, onnotice: () => {} })
    try {
      await store.migrate()
      for (const t of TABLES) {
        expect(await postgresShape(sql, t.name)).toEqual(expectedShape(t, 'postgres'))
        // by what they do: 0001_init.sql names two of them otherwise (notes_owner_id_id, sessions_token_hash_key)
        expect((await postgresIndexes(sql, t.name)).map((i) => i.does).sort()).toEqual(expectedIndexes(t).map((i) => i.does).sort())
      }
    } finally {
      await sql.end({ timeout: 1 })
      await store.close()
      await db.drop()
    }
  })
})
