// The Store contract against PostgresStore through a real PgBouncer in transaction mode, in both
// styles users meet (helpers/pgbouncer.ts). The store is given the plain pooled URL, with no sign of
// a pooler in it and DATABASE_POOL_MODE left at auto: it must learn the pooler's ways from its errors
// (a refused startup parameter, a lost prepared statement) and behave exactly as on a direct connection.
import { afterAll, setDefaultTimeout } from 'bun:test'
import postgres from 'postgres'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { storeContract } from './store.contract.ts'
import { createTestDatabase, pgAvailable, requirePostgres, TEST_DATABASE_URL } from './helpers/pg.ts'
import { pgBouncerUnavailable, startPgBouncer, type PgBouncer, type PgBouncerStyle } from './helpers/pgbouncer.ts'
import { TABLES } from '../src/db/tables.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

const ok = requirePostgres(await pgAvailable(), 'PostgresStore contract through PgBouncer')
const noBouncer = pgBouncerUnavailable()
if (ok && noBouncer && process.env.REQUIRE_POSTGRES === '1') throw new Error(`PgBouncer contract: ${noBouncer}`)
if (ok && noBouncer) console.warn(`SKIPPED PostgresStore contract through PgBouncer: ${noBouncer}`)

/** every table a test writes: the replicated ones (src/db/tables.ts) and the replay's own */
const TRUNCATED = [...TABLES.map((t) => t.name), 'applied_ops', 'sync_conflicts']
const STYLES: PgBouncerStyle[] = ['refuses-startup-parameters', 'ignores-startup-parameters']

const db = ok && !noBouncer ? await createTestDatabase('pgb_contract') : null
const admin = db ? postgres(db.url, { max: 1, onnotice: () => {} }) : null
const bouncers: PgBouncer[] = []
afterAll(async () => {
  for (const b of bouncers) await b.stop()
  await admin?.end({ timeout: 1 })
  await db?.drop()
})

// without PostgreSQL or PgBouncer the suite is not defined at all: the lines above said why
if (db && admin) {
  const target = new URL(TEST_DATABASE_URL)
  for (const style of STYLES) {
    const bouncer = await startPgBouncer({ targetHost: target.hostname, targetPort: Number(target.port || 5432), style })
    bouncers.push(bouncer)
    storeContract({
      name: `PostgresStore through PgBouncer (transaction mode, ${style})`,
      open: async () => {
        const store = new PostgresStore({ url: bouncer.pooledUrl(db.url), poolSize: 5, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
        await store.migrate()
        await admin.unsafe(`truncate ${TRUNCATED.join(', ')}`)
        return store
      },
      close: (store) => store.close(),
    })
  }
}
