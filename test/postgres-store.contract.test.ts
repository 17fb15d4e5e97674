// The Store contract against PostgresStore. One fresh database for this file (dropped in afterAll);
// every test gets a new store on it with all tables emptied, which is what a fresh database would
// hold after migrate(), at a fraction of the cost of CREATE DATABASE per test.
import { afterAll, setDefaultTimeout } from 'bun:test'
import postgres from 'postgres'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { storeContract } from './store.contract.ts'
import { createTestDatabase, pgAvailable, requirePostgres } from './helpers/pg.ts'
import { TABLES } from '../src/db/tables.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

const ok = requirePostgres(await pgAvailable(), 'PostgresStore contract')
const db = ok ? await createTestDatabase('pg_contract') : null
const admin = db ? postgres(db.url, { max: 1, onnotice: () => {} }) : null
afterAll(async () => {
  await admin?.end({ timeout: 1 })
  await db?.drop()
})

/** every table a test writes: the replicated ones (src/db/tables.ts) and the replay's own */
const TRUNCATED = [...TABLES.map((t) => t.name), 'applied_ops', 'sync_conflicts']

// without PostgreSQL the suite is not defined at all: requirePostgres printed why (or threw)
if (db && admin) {
  storeContract({
    name: 'PostgresStore',
    open: async () => {
      const store = new PostgresStore({ url: db.url, poolSize: 5, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
      await store.migrate()
      await admin.unsafe(`truncate ${TRUNCATED.join(', ')}`)
      return store
    },
    close: (store) => store.close(),
  })
}
