// /health, /health/live, /health/ready and /config/database: the report's rules (pure), the real
// process on SQLite only, and the real process on PostgreSQL through a fault proxy.
import { afterAll, describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { join } from 'node:path'
import { loadConfig } from '../src/config.ts'
import type { RuntimeStatus } from '../src/db/runtime.ts'
import { createApp, serverRoutes } from '../src/app.ts'
import type { FailoverStore } from '../src/db/failover-store.ts'
import { healthBodies, healthReport } from '../src/routes/health.ts'
import type { ReplicaStatus } from '../src/db/replica/replicator.ts'
import type { AppDeps } from '../src/app-env.ts'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { getJson, ServerHarness } from './helpers/spawn-server.ts'
import { buildTestApp, type TestApp } from './helpers/test-app.ts'

const h = new ServerHarness()
const proxies: FaultProxy[] = []
const databases: TestDatabase[] = []
const CASE_TIMEOUT_MS = 30_000

afterAll(async () => {
  await h.cleanup()
  for (const p of proxies) await p.close()
  for (const db of databases) await db.drop()
})

const ADMIN = { email: 'admin@example.com', password: 'Admin-pw-4f9c2e81' }
const USER = { email: 'user@example.com', password: 'User-pw-b2d7a610' }
const DB_PASSWORD = 'Db-pw-never-shown-91ac'
const SEED_ENV = {
  BCRYPT_COST: '4',
  SEED_ADMIN_EMAIL: ADMIN.email,
  SEED_ADMIN_PASSWORD: ADMIN.password,
  SEED_USERS: JSON.stringify([{ email: USER.email, password: USER.password, role: 'user' }]),
}

const HEALTH_KEYS = [
  'status', 'timestamp', 'database_status', 'database_type', 'fallback_active', 'fallback_persistent', 'mode',
  'primary', 'outbox_pending', 'replica', 'uptime_s', 'version', 'warnings',
].sort()

async function login(baseUrl: string, who: { email: string; password: string }): Promise<string> {
  const { status, body } = await getJson(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(who),
  })
  expect(status).toBe(200)
  return body.access_token as string
}

// ---- the report's rules ----

