// Managed PostgreSQL as users have it (DESIGN §12): transaction-mode poolers (a real PgBouncer in
// both styles), naps (connections terminated, new ones held while the compute wakes), idle silence
// (nothing reaches an idle primary), TLS against a private cluster with certificates made here, and
// every reason in words.
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TCPSocketListener } from 'bun'
import postgres from 'postgres'
import { initialStyle, connectionOptions, poolerSigns } from '../src/db/postgres/connection-options.ts'
import { toStoreError } from '../src/db/postgres/errors.ts'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { newId, StoreError, type TableRow } from '../src/db/store.ts'
import { makeNote, makeSession, makeUser } from './helpers/contract-fixtures.ts'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import { ADMIN_EMAIL, ADMIN_PASSWORD, Api, eventLine, failoverEnv, Ledger, makeWriters, verifyLedger, waitFor } from './helpers/failover-workload.ts'
import { createTestDatabase, pgAvailable, requirePostgres, TEST_DATABASE_URL, type TestDatabase } from './helpers/pg.ts'
import { pgClusterUnavailable, startPgCluster, type PgCluster } from './helpers/pg-cluster.ts'
import { pgBouncerUnavailable, startPgBouncer, type PgBouncer, type PgBouncerStyle } from './helpers/pgbouncer.ts'
import { ServerHarness, type ServerProcess } from './helpers/spawn-server.ts'
import { makeTestCerts, type TestCerts } from './helpers/tls-certs.ts'

const target = new URL(TEST_DATABASE_URL)
const TARGET = { targetHost: target.hostname, targetPort: Number(target.port || 5432) }

// ---- the pooler's signs, the options, the reasons: no database needed ----

