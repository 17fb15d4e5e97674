// The Store contract against FailoverStore in each mode: primary (PostgreSQL answers, every write
// mirrored into SQLite) and fallback (SQLite answers, every write journaled for replay). In primary
// mode each test also proves the mirror: afterwards SQLite holds exactly PostgreSQL's rows.
import { afterAll, expect } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { FailoverStore } from '../src/db/failover-store.ts'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { newId, SYNC_TABLES, type RowChange, type Store } from '../src/db/store.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { storeContract } from './store.contract.ts'

const dir = mkdtempSync(join(tmpdir(), 'failover-contract-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const logger = pino({ level: 'silent' })

const options = (fallback: SqliteStore) => ({
  fallback,
  fallbackPersistent: true,
  logger,
  probeIntervalMs: 60_000,
  autoFailback: true,
  backup: { dir: join(dir, 'backups'), keep: 2 },
})

async function allRows(store: PostgresStore | SqliteStore): Promise<RowChange[]> {
  const rows: RowChange[] = []
  for (const table of SYNC_TABLES) rows.push(...(await store.exportRows(table, null, 100_000)))
  return rows
}

storeContract({
  name: 'FailoverStore (fallback mode)',
  replicable: false,
  open: async () => {
    const fallback = new SqliteStore({ path: join(dir, `${newId()}.db`), busyTimeoutS: 5 })
    const store = new FailoverStore({ ...options(fallback), primary: null, primaryConfigured: true, primaryUp: false, primaryError: 'down for the test' })
    await store.init()
    return store
  },
  close: (store) => store.close(),
})

const ok = requirePostgres(await pgAvailable(), 'FailoverStore (primary mode) contract')
if (ok) {
  const parts = new Map<Store, { primary: PostgresStore; fallback: SqliteStore; db: TestDatabase }>()
  storeContract({
    name: 'FailoverStore (primary mode)',
    replicable: false,
    open: async () => {
      const db = await createTestDatabase('failover_contract')
      const primary = new PostgresStore({ url: db.url, poolSize: 4, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
      const fallback = new SqliteStore({ path: join(dir, `${newId()}.db`), busyTimeoutS: 5 })
      const store = new FailoverStore({ ...options(fallback), primary, primaryConfigured: true, primaryUp: true, primaryError: null })
      await store.init()
      expect(store.status().mode).toBe('primary')
      parts.set(store, { primary, fallback, db })
      return store
    },
    close: async (store) => {
      const { primary, fallback, db } = parts.get(store)!
      parts.delete(store)
      try {
        expect((store as FailoverStore).status().mode).toBe('primary')
        await (store as FailoverStore).mirrored()
        expect(await allRows(fallback)).toEqual(await allRows(primary))
      } finally {
        await store.close()
        await db.drop()
      }
    },
  })
}
