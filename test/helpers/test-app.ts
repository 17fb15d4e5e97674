// An app around its own store, for route tests through app.request(): config from loadConfig({ env }),
// a logger writing into memory (so tests can read the log), SQLite in memory behind the FailoverStore,
// seeds applied and the JWT secret resolved — the same wiring as src/index.ts, without a socket.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hono } from 'hono'
import type { AppDeps, AppEnv } from '../../src/app-env.ts'
import { createApp } from '../../src/app.ts'
import { resolveJwtSecret } from '../../src/auth/jwt-secret.ts'
import { loadConfig } from '../../src/config.ts'
import type { Config } from '../../src/config-types.ts'
import { FailoverStore } from '../../src/db/failover-store.ts'
import { PostgresStore } from '../../src/db/postgres/postgres-store.ts'
import { SqliteStore } from '../../src/db/sqlite/sqlite-store.ts'
import { SYNC_TABLES, type ReplicableStore, type RowChange } from '../../src/db/store.ts'
import { createLogger } from '../../src/logger.ts'
import { seedAccounts, type SeedResult } from '../../src/seed.ts'
import { createTestDatabase, pgAvailable, requirePostgres } from './pg.ts'

export interface BuildOptions {
  env?: Record<string, string>
  /** true: a PostgresStore on a fresh database (dropped by close()) is the primary; default SQLite only */
  postgres?: boolean
}

export interface TestApp {
  app: Hono<AppEnv>
  /** what the app was built from, for what index.ts builds beside it (serverRoutes) */
  deps: AppDeps
  store: FailoverStore
  config: Config
  jwtSecret: string
  seeded: SeedResult
  /** every log line written so far (JSON strings) */
  logLines: string[]
  /** every row of every table of the database answering now, as one string: equal means nothing was written */
  snapshot(): Promise<string>
  close(): Promise<void>
}

/** Quick bcrypt, memory SQLite, no registration: tests override what they exercise. */
export const TEST_ENV_DEFAULTS: Record<string, string> = {
  BCRYPT_COST: '4',
  FALLBACK_DATABASE_URL: ':memory:',
  LOG_LEVEL: 'info',
}

export async function buildTestApp(opts: BuildOptions = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'test-app-'))
  const config = loadConfig({
    env: { ...TEST_ENV_DEFAULTS, ...opts.env },
    secretsPath: join(dir, 'no-secrets'),
    isTTY: false,
  })
  const logLines: string[] = []
  const logger = createLogger(config, { destination: { write: (line: string) => void logLines.push(line) } })
  const database = opts.postgres ? await createTestDatabase('app') : null
  const primary = database
    ? new PostgresStore({ url: database.url, poolSize: 4, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
    : null
  const sqlite = new SqliteStore({ path: ':memory:', busyTimeoutS: 5 })
  const store = new FailoverStore({
    primary,
    primaryConfigured: primary !== null,
    primaryUp: primary !== null,
    primaryError: null,
    fallback: sqlite,
    fallbackPersistent: false,
    logger,
    probeIntervalMs: 60_000,
    autoFailback: true,
    backup: { dir: join(dir, 'backups'), keep: 5 },
  })
  const dispose = async () => {
    await store.close()
    await database?.drop()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await store.init()
    if (primary && store.kind !== 'postgresql') throw new Error('the PostgreSQL test database did not become the primary')
    const seeded = await seedAccounts({ store, config, logger })
    const jwtSecret = await resolveJwtSecret({ store, config, logger })
    const deps: AppDeps = { config, logger, store, db: store, jwtSecret, startedAt: Date.now() }
    const app = createApp(deps)
    return {
      app,
      deps,
      store,
      config,
      jwtSecret,
      seeded,
      logLines,
      snapshot: () => snapshotOf(primary ?? sqlite),
      close: dispose,
    }
  } catch (e) {
    await dispose()
    throw e
  }
}

async function snapshotOf(store: ReplicableStore): Promise<string> {
  const rows: RowChange[] = []
  for (const table of SYNC_TABLES) {
    let after: string | null = null
    for (;;) {
      const page = await store.exportRows(table, after, 500)
      rows.push(...page)
      if (page.length < 500) break
      const last = page.at(-1)!
      after = last.table === 'settings' ? last.row.key : last.row.id
    }
  }
  return JSON.stringify(rows)
}

// ---- request helpers ----

export interface JsonResponse {
  status: number
  headers: Headers
  // Route bodies are checked field by field in the tests.
  body: any
}

export async function call(
  app: Hono<AppEnv>,
  method: string,
  path: string,
  opts: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`
  let body: string | undefined
  if (opts.raw !== undefined) body = opts.raw
  else if (opts.body !== undefined) body = JSON.stringify(opts.body)
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json'
  const res = await app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) })
  const text = await res.text()
  let parsed: unknown = text
  if (text) {
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON: the assertion shows the raw text
    }
  }
  return { status: res.status, headers: res.headers, body: parsed }
}

export interface LoggedIn {
  access: string
  refresh: string
  userId: string
}

export async function login(app: Hono<AppEnv>, email: string, password: string, headers?: Record<string, string>): Promise<LoggedIn> {
  const res = await call(app, 'POST', '/api/v1/auth/login', { body: { email, password }, ...(headers ? { headers } : {}) })
  if (res.status !== 200) throw new Error(`login of ${email} failed: ${res.status} ${JSON.stringify(res.body)}`)
  return { access: res.body.access_token, refresh: res.body.refresh_token, userId: res.body.user.id }
}

/** An admin creates a user and the user logs in. */
export async function createUser(
  app: Hono<AppEnv>,
  adminToken: string,
  input: { email: string; password: string; role?: 'admin' | 'user'; name?: string },
): Promise<LoggedIn> {
  const res = await call(app, 'POST', '/api/v1/admin/users', { token: adminToken, body: input })
  if (res.status !== 201) throw new Error(`creating ${input.email} failed: ${res.status} ${JSON.stringify(res.body)}`)
  return login(app, input.email, input.password)
}

export const ADMIN = { email: 'admin@example.test', password: 'admin-pass-123' }

/** Env with a seeded admin, for suites that need one. */
export const withAdmin = (env: Record<string, string> = {}): Record<string, string> => ({
  SEED_ADMIN_EMAIL: ADMIN.email,
  SEED_ADMIN_PASSWORD: ADMIN.password,
  ...env,
})

// ---- store variants: the same suite on SQLite and on PostgreSQL ----

export interface AppVariant {
  name: 'sqlite' | 'postgresql'
  build(env?: Record<string, string>): Promise<TestApp>
}

/**
 * SQLite always; PostgreSQL (the FailoverStore in primary mode) when TEST_DATABASE_URL answers. When it
 * does not: one loud line and SQLite only, or a failure under REQUIRE_POSTGRES=1.
 */
export async function appVariants(suite: string): Promise<AppVariant[]> {
  const variants: AppVariant[] = [{ name: 'sqlite', build: (env) => buildTestApp(env ? { env } : {}) }]
  if (requirePostgres(await pgAvailable(), `${suite} on PostgreSQL`)) {
    variants.push({ name: 'postgresql', build: (env) => buildTestApp({ ...(env ? { env } : {}), postgres: true }) })
  }
  return variants
}