describe('healthReport', () => {
  const config = loadConfig({ env: { FALLBACK_DATABASE_URL: 'sqlite:///./data/app.db' }, secretsPath: '/nonexistent/secret', isTTY: false })
  const memoryConfig = loadConfig({ env: { FALLBACK_DATABASE_URL: ':memory:' }, secretsPath: '/nonexistent/secret', isTTY: false })
  const startedAt = Date.parse('2026-01-01T00:00:00.000Z')
  const now = startedAt + 61_500

  const status = (over: Partial<RuntimeStatus> = {}, primary: Partial<RuntimeStatus['primary']> = {}, fallback: Partial<RuntimeStatus['fallback']> = {}): RuntimeStatus => ({
    mode: 'primary',
    activeKind: 'postgresql',
    fallbackActive: false,
    outboxPending: 0,
    pinnedToFallback: false,
    lastFailoverAt: null,
    lastRecoveryAt: null,
    ...over,
    primary: { configured: true, status: 'up', lastError: null, lastProbeAt: null, idle: false, checkedAt: null, pooler: [], ...primary },
    fallback: { ok: true, path: '/data/app.db', persistent: true, journalMode: 'wal', ...fallback },
  })

  test('primary up: healthy, on PostgreSQL, the exact fields', () => {
    const r = healthReport(status(), { config, startedAt, now })
    expect(Object.keys(r).sort()).toEqual(HEALTH_KEYS)
    expect(r).toMatchObject({
      status: 'healthy', database_status: 'connected', database_type: 'postgresql', fallback_active: false,
      mode: 'primary', primary: { configured: true, status: 'up' }, outbox_pending: 0, uptime_s: 61, warnings: [],
      timestamp: new Date(now).toISOString(), version: config.version,
      replica: { configured: false, target: null, lag_ms: null, last_upload_at: null, pending_segments: 0, last_error: null },
    })
  })

  test('a replica: its state, its error as a warning, and how far behind it is once that exceeds 10 intervals', () => {
    const withReplica = loadConfig({ env: { FALLBACK_DATABASE_URL: 'sqlite:///./data/app.db', REPLICA_URL: 'file:///data/replica', REPLICA_INTERVAL_MS: '100' }, secretsPath: '/nonexistent/secret', isTTY: false })
    const replica = (lag: number) => ({
      configured: true as const, target: 'file:///data/replica', sync: false, generation: null, lag_ms: lag, last_upload_at: null,
      last_snapshot_at: null, pending_segments: 1, pending_changes: 3, last_error: 'storing x failed: ENOSPC',
    })
    const s = status({ mode: 'fallback', activeKind: 'sqlite', fallbackActive: true }, { configured: false, status: 'unconfigured' })
    const calm = healthReport(s, { config: withReplica, startedAt, now, replica: replica(1000) })
    expect(calm.replica).toEqual({ configured: true, target: 'file:///data/replica', lag_ms: 1000, last_upload_at: null, pending_segments: 1, last_error: 'storing x failed: ENOSPC' })
    expect(calm.warnings).toEqual(['the replica cannot be written: storing x failed: ENOSPC'])
    const behind = healthReport(s, { config: withReplica, startedAt, now, replica: replica(1001) })
    expect(behind.warnings.join('\n')).toMatch(/the replica is 1 s behind.*ENOSPC/)
  })

  test('no primary configured: SQLite is the database, healthy', () => {
    const r = healthReport(status({ mode: 'fallback', activeKind: 'sqlite', fallbackActive: true }, { configured: false, status: 'unconfigured' }), { config, startedAt, now })
    expect(r).toMatchObject({ status: 'healthy', database_type: 'sqlite', fallback_active: true, primary: { configured: false, status: 'unconfigured' }, warnings: [] })
  })

  test('primary configured but down, serving from SQLite: degraded, still connected', () => {
    const r = healthReport(status({ mode: 'fallback', activeKind: 'sqlite', fallbackActive: true, outboxPending: 3 }, { status: 'down' }), { config, startedAt, now })
    expect(r).toMatchObject({ status: 'degraded', database_status: 'connected', database_type: 'sqlite', fallback_active: true, outbox_pending: 3 })
    expect(r.warnings.join('\n')).toMatch(/unreachable/)
    expect(r.warnings.join('\n')).toMatch(/3 write/)
  })

  test('a failed probe before the failover: degraded and disconnected', () => {
    const r = healthReport(status({}, { status: 'down' }), { config, startedAt, now })
    expect(r).toMatchObject({ status: 'degraded', database_status: 'disconnected', database_type: 'postgresql' })
  })

  test('pinned to the fallback while the primary is up: degraded, with the reason', () => {
    const r = healthReport(status({ mode: 'fallback', activeKind: 'sqlite', fallbackActive: true, pinnedToFallback: true }), { config, startedAt, now })
    expect(r.status).toBe('degraded')
    expect(r.warnings.join('\n')).toMatch(/pinned/)
  })

  test('an in-memory stand-in for an unwritable file: degraded, and says nothing persists', () => {
    const r = healthReport(status({ mode: 'fallback', activeKind: 'sqlite', fallbackActive: true }, { configured: false, status: 'unconfigured' }, { persistent: false, path: ':memory:' }), { config, startedAt, now })
    expect(r.status).toBe('degraded')
    expect(r.fallback_persistent).toBe(false)
    expect(r.warnings.join('\n')).toMatch(/NOTHING .*persist/)
  })

  test('in memory because the operator asked for it: healthy, with a plain warning', () => {
    const r = healthReport(status({ mode: 'fallback', activeKind: 'sqlite', fallbackActive: true }, { configured: false, status: 'unconfigured' }, { persistent: false, path: ':memory:' }), { config: memoryConfig, startedAt, now })
    expect(r.status).toBe('healthy')
    expect(r.warnings.join('\n')).toMatch(/in memory/)
  })

  test('no store can serve: unhealthy', () => {
    const r = healthReport(status({ mode: 'fallback', activeKind: 'sqlite', fallbackActive: true }, { status: 'down' }, { ok: false }), { config, startedAt, now })
    expect(r.status).toBe('unhealthy')
    expect(r.database_status).toBe('disconnected')
  })
})

