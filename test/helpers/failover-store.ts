// A FailoverStore for tests, wired as src/index.ts wires it but quiet: a silent logger, a probe only
// every minute unless the test says otherwise, the fallback file and the backups in the test's folder.
import { join } from 'node:path'
import pino from 'pino'
import { FailoverStore } from '../../src/db/failover-store.ts'
import { PostgresStore } from '../../src/db/postgres/postgres-store.ts'
import { SqliteStore } from '../../src/db/sqlite/sqlite-store.ts'
import { newId } from '../../src/db/store.ts'
import { createTestDatabase, type TestDatabase } from './pg.ts'

/** What a FailoverStore under test is given besides its databases and the primary's state. */
export const quietFailoverOptions = (dir: string) => ({
  fallbackPersistent: true,
  logger: pino({ level: 'silent' }),
  probeIntervalMs: 60_000,
  autoFailback: true,
  backup: { dir: join(dir, 'backups'), keep: 2 },
})

/** A fresh fallback file in `dir`. */
export const fallbackIn = (dir: string): SqliteStore => new SqliteStore({ path: join(dir, `${newId()}.db`), busyTimeoutS: 5 })

/** A FailoverStore over `primary` and `fallback` that starts in primary mode (not yet initialised); `options` override the quiet ones. */
export function primaryModeFailover(
  dir: string,
  primary: PostgresStore,
  fallback: SqliteStore,
  options: Partial<ConstructorParameters<typeof FailoverStore>[0]> = {},
): FailoverStore {
  return new FailoverStore({ ...quietFailoverOptions(dir), primary, primaryConfigured: true, primaryUp: true, primaryError: null, fallback, ...options })
}

export interface PrimaryModeStore {
  store: FailoverStore
  primary: PostgresStore
  fallback: SqliteStore
  db: TestDatabase
  /** closes the store and drops its database */
  close(): Promise<void>
}

/** A FailoverStore in primary mode on a fresh PostgreSQL test database, initialised. */
export async function failoverOnPostgres(dir: string, name: string): Promise<PrimaryModeStore> {
  const db = await createTestDatabase(name)
  const primary = new PostgresStore({ url: db.url, poolSize: 4, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
  const fallback = fallbackIn(dir)
  const store = primaryModeFailover(dir, primary, fallback)
  await store.init()
  return {
    store,
    primary,
    fallback,
    db,
    close: async () => {
      await store.close()
      await db.drop()
    },
  }
}
