// The Store contract against FailoverStore in each mode: primary (PostgreSQL answers, every write
// mirrored into SQLite) and fallback (SQLite answers, every write journaled for replay). In primary
// mode each test also proves the mirror: afterwards SQLite holds exactly PostgreSQL's rows.
import { afterAll, expect, setDefaultTimeout } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FailoverStore } from '../src/db/failover-store.ts'
import type { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import type { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { SYNC_TABLES, type RowChange, type Store } from '../src/db/store.ts'
import { fallbackIn, failoverOnPostgres, quietFailoverOptions, type PrimaryModeStore } from './helpers/failover-store.ts'
import { pgAvailable, requirePostgres } from './helpers/pg.ts'
import { storeContract } from './store.contract.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

const dir = mkdtempSync(join(tmpdir(), 'failover-contract-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function allRows(store: PostgresStore | SqliteStore): Promise<RowChange[]> {
  const rows: RowChange[] = []
  for (const table of SYNC_TABLES) rows.push(...(await store.exportRows(table, null, 100_000)))
  return rows
}

storeContract({
  name: 'FailoverStore (fallback mode)',
  replicable: false,
  open: async () => {
    const store = new FailoverStore({ ...quietFailoverOptions(dir), fallback: fallbackIn(dir), primary: null, primaryConfigured: true, primaryUp: false, primaryError: 'down for the test' })
    await store.init()
    return store
  },
  close: (store) => store.close(),
})

const ok = requirePostgres(await pgAvailable(), 'FailoverStore (primary mode) contract')
if (ok) {
  const parts = new Map<Store, PrimaryModeStore>()
  storeContract({
    name: 'FailoverStore (primary mode)',
    replicable: false,
    open: async () => {
      const opened = await failoverOnPostgres(dir, 'failover_contract')
      expect(opened.store.status().mode).toBe('primary')
      parts.set(opened.store, opened)
      return opened.store
    },
    close: async (store) => {
      const opened = parts.get(store)!
      parts.delete(store)
      try {
        expect(opened.store.status().mode).toBe('primary')
        await opened.store.mirrored()
        expect(await allRows(opened.fallback)).toEqual(await allRows(opened.primary))
      } finally {
        await opened.close()
      }
    },
  })
}