// ---- the fast route's kept body: always what a fresh report would say ----

describe('healthBodies', () => {
  const config = loadConfig({ env: { FALLBACK_DATABASE_URL: 'sqlite:///./data/app.db', REPLICA_URL: 'file:///data/replica', REPLICA_INTERVAL_MS: '100' }, secretsPath: '/nonexistent/secret', isTTY: false })
  const startedAt = Date.parse('2026-01-01T00:00:00.000Z')
  const iso = fc.integer({ min: startedAt, max: startedAt + 10 * 86_400_000 }).map((t) => new Date(t).toISOString())
  const text = fc.oneof(fc.constant(null), fc.string({ maxLength: 40 }), fc.constantFrom('"uptime_s":1,', ',"uptime_s":7,', '"timestamp":"x"', '\\"'))
  const runtime: fc.Arbitrary<RuntimeStatus> = fc.record({
    mode: fc.constantFrom('primary', 'fallback', 'recovering'),
    activeKind: fc.constantFrom('postgresql', 'sqlite'),
    fallbackActive: fc.boolean(),
    outboxPending: fc.nat(5),
    pinnedToFallback: fc.boolean(),
    lastFailoverAt: fc.option(iso),
    lastRecoveryAt: fc.option(iso),
    primary: fc.record({
      configured: fc.boolean(),
      status: fc.constantFrom('up', 'down', 'unconfigured'),
      lastError: text,
      lastProbeAt: fc.option(iso),
      idle: fc.boolean(),
      checkedAt: fc.option(iso),
      pooler: fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }),
    }),
    fallback: fc.record({ ok: fc.boolean(), path: fc.constantFrom('/data/app.db', ':memory:'), persistent: fc.boolean(), journalMode: fc.constantFrom('wal', 'memory') }),
  })
  const replicaStatus: fc.Arbitrary<ReplicaStatus> = fc.record({
    configured: fc.constant(true as const), target: fc.constantFrom('file:///data/replica', 's3://b/p'), sync: fc.boolean(), generation: fc.option(fc.string({ maxLength: 8 })),
    lag_ms: fc.nat(3_000), last_upload_at: fc.option(iso), last_snapshot_at: fc.option(iso), pending_segments: fc.nat(3), pending_changes: fc.nat(9), last_error: text,
  })
  // A change of the state: all of it, or one field only (taken from another random state), so that a
  // field the kept body's comparison left out would be caught. The fields are those of a generated
  // status: fc.record above must produce every field of the types (tsc checks), so a field added to
  // RuntimeStatus or ReplicaStatus is changed on its own here too.
  const fieldPaths = (sample: object): string[][] =>
    Object.entries(sample).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v).map((leaf) => [k, leaf]) : [[k]]))
  const STATUS_PATHS = fieldPaths(fc.sample(runtime, 1)[0]!)
  const REPLICA_PATHS = fieldPaths(fc.sample(replicaStatus, 1)[0]!)
  type Change<T> = { whole: boolean; from: T; path: string[] }
  const change = <T extends object>(arb: fc.Arbitrary<T>, paths: string[][]): fc.Arbitrary<Change<T>> =>
    fc.record({ whole: fc.boolean(), from: arb, path: fc.constantFrom(...paths) })
  function applied<T extends object>(current: T, c: Change<T>): T {
    if (c.whole) return c.from
    const next = structuredClone(current) as Record<string, unknown>
    const [head, leaf] = c.path as [string, string | undefined]
    if (leaf === undefined) next[head] = (c.from as Record<string, unknown>)[head]
    else (next[head] as Record<string, unknown>)[leaf] = ((c.from as Record<string, Record<string, unknown>>)[head]!)[leaf]
    return next as T
  }
  // one step: the state may change (or stay), the clock moves by 0 ms, a little, or past a second
  const step = fc.record({
    status: fc.option(change(runtime, STATUS_PATHS), { freq: 2 }),
    replica: fc.option(change(replicaStatus, REPLICA_PATHS), { freq: 2 }),
    advanceMs: fc.oneof(fc.constant(0), fc.nat(3), fc.nat(5_000)),
  })

  test('after any sequence of state changes and clock moves, the body is JSON.stringify(healthReport(...)) of that moment', () => {
    fc.assert(
      fc.property(runtime, fc.option(replicaStatus), fc.nat(100_000_000), fc.array(step, { minLength: 1, maxLength: 30 }), (first, firstReplica, offset, steps) => {
        // both are handed out as fresh objects, as FailoverStore.status() and Replicator.status() do
        let current = first
        let currentReplica = firstReplica
        const db = { status: () => structuredClone(current) } as unknown as FailoverStore
        const replica = firstReplica === null ? null : ({ status: () => ({ ...currentReplica! }) } as unknown as NonNullable<AppDeps['replica']>)
        const bodyAt = healthBodies({ db, config, startedAt, replica })
        let now = startedAt + offset
        for (const s of [{ status: null, replica: null, advanceMs: 0 }, ...steps]) {
          if (s.status) current = applied(current, s.status)
          if (s.replica && replica) currentReplica = applied(currentReplica!, s.replica)
          now += s.advanceMs
          const expected = healthReport(structuredClone(current), { config, startedAt, now, replica: currentReplica })
          const { body, status } = bodyAt(now)
          expect(body).toBe(JSON.stringify(expected))
          expect(status).toBe(expected.status === 'unhealthy' ? 503 : 200)
        }
      }),
      { numRuns: 500 },
    )
  })

  test('a state that changes within the same millisecond is reported at once', () => {
    const base = { mode: 'primary', activeKind: 'postgresql', fallbackActive: false, outboxPending: 0, pinnedToFallback: false, lastFailoverAt: null, lastRecoveryAt: null } as const
    let current: RuntimeStatus = { ...base, primary: { configured: true, status: 'up', lastError: null, lastProbeAt: null, idle: false, checkedAt: null, pooler: [] }, fallback: { ok: true, path: '/data/app.db', persistent: true, journalMode: 'wal' } }
    const db = { status: () => structuredClone(current) } as unknown as FailoverStore
    const bodyAt = healthBodies({ db, config, startedAt, replica: null })
    const now = startedAt + 1234
    expect(JSON.parse(bodyAt(now).body)).toMatchObject({ status: 'healthy', mode: 'primary', outbox_pending: 0 })
    current = { ...current, mode: 'fallback', activeKind: 'sqlite', fallbackActive: true, outboxPending: 2, primary: { ...current.primary, status: 'down' } }
    expect(JSON.parse(bodyAt(now).body)).toMatchObject({ status: 'degraded', mode: 'fallback', database_type: 'sqlite', outbox_pending: 2, primary: { status: 'down' } })
    current = { ...current, fallback: { ...current.fallback, ok: false } }
    expect(bodyAt(now)).toMatchObject({ status: 503 })
    expect(JSON.parse(bodyAt(now).body).status).toBe('unhealthy')
  })
})

