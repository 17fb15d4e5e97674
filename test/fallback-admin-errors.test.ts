// Issue 17, item 7: a primary that refuses its startup options (options=-c statement_timeout=abc,
// SQLSTATE 22023) made switch-to-primary and sync-to-primary answer 500. Every StoreError kind now has
// a deliberate status; here: 503 with the reason in words.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createApp } from '../src/app.ts'
import { resolveJwtSecret } from '../src/auth/jwt-secret.ts'
import { loadConfig } from '../src/config.ts'
import { FailoverStore } from '../src/db/failover-store.ts'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { StoreError, type StoreErrorKind } from '../src/db/store.ts'
import { seedAccounts } from '../src/seed.ts'
import { primaryErrorToAppError, storeErrorToAppError } from '../src/store-errors.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { ADMIN, call, login, TEST_ENV_DEFAULTS, withAdmin } from './helpers/test-app.ts'

describe('every StoreError kind has a deliberate status', () => {
  const kinds: StoreErrorKind[] = ['unavailable', 'conflict', 'not_found', 'invalid', 'too_many', 'too_large']
  test.each(kinds)('%s', (kind) => {
    const err = new StoreError(kind, 'because')
    for (const answer of [storeErrorToAppError(err), primaryErrorToAppError(err)]) {
      expect(answer.status).not.toBe(500)
      expect(answer.message).toContain('because')
    }
  })
  test('on the fallback admin routes a refusal by PostgreSQL is 503, not a fault of the request', () => {
    expect(primaryErrorToAppError(new StoreError('invalid', 'x')).status).toBe(503)
    expect(primaryErrorToAppError(new StoreError('unavailable', 'x')).status).toBe(503)
  })
})

const ok = requirePostgres(await pgAvailable(), 'fallback admin errors on PostgreSQL')

describe.skipIf(!ok)('fallback admin API with a primary that rejects its startup options', () => {
  let db: TestDatabase
  let store: FailoverStore
  let dir: string
  let app: ReturnType<typeof createApp>

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'admin-errors-'))
    db = await createTestDatabase('admin_errors')
    const url = new URL(db.url)
    url.searchParams.set('options', '-c statement_timeout=abc')
    const config = loadConfig({ env: { ...TEST_ENV_DEFAULTS, ...withAdmin() }, secretsPath: join(dir, 'none'), isTTY: false })
    const logger = pino({ level: 'silent' })
    const primary = new PostgresStore({ url: url.toString(), poolSize: 2, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
    store = new FailoverStore({
      primary,
      primaryConfigured: true,
      primaryUp: false,
      primaryError: 'refused at boot',
      fallback: new SqliteStore({ path: ':memory:', busyTimeoutS: 5 }),
      fallbackPersistent: false,
      logger,
      probeIntervalMs: 60_000,
      autoFailback: false,
      backup: { dir: join(dir, 'backups'), keep: 2 },
    })
    await store.init()
    await seedAccounts({ store, config, logger })
    const jwtSecret = await resolveJwtSecret({ store, config, logger })
    app = createApp({ config, logger, store, db: store, jwtSecret, startedAt: Date.now() })
  })
  afterAll(async () => {
    await store?.close()
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('switch-to-primary and sync-to-primary answer 503 with the reason in words', async () => {
    const admin = await login(app, ADMIN.email, ADMIN.password)
    // The login journaled writes for PostgreSQL: a replay has something to send.
    expect(store.status().outboxPending).toBeGreaterThan(0)
    for (const path of ['switch-to-primary', 'sync-to-primary']) {
      const res = await call(app, 'POST', `/api/v1/sqlite-fallback/${path}`, { token: admin.access })
      expect(res.status).toBe(503)
      expect(res.body.error.code).toBe('unavailable')
      expect(res.body.error.message).toContain('22023')
      expect(res.body.error.message).toMatch(/invalid value|options=/)
      expect(res.body.error.message).not.toContain('abc')
    }
    const probe = await call(app, 'POST', '/api/v1/sqlite-fallback/test', { token: admin.access })
    expect(probe.status).toBe(200)
    expect(probe.body.primary.ok).toBe(false)
    expect(probe.body.primary.error).toContain('22023')
    expect(store.status().mode).toBe('fallback')
  })
})