describe('what the URL and DATABASE_POOL_MODE say about a pooler', () => {
  test.each([
    ['postgres://u:p@ep-cool-name-123456-pooler.eu-central-1.aws.neon.tech/db?sslmode=require', /pooler host/],
    ['postgres://u.ref:p@aws-0-eu-central-1.pooler.supabase.com:6543/postgres', /Supabase's pooler/],
    ['postgres://u:p@db.example.com:6543/app', /port 6543/],
    ['postgres://u:p@db.example.com/app?pgbouncer=true', /pgbouncer=true/],
  ])('%s is a transaction pooler', (url, why) => {
    expect(poolerSigns(url)).toMatch(why)
    expect(initialStyle(url, 'auto')).toEqual({ startupParams: false, prepare: false })
    expect(initialStyle(url, 'session')).toEqual({ startupParams: true, prepare: true })
  })

  test('a direct URL: startup parameters and prepared statements, unless DATABASE_POOL_MODE=transaction', () => {
    const direct = 'postgres://u:p@ep-cool-name-123456.eu-central-1.aws.neon.tech/db?sslmode=require'
    expect(poolerSigns(direct)).toBeNull()
    expect(initialStyle(direct, 'auto')).toEqual({ startupParams: true, prepare: true })
    expect(initialStyle(direct, 'transaction')).toEqual({ startupParams: false, prepare: false })
  })

  test('transaction style: no statement_timeout startup parameter, unnamed statements; pgbouncer=true never reaches the server', () => {
    const s = { url: 'postgres://u@h:6543/db?pgbouncer=true&sslmode=disable', poolSize: 2, connectTimeoutS: 3, statementTimeoutMs: 999, sslmode: 'prefer' as const }
    const { url, options } = connectionOptions(s)
    expect(options.connection).toEqual({ application_name: 'hono-failover-api' })
    expect(options.prepare).toBe(false)
    expect(new URL(url).searchParams.has('pgbouncer')).toBe(false)
  })

  test('sslrootcert is read as the trusted CA; an unreadable one is a reason in words', () => {
    const dir = join(tmpdir(), `ca-${crypto.randomUUID()}.pem`)
    writeFileSync(dir, 'PEM TEXT')
    try {
      const base = { poolSize: 1, connectTimeoutS: 1, statementTimeoutMs: 1000, sslmode: 'prefer' as const }
      const full = connectionOptions({ ...base, url: `postgres://u@db.example.com/x?sslmode=verify-full&sslrootcert=${dir}` }).options.ssl
      expect(full).toEqual({ rejectUnauthorized: true, ca: 'PEM TEXT', host: 'db.example.com' })
      const ca = connectionOptions({ ...base, url: `postgres://u@db.example.com/x?sslmode=verify-ca&sslrootcert=${dir}` }).options.ssl as Record<string, unknown>
      expect([ca.rejectUnauthorized, ca.ca, typeof ca.checkServerIdentity]).toEqual([true, 'PEM TEXT', 'function'])
      // libpq: a root certificate given with require verifies the chain
      expect((connectionOptions({ ...base, url: `postgres://u@h/x?sslmode=require&sslrootcert=${dir}` }).options.ssl as Record<string, unknown>).ca).toBe('PEM TEXT')
      expect(connectionOptions({ ...base, url: 'postgres://u@h/x?sslrootcert=system' }).options.ssl).toEqual({ rejectUnauthorized: true, host: 'h' })
      expect(() => connectionOptions({ ...base, url: 'postgres://u@h/x?sslmode=verify-full&sslrootcert=/no/such/ca.pem' })).toThrow(
        /sslrootcert \/no\/such\/ca\.pem cannot be read/,
      )
    } finally {
      rmSync(dir, { force: true })
    }
  })
})

describe('every way the primary can be unusable has a reason in words', () => {
  const reason = (e: object) => toStoreError(Object.assign(new Error(''), e)).message
  test.each([
    [{ code: '28P01', message: 'password authentication failed for user "app"' }, /password authentication failed: check the user and password/],
    [{ code: '3D000', message: 'database "x" does not exist' }, /database does not exist/],
    [{ code: '08P01', message: 'unsupported startup parameter: statement_timeout' }, /pooler refuses the startup parameter statement_timeout/],
    [{ code: '08P01', message: 'no more connections allowed (max_client_conn)' }, /too many connections/],
    [{ code: 'XX000', message: 'Max client connections reached' }, /too many connections/],
    [{ code: '53300', message: 'sorry, too many clients already' }, /too many connections/],
    [
      { code: 'XX000', message: 'Your account or project has exceeded the compute time quota. Upgrade your plan to increase limits.' },
      /provider refuses connections: "Your account or project has exceeded the compute time quota\."/,
    ],
    [{ code: '28000', message: 'no pg_hba.conf entry for host "10.0.0.1", user "app", database "app", no encryption' }, /most likely requires TLS/],
    [{ code: 'TLS_REFUSED', message: 'the server does not support SSL' }, /does not accept TLS/],
    [{ code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' }, /not trusted: give its CA with sslrootcert/],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: "Hostname/IP does not match certificate's altnames" }, /does not name this host/],
    [{ code: 'ENETUNREACH', address: '2a05:d014::1', syscall: 'connect', message: 'connect ENETUNREACH' }, /only an IPv6 address.*pooler host/],
    [{ code: 'ENOTFOUND', syscall: 'getaddrinfo', message: 'getaddrinfo ENOTFOUND' }, /host name not found \(DNS\)/],
    [{ code: 'ECONNREFUSED', syscall: 'connect', message: 'connect ECONNREFUSED' }, /connection refused/],
    [{ code: 'CONNECT_TIMEOUT', message: 'write CONNECT_TIMEOUT' }, /longer than DATABASE_TIMEOUT/],
    [{ code: '08006', message: 'connection failure' }, /08006: the connection failed/],
    [{ code: '26000', message: 'prepared statement "p1" does not exist' }, /does not keep prepared statements between transactions/],
    [{ code: '42P05', message: 'prepared statement "p1" already exists' }, /does not keep prepared statements between transactions/],
  ])('%o', (e, words) => {
    const message = reason(e)
    expect(message).toMatch(words)
    // never a user, host or database from the server's own message
    expect(message).not.toMatch(/10\.0\.0\.1|"app"|2a05/)
  })
})

// ---- with the shared PostgreSQL behind ----

const pgUp = requirePostgres(await pgAvailable(), 'managed PostgreSQL')
const noBouncer = pgBouncerUnavailable()
const noCluster = pgClusterUnavailable()
if (pgUp && process.env.REQUIRE_POSTGRES === '1' && (noBouncer || noCluster)) throw new Error(`managed PostgreSQL: ${noBouncer ?? noCluster}`)
for (const why of [noBouncer, noCluster]) if (pgUp && why) console.warn(`SKIPPED part of managed PostgreSQL: ${why}`)

const h = new ServerHarness()
const databases: TestDatabase[] = []
const bouncers: PgBouncer[] = []
const proxies: FaultProxy[] = []
const admins: postgres.Sql[] = []
afterAll(async () => {
  await h.cleanup()
  for (const p of proxies) await p.close()
  for (const b of bouncers) await b.stop()
  for (const a of admins) await a.end({ timeout: 1 })
  for (const d of databases) await d.drop()
}, 60_000)

async function freshDatabase(prefix: string): Promise<{ db: TestDatabase; sql: postgres.Sql }> {
  const db = await createTestDatabase(prefix)
  databases.push(db)
  const sql = postgres(db.url, { max: 2, onnotice: () => {} })
  admins.push(sql)
  return { db, sql }
}

describe.skipIf(!pgUp)('a write retried after a lost connection recognises its own row (no duplicate, no 409)', () => { // skipped only without PostgreSQL, announced by requirePostgres
  test('create, and rotation to the same next session, twice: the second returns what the first committed', async () => {
    const { db } = await freshDatabase('retry_idem')
    const store = new PostgresStore({ url: db.url, poolSize: 2, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
    try {
      await store.migrate()
      const userInput = makeUser()
      const user = await store.users.create(userInput)
      expect(await store.users.create(userInput)).toEqual(user)
      const noteInput = makeNote(user.id)
      const note = await store.notes.create(noteInput)
      expect(await store.notes.create(noteInput)).toEqual(note)
      // the same id with other content is somebody else's row: still a conflict
      const other = await store.notes.create({ ...noteInput, title: 'other' }).catch((e: unknown) => e)
      expect(other).toBeInstanceOf(StoreError)
      expect((other as StoreError).kind).toBe('conflict')

      const first = await store.sessions.create(makeSession(user.id))
      const next = makeSession(user.id)
      const rotated = await store.sessions.rotate(first.id, next)
      expect(rotated?.id).toBe(next.id)
      // a retry of the same rotation is not a reuse: it gets the same new session back
      expect((await store.sessions.rotate(first.id, next))?.id).toBe(next.id)
      // another rotation of the old token is a reuse
      expect(await store.sessions.rotate(first.id, makeSession(user.id))).toBeNull()
    } finally {
      await store.close()
    }
  })

  test('the retry reports the row it found to the mirror: what the lost first attempt committed still reaches SQLite', async () => {
    const { db } = await freshDatabase('retry_mirror')
    const store = new PostgresStore({ url: db.url, poolSize: 2, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
    try {
      await store.migrate()
      // the first attempts commit without a sink: their rows are as lost to the mirror as their answers
      const userInput = makeUser()
      const user = await store.users.create(userInput)
      const eventInput = { id: newId(), action: 'user.login', actorId: user.id, targetId: user.id }
      const event = await store.audit.append(eventInput)
      const noteInput = makeNote(user.id)
      const note = await store.notes.create(noteInput)

      const heard: TableRow[] = []
      const retry = store.withChangeSink((c) => heard.push(c))
      expect(await retry.users.create(userInput)).toEqual(user)
      expect(await retry.audit.append(eventInput)).toEqual(event)
      expect(await retry.notes.create(noteInput)).toEqual(note)
      expect(heard).toEqual([
        { table: 'users', row: user },
        { table: 'audit', row: event },
        { table: 'notes', row: note },
      ])
    } finally {
      await store.close()
    }
  })
})

const STYLES: PgBouncerStyle[] = ['refuses-startup-parameters', 'ignores-startup-parameters']
const CLIENTS = 16
const ROUNDS = 15

describe.skipIf(!pgUp || Boolean(noBouncer))('through a real PgBouncer in transaction mode', () => { // skipped only without PostgreSQL or PgBouncer, announced above
  test('two instances migrating together through the pooler migrate once', async () => {
    const { db, sql } = await freshDatabase('pgb_migrate')
    const bouncer = await startPgBouncer({ ...TARGET, style: 'refuses-startup-parameters' })
    bouncers.push(bouncer)
    const open = () => new PostgresStore({ url: bouncer.pooledUrl(db.url), poolSize: 2, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable' })
    const [a, b] = [open(), open()]
    try {
      const reports = await Promise.all([a.migrate(), b.migrate()])
      expect(reports.map((r) => r.applied.length).sort()).toEqual([0, reports[0]!.applied.length + reports[1]!.applied.length])
      const rows = await sql<{ version: number; n: number }[]>`select version, count(*)::int as n from schema_migrations group by version`
      expect(rows.every((r) => r.n === 1)).toBe(true)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  }, 60_000)

  for (const style of STYLES) {
    test(`${style}: the server runs on PostgreSQL; ${CLIENTS} concurrent clients writing and searching get only 2xx; it never falls back`, async () => {
      const { db, sql } = await freshDatabase('pgb_server')
      const bouncer = await startPgBouncer({ ...TARGET, style })
      bouncers.push(bouncer)
      // the pooled URL as a user pastes it: nothing in it says "pooler", so the errors must
      const proc = h.spawn({ env: failoverEnv(bouncer.pooledUrl(db.url), { DATABASE_TIMEOUT: '5', DB_STATEMENT_TIMEOUT_MS: '15000', HEALTH_CHECK_INTERVAL_MS: '200' }) })
      const { baseUrl } = await proc.waitForListen(30_000)
      const api = new Api(baseUrl)
      expect(await api.health()).toMatchObject({ status: 'healthy', database_type: 'postgresql', mode: 'primary' })

      const ledger = new Ledger()
      const admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
      const writers = await makeWriters(api, ledger, admin.token, `pgb-${style}`, 4)
      const statuses: number[] = []
      const client = async (c: number) => {
        const w = writers[c % writers.length]!
        for (let n = 0; n < ROUNDS; n++) {
          const title = `pgb c${c} n${n} needle-${c % 3}`
          const body = `body ${c}/${n}`
          const startedAt = Date.now()
          const created = await api.call('POST', '/api/v1/notes', { token: w.token, body: { title, body } })
          statuses.push(created.status)
          if (ledger.record('note.create', startedAt, created))
            ledger.notes.set(created.body.id, { ownerId: w.userId, title, body, deleted: false, version: created.body.version, maybe: [] })
          else ledger.unansweredNoteTitles.add(title)
          const found = await api.call('GET', `/api/v1/notes?q=needle-${n % 3}&limit=5`, { token: w.token })
          statuses.push(found.status)
        }
      }
      await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)))

      // the server's own error lines say why, should anything but a 2xx have come back
      const serverErrors = proc.lines.filter((l) => l.json?.level === 'error').map((l) => l.raw)
      expect({ non2xx: statuses.filter((s) => s < 200 || s >= 300), serverErrors }).toEqual({ non2xx: [], serverErrors: [] })
      expect(ledger.failures).toEqual([])
      expect(eventLine(proc, 'failover')).toBeUndefined()
      const health = await api.health()
      expect(health).toMatchObject({ status: 'healthy', database_type: 'postgresql', mode: 'primary', outbox_pending: 0 })
      await verifyLedger(sql, ledger, { ownerIds: writers.map((w) => w.userId), emailLike: `pgb-${style}-%` })

      // what the server learnt, in words, for the operator
      const config = await api.expect(200, 'GET', '/config/database')
      if (style === 'refuses-startup-parameters') expect(config.primary.pooler.join(' ')).toMatch(/refuses the startup parameter statement_timeout/)
      console.log(`[${style}] ${statuses.length} requests, all 2xx; pooler: ${JSON.stringify(config.primary.pooler)}`)
      expect(await proc.stop()).toBe(0)
    }, 120_000)
  }
})

// ---- naps and idleness: the fault proxy between the server and PostgreSQL ----

async function serverBehindProxy(prefix: string, env: Record<string, string>): Promise<{ proc: ServerProcess; api: Api; proxy: FaultProxy; db: TestDatabase; sql: postgres.Sql }> {
  const { db, sql } = await freshDatabase(prefix)
  const proxy = await startFaultProxy(TARGET)
  proxies.push(proxy)
  const proc = h.spawn({ env: failoverEnv(proxy.proxiedUrl(db.url), env) })
  const { baseUrl } = await proc.waitForListen(30_000)
  return { proc, api: new Api(baseUrl), proxy, db, sql }
}

describe.skipIf(!pgUp)('a nap is not an outage', () => { // skipped only without PostgreSQL, announced by requirePostgres
  test('every connection terminated, new ones held 1.5 s for 3 s, under steady writes: only 2xx, no failover, outbox empty, nothing lost', async () => {
    // DATABASE_TIMEOUT (the reconnect deadline) above the wake-up; probes on their default deadline
    const { proc, api, proxy, sql, db } = await serverBehindProxy('nap', { DATABASE_TIMEOUT: '5', DB_STATEMENT_TIMEOUT_MS: '15000', HEALTH_CHECK_INTERVAL_MS: '200' })
    const ledger = new Ledger()
    const admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    const writers = await makeWriters(api, ledger, admin.token, 'nap', 4)
    let stop = false
    const slowest = { ms: 0 }
    const writer = async (w: (typeof writers)[number], i: number) => {
      for (let n = 0; !stop; n++) {
        const title = `nap w${i} n${n}`
        const startedAt = Date.now()
        const reply = await api.call('POST', '/api/v1/notes', { token: w.token, body: { title, body: 'zz' } })
        slowest.ms = Math.max(slowest.ms, Date.now() - startedAt)
        if (ledger.record('note.create', startedAt, reply))
          ledger.notes.set(reply.body.id, { ownerId: w.userId, title, body: 'zz', deleted: false, version: reply.body.version, maybe: [] })
        else ledger.unansweredNoteTitles.add(title)
        await Bun.sleep(10)
      }
    }
    const writing = writers.map((w, i) => writer(w, i))
    await waitFor('writes before the nap', () => ledger.acked, (n) => n >= 40)

    // the nap: the compute suspends (every backend terminated: 57P01), then wakes slowly
    proxy.setMode({ wakeMs: 1500 })
    const [killed] = await sql<{ n: number }[]>`
      select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = ${db.name} and pid <> pg_backend_pid()`
    expect(killed!.n).toBeGreaterThan(0)
    const napStarted = Date.now()
    await waitFor('the 3 s nap', () => Date.now() - napStarted, (ms) => ms >= 3000, 10_000)
    proxy.setMode('pass')
    const ackedAtWake = ledger.acked
    await waitFor('writes after the nap', () => ledger.acked, (n) => n >= ackedAtWake + 40)
    stop = true
    await Promise.all(writing)

    console.log(`nap: ${ledger.acked} writes acknowledged, slowest request ${slowest.ms} ms, non-2xx ${ledger.nonOk}`)
    expect(ledger.failures).toEqual([])
    expect(eventLine(proc, 'failover')).toBeUndefined()
    const health = await api.health()
    expect(health).toMatchObject({ database_type: 'postgresql', mode: 'primary', outbox_pending: 0, fallback_active: false })
    await verifyLedger(sql, ledger, { ownerIds: writers.map((w) => w.userId), emailLike: 'nap-%' })
    expect(await proc.stop()).toBe(0)
  }, 120_000)
})

describe.skipIf(!pgUp)('idle silence', () => { // skipped only without PostgreSQL, announced by requirePostgres
  test('DATABASE_IDLE_AFTER=3: after it, zero bytes reach PostgreSQL for 20 s while /health is polled; the next write wakes it', async () => {
    const { proc, api, proxy } = await serverBehindProxy('idle', { DATABASE_IDLE_AFTER: '3', HEALTH_CHECK_INTERVAL_MS: '200', DATABASE_TIMEOUT: '5' })
    const admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    await api.expect(201, 'POST', '/api/v1/notes', { token: admin.token, body: { title: 'before idle', body: 'b' } })

    const idle = await waitFor('the primary to be idle', () => api.health(), (b) => b.primary.idle === true, 30_000)
    expect(idle).toMatchObject({ status: 'healthy', database_type: 'postgresql', primary: { configured: true, status: 'up', idle: true } })
    expect(Date.parse(idle.primary.checked_at)).toBeGreaterThan(0)
    // the pool's idle connections close by then (idle_timeout = min(30 s, DATABASE_IDLE_AFTER))
    await waitFor('the pool to close its connections', () => proxy.openConnections, (n) => n === 0, 30_000)

    const before = proxy.bytesFromClients
    const started = Date.now()
    for (let i = 0; Date.now() - started < 20_000; i++) {
      const body = await api.health()
      expect(body.primary.idle).toBe(true)
      await api.expect(200, 'GET', '/health/live')
      await api.expect(200, 'GET', '/health/ready')
      await Bun.sleep(1000)
    }
    const idleBytes = proxy.bytesFromClients - before
    console.log(`idle: ${idleBytes} bytes to PostgreSQL in 20 s of polling /health, /health/live, /health/ready every second`)
    expect(idleBytes).toBe(0)

    const note = await api.expect(201, 'POST', '/api/v1/notes', { token: admin.token, body: { title: 'after idle', body: 'b' } })
    expect(note.title).toBe('after idle')
    expect(proxy.bytesFromClients).toBeGreaterThan(before)
    const awake = await api.health()
    expect(awake).toMatchObject({ database_type: 'postgresql', primary: { idle: false, status: 'up' } })
    expect(eventLine(proc, 'failover')).toBeUndefined()
    expect(await proc.stop()).toBe(0)
  }, 120_000)
})

// ---- TLS against a private cluster that speaks only TLS ----

describe.skipIf(!pgUp || Boolean(noCluster))('TLS as managed PostgreSQL needs it (a private cluster with ssl=on)', () => { // skipped only where a private cluster cannot run, announced above
  let cluster: PgCluster
  let certs: TestCerts
  let plainPeer: TCPSocketListener<undefined> | null = null

  afterAll(async () => {
    await cluster?.destroy()
    certs?.remove()
    plainPeer?.stop(true)
  }, 30_000)

  const ping = async (url: string): Promise<string> => {
    const store = new PostgresStore({ url, poolSize: 1, connectTimeoutS: 3, statementTimeoutMs: 5000, sslmode: 'prefer' })
    try {
      await store.ping()
      return 'ok'
    } catch (e) {
      return e instanceof StoreError ? `${e.kind}: ${e.message}` : String(e)
    } finally {
      await store.close()
    }
  }

  test('require, verify-ca and verify-full with sslrootcert connect; the host name is checked; wrong CA, wrong host and no TLS say why', async () => {
    certs = await makeTestCerts(['localhost'])
    cluster = await startPgCluster({
      files: { 'server.crt': certs.serverCert, 'server.key': certs.serverKey },
      settings: ['ssl=on', 'ssl_cert_file=../server.crt', 'ssl_key_file=../server.key'],
      hba: 'hostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n',
    })
    const at = (host: string, params: string) => `postgres://postgres@${host}:${cluster.port}/postgres?${params}`

    expect(await ping(at('127.0.0.1', 'sslmode=require'))).toBe('ok')
    expect(await ping(at('127.0.0.1', `sslmode=verify-ca&sslrootcert=${certs.caFile}`))).toBe('ok')
    expect(await ping(at('localhost', `sslmode=verify-full&sslrootcert=${certs.caFile}`))).toBe('ok')

    // the certificate names localhost, not 127.0.0.1
    expect(await ping(at('127.0.0.1', `sslmode=verify-full&sslrootcert=${certs.caFile}`))).toMatch(/^unavailable: .*does not name this host/)
    expect(await ping(at('localhost', `sslmode=verify-full&sslrootcert=${certs.otherCaFile}`))).toMatch(/^unavailable: .*not trusted: give its CA with sslrootcert/)
    expect(await ping(at('localhost', 'sslmode=verify-full&sslrootcert=system'))).toMatch(/^unavailable: .*not trusted/)
    // a server that takes only TLS, asked for none
    expect(await ping(at('127.0.0.1', 'sslmode=disable'))).toMatch(/^unavailable: .*most likely requires TLS/)

    // a server without TLS, asked for it: the real shared server refuses TLS when it has ssl=off,
    // and a peer that answers "N" to the SSLRequest stands in for one either way
    const peer = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data: (s) => void s.end(new Uint8Array([78])) } })
    plainPeer = peer
    expect(await ping(`postgres://postgres@127.0.0.1:${peer.port}/postgres?sslmode=require`)).toMatch(/^unavailable: .*does not accept TLS/)
  }, 120_000)

  test('the server boots on a verify-full URL with its CA, and on SQLite with the reason when the CA is wrong', async () => {
    const good = h.spawn({ env: { DATABASE_URL: `postgres://postgres@localhost:${cluster.port}/postgres?sslmode=verify-full&sslrootcert=${certs.caFile}`, DATABASE_TIMEOUT: '3', DATABASE_STARTUP_RETRIES: '0' } })
    expect((await good.waitForListen(30_000)).listenLine).toMatchObject({ mode: 'primary', database_type: 'postgresql' })
    expect(await good.stop()).toBe(0)

    const bad = h.spawn({ env: { DATABASE_URL: `postgres://postgres@localhost:${cluster.port}/postgres?sslmode=verify-full&sslrootcert=${certs.otherCaFile}`, DATABASE_TIMEOUT: '3', DATABASE_STARTUP_RETRIES: '0' } })
    const { listenLine } = await bad.waitForListen(30_000)
    expect(listenLine).toMatchObject({ mode: 'fallback', database_type: 'sqlite' })
    const warn = bad.lines.find((l) => l.json?.level === 'warn')
    expect(String(warn?.json?.reason)).toMatch(/not trusted: give its CA with sslrootcert/)
    expect(await bad.stop()).toBe(0)
  }, 60_000)
})
