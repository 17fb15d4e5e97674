// The registry a store replicates by (src/db/sync-tables.ts): made from the definitions the store is
// opened with, refusing an order the foreign keys would break, and naming a table it does not hold
// before the name reaches any SQL.
import { describe, expect, test } from 'bun:test'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FailoverStore } from '../src/db/failover-store.ts'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { isStoreError } from '../src/db/store.ts'
import { syncTables } from '../src/db/sync-tables.ts'
import { defineTable, insertOnly, TABLES } from '../src/db/tables.ts'
import { quietFailoverOptions } from './helpers/failover-store.ts'

const parents = defineTable({ name: 'parents', key: 'id', columns: { id: { kind: 'id' } }, merge: insertOnly })
const children = defineTable({
  name: 'children',
  key: 'id',
  columns: { id: { kind: 'id' }, parent_id: { kind: 'id', references: 'parents' } },
  merge: insertOnly,
})

describe('syncTables', () => {
  test('the names in the order given, each table with its codec and merge clause, rows keyed by their key', () => {
    const tables = syncTables([...TABLES, parents, children])
    expect(tables.names).toEqual([...TABLES.map((t) => t.name), 'parents', 'children'])
    expect(tables.of('children').codec.columns).toEqual(['id', 'parent_id'])
    expect(tables.of('children').mergeClause).toBe('ON CONFLICT (id) DO NOTHING')
    expect(tables.keyOf({ table: 'settings', row: { key: 'k', value: 'v' } })).toBe('k')
    expect(tables.keyOf({ table: 'children', row: { id: 'c1', parentId: 'p1' } })).toBe('c1')
  })

  test('a child before its parent, or two tables of one name, are refused when the store is opened', () => {
    expect(() => syncTables([children, parents])).toThrow('children.parent_id references parents, which does not come before it')
    expect(() => syncTables([parents, parents])).toThrow('two table definitions have the same name')
    expect(() => new SqliteStore({ path: ':memory:', busyTimeoutS: 1, tables: [children, parents] })).toThrow('not in foreign-key order')
  })

  test("a table the store was not opened with is StoreError('invalid'), and what a dialect prepares is looked up alike", () => {
    const tables = syncTables(TABLES)
    const invalid = (fn: () => unknown) => {
      try {
        fn()
      } catch (e) {
        return isStoreError(e, 'invalid') ? e.message : e
      }
      return 'no error'
    }
    expect(invalid(() => tables.of('bookmarks'))).toBe('this store does not replicate a table named "bookmarks"')
    expect(invalid(() => tables.keyOf({ table: 'users; drop table users', row: {} }))).toBe('this store does not replicate a table named "users; drop table users"')
    const prepared = tables.prepare((t) => `DELETE FROM ${t.definition.name}`)
    expect(prepared('notes')).toBe('DELETE FROM notes')
    expect(invalid(() => prepared('bookmarks'))).toBe('this store does not replicate a table named "bookmarks"')
  })

  test('SqliteStore exports only the tables it was opened with', async () => {
    const store = new SqliteStore({ path: ':memory:', busyTimeoutS: 1 })
    try {
      await store.migrate()
      expect(await store.exportRows('users', null, 10)).toEqual([])
      const refused = await store.exportRows('bookmarks', null, 10).catch((e: unknown) => e)
      expect(isStoreError(refused, 'invalid')).toBe(true)
    } finally {
      await store.close()
    }
  })

  test('a FailoverStore refuses a PostgreSQL and a SQLite store opened with different tables', async () => {
    // never connects: PostgresStore opens its pool on the first query
    const primary = new PostgresStore({ url: 'postgres://postgres@127.0.0.1:1/none', poolSize: 1, connectTimeoutS: 1, statementTimeoutMs: 1000, sslmode: 'disable' })
    const fallback = new SqliteStore({ path: ':memory:', busyTimeoutS: 1, tables: [...TABLES, parents] })
    try {
      const open = () =>
        new FailoverStore({ ...quietFailoverOptions(join(tmpdir(), 'sync-tables')), primary, primaryConfigured: true, primaryUp: true, primaryError: null, fallback })
      expect(open).toThrow('PostgreSQL and SQLite must be opened with the same tables')
    } finally {
      await primary.close()
      await fallback.close()
    }
  })
})