// ---- GET /health through Bun's router (serverRoutes) answers what the Hono route answers ----

describe("GET /health through Bun's router", () => {
  const apps: TestApp[] = []
  afterAll(async () => {
    for (const a of apps) await a.close()
  })
  const appWith = async (env: Record<string, string> = {}) => {
    const t = await buildTestApp({ env })
    apps.push(t)
    return t
  }
  const headersOf = (res: Response) => Object.fromEntries([...res.headers].filter(([name]) => name !== 'x-request-id'))
  // the two answers are made a moment apart: the clock fields may differ
  const steady = ({ timestamp: _t, uptime_s: _u, ...rest }: Record<string, unknown>) => rest

  test('the same status, headers, body and log line as the Hono route, with its own request id', async () => {
    const t = await appWith({ LOG_LEVEL: 'debug' })
    const fast = serverRoutes(t.deps, t.app)['/health']!.GET
    const viaHono = await t.app.request('/health')
    const viaRouter = await fast(new Request('http://localhost/health'))
    expect(viaRouter.status).toBe(viaHono.status)
    expect(headersOf(viaRouter)).toEqual(headersOf(viaHono))
    const [honoBody, routerBody] = [(await viaHono.json()) as Record<string, unknown>, (await viaRouter.json()) as Record<string, unknown>]
    expect(Object.keys(routerBody).sort()).toEqual(HEALTH_KEYS)
    expect(steady(routerBody)).toEqual(steady(honoBody))

    const lines = t.logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request')
    const [fromHono, fromRouter] = lines.slice(-2)
    expect(Object.keys(fromRouter).sort()).toEqual(Object.keys(fromHono).sort())
    expect([fromRouter.level, fromRouter.method, fromRouter.path, fromRouter.status]).toEqual(['debug', 'GET', '/health', 200])
    expect(fromRouter.request_id).toBe(viaRouter.headers.get('x-request-id'))
    expect(fromRouter.request_id).not.toBe(fromHono.request_id)

    // a caller's well-formed id is kept, a malformed one replaced, as by the Hono frame
    expect((await fast(new Request('http://localhost/health', { headers: { 'X-Request-Id': 'lb-probe-42' } }))).headers.get('x-request-id')).toBe('lb-probe-42')
    expect((await fast(new Request('http://localhost/health', { headers: { 'X-Request-Id': 'bad id!' } }))).headers.get('x-request-id')).not.toBe('bad id!')
  })

  test('each answer keeps its own request id and headers: answers made one after the other do not share them', async () => {
    const t = await appWith()
    const fast = serverRoutes(t.deps, t.app)['/health']!.GET
    const ask = (id?: string) => fast(new Request('http://localhost/health', id ? { headers: { 'X-Request-Id': id } } : {}))
    const [first, second, third] = [await ask('probe-1'), await ask('probe-2'), await ask()]
    expect([first.headers.get('x-request-id'), second.headers.get('x-request-id')]).toEqual(['probe-1', 'probe-2'])
    expect(third.headers.get('x-request-id')).not.toMatch(/^probe-/)
    third.headers.set('X-Extra', 'changed on one answer')
    expect([...(await ask('probe-4')).headers.keys()].sort()).toEqual(['cache-control', 'content-type', 'x-content-type-options', 'x-request-id'])
    expect(first.headers.get('x-request-id')).toBe('probe-1')
  })

  test('unhealthy (no store can serve): 503 from both, logged as an error by both', async () => {
    const t = await appWith()
    const noStore = t.store.status()
    noStore.fallback.ok = false
    const deps = { ...t.deps, db: Object.assign(Object.create(t.store) as FailoverStore, { status: () => noStore }) }
    const app = createApp(deps)
    const fast = serverRoutes(deps, app)['/health']!.GET
    const [viaHono, viaRouter] = [await app.request('/health'), await fast(new Request('http://localhost/health'))]
    expect([viaHono.status, viaRouter.status]).toEqual([503, 503])
    const bodies = [(await viaHono.json()) as { status: string }, (await viaRouter.json()) as { status: string }]
    expect(bodies.map((b) => b.status)).toEqual(['unhealthy', 'unhealthy'])
    const lines = t.logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request')
    expect(lines.slice(-2).map((l) => [l.level, l.status])).toEqual([['error', 503], ['error', 503]])
  })

  test('with CORS_ORIGINS, Hono answers /health (the CORS headers are its middleware\'s)', async () => {
    const t = await appWith({ CORS_ORIGINS: 'https://app.example.com' })
    expect(serverRoutes(t.deps, t.app)).toEqual({})
  })
})

// ---- the real process, SQLite only ----

describe('SQLite only (no primary configured)', () => {
  test('/health, /health/live, /health/ready and /config/database for anyone, a user and an admin', async () => {
    const fallbackFile = join(h.tempDir('health-'), 'app.db')
    const proc = h.spawn({ env: { ...SEED_ENV, FALLBACK_DATABASE_URL: `sqlite:///${fallbackFile}` } })
    const { baseUrl } = await proc.waitForListen(15_000)

    const health = await getJson(`${baseUrl}/health`)
    expect(health.status).toBe(200)
    expect(health.headers.get('cache-control')).toBe('no-store')
    expect(health.headers.get('content-type')).toBe('application/json')
    expect(health.headers.get('x-content-type-options')).toBe('nosniff')
    expect(health.headers.get('x-request-id')).toMatch(/^[\w-]+$/)
    const head = await fetch(`${baseUrl}/health`, { method: 'HEAD' })
    expect([head.status, await head.text()]).toEqual([200, ''])
    expect(Object.keys(health.body).sort()).toEqual(HEALTH_KEYS)
    expect(health.body).toMatchObject({
      status: 'healthy', database_status: 'connected', database_type: 'sqlite', fallback_active: true, mode: 'fallback',
      primary: { configured: false, status: 'unconfigured' }, outbox_pending: 0, fallback_persistent: true,
    })
    expect(Number.isNaN(Date.parse(health.body.timestamp))).toBe(false)
    expect(typeof health.body.uptime_s).toBe('number')

    const live = await getJson(`${baseUrl}/health/live`)
    expect(live.status).toBe(200)
    expect(live.body.status).toBe('alive')

    const ready = await getJson(`${baseUrl}/health/ready`)
    expect(ready.status).toBe(200)
    expect(ready.body).toEqual({ status: 'ready', database_type: 'sqlite' })

    const anonymous = await getJson(`${baseUrl}/config/database`)
    expect(anonymous.status).toBe(200)
    expect(anonymous.body).toEqual({
      database_type: 'sqlite',
      mode: 'fallback',
      fallback_enabled: true,
      fallback_active: true,
      primary: { configured: false, source: null, pool_size: 10, connect_timeout_s: 5, statement_timeout_ms: 15000, ssl: 'prefer', pool_mode: 'auto', idle_after_s: 60, pooler: [] },
      fallback: { journal_mode: 'wal' },
    })

    // a signed-in user who is not an admin sees no more than anyone
    const userToken = await login(baseUrl, USER)
    const asUser = await getJson(`${baseUrl}/config/database`, { headers: { Authorization: `Bearer ${userToken}` } })
    expect(asUser.body).toEqual(anonymous.body)

    const adminToken = await login(baseUrl, ADMIN)
    const asAdmin = await getJson(`${baseUrl}/config/database`, { headers: { Authorization: `Bearer ${adminToken}` } })
    expect(asAdmin.status).toBe(200)
    expect(asAdmin.headers.get('vary')).toMatch(/Authorization/i)
    expect(asAdmin.body.fallback).toEqual({ journal_mode: 'wal', path: fallbackFile, persistent: true })
    expect(asAdmin.body.primary).toMatchObject({ configured: false, url: null, host: null, database: null })

    // a token that does not verify is served anonymously, not refused: the route is public
    const forged = await getJson(`${baseUrl}/config/database`, { headers: { Authorization: 'Bearer not.a.token' } })
    expect(forged.status).toBe(200)
    expect(forged.body).toEqual(anonymous.body)

    expect(await proc.stop()).toBe(0)
  }, CASE_TIMEOUT_MS)
})

// ---- the real process on PostgreSQL, through a fault proxy ----

const pgUp = requirePostgres(await pgAvailable(), 'health: PostgreSQL primary')

describe.skipIf(!pgUp)('PostgreSQL primary through a fault proxy', () => { // skipped only without PostgreSQL, announced by requirePostgres
  async function primaryBehindProxy() {
    const db = await createTestDatabase('health')
    databases.push(db)
    const target = new URL(db.url)
    const proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
    proxies.push(proxy)
    // The shared server trusts local connections, so the password is ignored there; it is here to
    // prove that no response and no log line ever shows it.
    target.password = DB_PASSWORD
    return { db, proxy, url: proxy.proxiedUrl(target.toString()) }
  }

  test('healthy primary: database_type postgresql; admins see where, redacted; nobody sees the password', async () => {
    const { db, proxy, url } = await primaryBehindProxy()
    const proc = h.spawn({ env: { ...SEED_ENV, DATABASE_URL: url, DATABASE_TIMEOUT: '2' } })
    const { baseUrl, listenLine } = await proc.waitForListen(15_000)
    expect(listenLine).toMatchObject({ mode: 'primary', database_type: 'postgresql', primary_source: 'DATABASE_URL' })

    const health = await getJson(`${baseUrl}/health`)
    expect(health.body).toMatchObject({
      status: 'healthy', database_status: 'connected', database_type: 'postgresql', fallback_active: false, mode: 'primary',
      primary: { configured: true, status: 'up' }, warnings: [],
    })

    const anonymous = await getJson(`${baseUrl}/config/database`)
    expect(anonymous.body.database_type).toBe('postgresql')
    expect(anonymous.body.primary).toEqual({ configured: true, source: 'DATABASE_URL', pool_size: 10, connect_timeout_s: 2, statement_timeout_ms: 15000, ssl: 'prefer', pool_mode: 'auto', idle_after_s: 60, pooler: [] })

    const token = await login(baseUrl, ADMIN)
    const asAdmin = await getJson(`${baseUrl}/config/database`, { headers: { Authorization: `Bearer ${token}` } })
    expect(asAdmin.body.primary).toMatchObject({
      configured: true, source: 'DATABASE_URL', host: '127.0.0.1', port: proxy.port, database: db.name, status: 'up',
    })
    expect(asAdmin.body.primary.url).toBe(`postgres://postgres:***@127.0.0.1:${proxy.port}/${db.name}`)

    for (const res of [health, anonymous, asAdmin]) expect(JSON.stringify(res.body)).not.toContain(DB_PASSWORD)
    expect(await proc.stop()).toBe(0)
    for (const line of proc.lines) expect(line.raw).not.toContain(DB_PASSWORD)
  }, CASE_TIMEOUT_MS)

  test('/health is answered from the last probe: requests send nothing to the database', async () => {
    const { url, proxy } = await primaryBehindProxy()
    // a probe period far longer than the test, so only requests could make traffic
    const proc = h.spawn({ env: { DATABASE_URL: url, DATABASE_TIMEOUT: '2', HEALTH_CHECK_INTERVAL_MS: '600000' } })
    const { baseUrl } = await proc.waitForListen(15_000)
    const before = proxy.bytesFromClients
    for (let i = 0; i < 25; i++) expect((await getJson(`${baseUrl}/health`)).body.database_type).toBe('postgresql')
    expect(proxy.bytesFromClients).toBe(before)
    expect(await proc.stop()).toBe(0)
  }, CASE_TIMEOUT_MS)

  test('the primary stops answering after boot: the probes, not requests, turn /health degraded', async () => {
    // The default period. Detection takes about a period plus the 1 s probe deadline; how long is a
    // timing figure for bench/ (failover per fault), so here it is only logged.
    const PERIOD_MS = 2000
    const { url, proxy } = await primaryBehindProxy()
    const proc = h.spawn({ env: { DATABASE_URL: url, DATABASE_TIMEOUT: '2', HEALTH_CHECK_INTERVAL_MS: String(PERIOD_MS) } })
    const { baseUrl } = await proc.waitForListen(15_000)
    expect((await getJson(`${baseUrl}/health`)).body.status).toBe('healthy')

    proxy.setMode('blackhole')
    const start = performance.now()
    let body: any
    do {
      await Bun.sleep(50)
      body = (await getJson(`${baseUrl}/health`)).body
    } while (body.status !== 'degraded' && performance.now() - start < 20_000)
    const tookMs = Math.round(performance.now() - start)
    console.log(`blackholed primary → /health degraded after ${tookMs} ms (probe period ${PERIOD_MS} ms, probe deadline 1000 ms)`)

    expect(body.status).toBe('degraded')
    expect(body.primary).toMatchObject({ configured: true, status: 'down', idle: false })
    expect(body.primary.last_error).toBeUndefined()
    // /health itself never waits on the dead primary
    expect((await getJson(`${baseUrl}/health/live`)).status).toBe(200)

    proxy.setMode('pass')
    expect(await proc.stop()).toBe(0)
  }, CASE_TIMEOUT_MS)
})
