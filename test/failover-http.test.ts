// Runtime failover seen from the outside: a spawned server (`bun src/index.ts`) talks to PostgreSQL
// through a fault-injecting TCP proxy while concurrent HTTP clients create, patch and delete notes and
// an admin creates users. For each fault kind the fault is injected and healed under load; afterwards
// PostgreSQL, read directly (not through the proxy), holds every acknowledged write exactly once with
// its last acknowledged content. Also the manual controls of /api/v1/sqlite-fallback/* and /health.
import { afterAll, describe, expect, test } from 'bun:test'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { startFaultProxy, type FaultMode, type FaultProxy } from './helpers/fault-proxy.ts'
import {
  ADMIN_EMAIL, ADMIN_PASSWORD, Api, Ledger, eventLine, expectAlive, failoverEnv, lineTime, makeWriters, noteWriter, sessionRotator, USER_PASSWORD, userCreator, syncConflictCount, verifyLedger, verifySessions, waitFor, waitForEvent,
} from './helpers/failover-workload.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { ServerHarness, type ServerProcess } from './helpers/spawn-server.ts'

const ok = requirePostgres(await pgAvailable(), 'failover over HTTP')

/** the test's own connections, which the pg_terminate_backend fault spares */
const TEST_APP_NAME = 'failover-http-test'

const WRITERS = 4
/** clients writing back to back, without a pause */
const BUSY_WRITERS = 8
/** traffic on the primary before the fault */
const WARMUP_MS = 300
/** traffic on the fallback after the server failed over, before the fault heals */
const IN_FALLBACK_MS = 700
/** traffic on the primary again after the recovery */
const AFTER_RECOVERY_MS = 300

interface Setup {
  db: TestDatabase
  proxy: FaultProxy
  sql: postgres.Sql
  proc: ServerProcess
  api: Api
  adminToken: string
}

interface Fault {
  name: string
  /** the proxy faults always make the server fail over; killed backends may be outlived by retries */
  mustFailOver: boolean
  inject(s: Setup): void
  /** keeps the fault on, after the time in fallback, until this resolves */
  holdUntil?(s: Setup): Promise<unknown>
  /** the clients stop at the heal: what is under test is that the replay gets through at all */
  quietAfterHeal?: boolean
  heal(s: Setup): void
}

const proxyFault = (name: string, mode: FaultMode, healed: FaultMode = 'pass'): Fault => ({
  name,
  mustFailOver: true,
  inject: (s) => s.proxy.setMode(mode),
  heal: (s) => s.proxy.setMode(healed),
})

/**
 * Kills every backend of the app's own database every 25 ms until healed: the probes reconnect at
 * once, so the server keeps trying to recover, and the fault is held until one of its replay
 * transactions has been killed too (or 3 s have passed).
 */
function terminateBackends(): Fault {
  let stop = false
  return {
    name: 'pg_terminate_backend',
    mustFailOver: false,
    inject(s) {
      stop = false
      void (async () => {
        while (!stop) {
          await s.sql`
            select pg_terminate_backend(pid) from pg_stat_activity
            where datname = ${s.db.name} and application_name <> ${TEST_APP_NAME}`
          await Bun.sleep(25)
        }
      })().catch((e) => console.error('pg_terminate_backend loop:', e))
    },
    holdUntil: (s) => waitForEvent(s.proc, 'replay_interrupted', 3_000).catch(() => null),
    heal() {
      stop = true
    },
  }
}

const FAULTS: Fault[] = [
  proxyFault('refuse', 'refuse'),
  proxyFault('reset', 'reset'),
  proxyFault('blackhole', 'blackhole'),
  proxyFault('close', 'close'),
  // Above the probe deadline (1 s): the server must fail over, and the writes it abandoned on the
  // slow connection still reach PostgreSQL later, while their retries sit in the outbox.
  proxyFault('latency 1500 ms', { latencyMs: 1500 }),
  terminateBackends(),
  // A managed PostgreSQL in another region: back, but 50 ms away. The replay's first transactions on
  // fresh connections outlast the deadline at full batch size; it must still get through. (Clients
  // writing on at full speed would outrun a replay over such a link: they stop at the heal.)
  { ...proxyFault('refuse, back over a slow link (25 ms each way)', 'refuse', { latencyMs: 25 }), quietAfterHeal: true },
]

interface Measured {
  fault: string
  acked: number
  non_2xx: number
  failed_over: boolean
  failover_ms: number | null
  first_2xx_write_after_failover_ms: number | null
  first_2xx_write_issued_after_fault_ms: number | null
  replayed: number | null
  replay_ms: number | null
  /** replays cut off by the fault (PostgreSQL lost again while replaying) */
  replays_interrupted: number
}

describe.skipIf(!ok)('failover through the HTTP API of a spawned server', () => { // skipped only when PostgreSQL is unreachable and not required
  const h = new ServerHarness()
  const open: Setup[] = []
  const measured: Measured[] = []

  async function release(s: Setup): Promise<void> {
    const at = open.indexOf(s)
    if (at >= 0) open.splice(at, 1)
    await s.proc.stop('SIGKILL')
    await s.proxy.close()
    await s.sql.end({ timeout: 1 })
    await s.db.drop()
  }

  afterAll(async () => {
    for (const s of [...open]) await release(s).catch((e) => console.error('cleanup:', e))
    await h.cleanup()
    if (measured.length) console.log(`failover over HTTP, per fault kind:\n${measured.map((m) => JSON.stringify(m)).join('\n')}`)
  }, 30_000)

  async function setup(extraEnv: Record<string, string> = {}): Promise<Setup> {
    const db = await createTestDatabase('failover_http')
    const target = new URL(db.url)
    const proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
    const sql = postgres(db.url, { max: 2, onnotice: () => {}, connection: { application_name: TEST_APP_NAME } })
    const proc = h.spawn({ env: failoverEnv(proxy.proxiedUrl(db.url), extraEnv) })
    const s: Setup = { db, proxy, sql, proc, api: new Api(''), adminToken: '' }
    open.push(s)
    const { baseUrl } = await proc.waitForListen()
    s.api = new Api(baseUrl)
    s.adminToken = (await s.api.login(ADMIN_EMAIL, ADMIN_PASSWORD)).token
    return s
  }

  for (const fault of FAULTS) {
    test(`${fault.name}: every acknowledged write is in PostgreSQL exactly once, with its last content`, async () => {
      const s = await setup()
      try {
        const tag = `f${measured.length}`
        const ledger = new Ledger()
        const writers = await makeWriters(s.api, ledger, s.adminToken, tag, WRITERS)
        expect((await s.api.health()).mode).toBe('primary')

        let stopped = false
        const stop = () => stopped
        const work = Promise.all([
          ...writers.map((w, i) => noteWriter(s.api, ledger, w, `${tag}-w${i}`, stop)),
          userCreator(s.api, ledger, s.adminToken, tag, stop),
          sessionRotator(s.api, ledger, `${tag}-writer-0@failover.test`, USER_PASSWORD, stop),
        ])
        await Bun.sleep(WARMUP_MS)
        const faultAt = Date.now()
        fault.inject(s)
        const failover = await waitForEvent(s.proc, 'failover', fault.mustFailOver ? 10_000 : 1_500).catch(() => (expectAlive(s.proc), null))
        if (fault.mustFailOver) expect(failover).not.toBeNull()
        await Bun.sleep(IN_FALLBACK_MS)
        await fault.holdUntil?.(s)
        fault.heal(s)
        if (fault.quietAfterHeal) stopped = true
        if (failover) await waitForEvent(s.proc, 'recovered', 30_000)
        await Bun.sleep(AFTER_RECOVERY_MS)
        stopped = true
        await work
        expectAlive(s.proc)

        const health = await waitFor('primary mode with an empty outbox', () => s.api.health(), (b) => b.mode === 'primary' && b.outbox_pending === 0)
        expect(health.fallback_active).toBe(false)
        const recovered = failover ? eventLine(s.proc, 'recovered') : undefined
        const failoverAt = failover ? lineTime(failover) : null
        const first = ledger.firstAckAfter(failoverAt ?? faultAt)
        measured.push({
          fault: fault.name,
          acked: ledger.acked,
          non_2xx: ledger.nonOk,
          failed_over: failover !== null,
          failover_ms: failoverAt === null ? null : failoverAt - faultAt,
          first_2xx_write_after_failover_ms: first.answered === null ? null : first.answered + (failoverAt ?? faultAt) - faultAt,
          first_2xx_write_issued_after_fault_ms: ledger.firstAckAfter(faultAt).issued,
          replayed: recovered ? Number(recovered.json!.applied) : null,
          replay_ms: recovered ? Number(recovered.json!.duration_ms) : null,
          replays_interrupted: s.proc.lines.filter((l) => l.json?.event === 'replay_interrupted').length,
        })
        console.log(JSON.stringify(measured.at(-1)))

        // Writes went on through the fault (and, after a failover, through the fallback and back).
        expect(ledger.acked).toBeGreaterThan(50)
        if (failover) expect(ledger.writes.some((w) => w.status < 300 && w.doneAt > failoverAt! && w.doneAt < lineTime(recovered!))).toBe(true)
        await verifyLedger(s.sql, ledger, { ownerIds: writers.map((w) => w.userId), emailLike: `${tag}-%` })
        await verifySessions(s.sql, ledger)
        expect(await syncConflictCount(s.sql)).toBe(0)
        // The last refresh token handed out still works: no false alarm of token reuse.
        const chain = ledger.refreshChains[0]!
        await s.api.expect(200, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: chain.tokens.at(-1) } })
        // Every write was answered with a 2xx: a failover is invisible to clients.
        expect(ledger.failures).toEqual([])
      } finally {
        await release(s)
      }
    }, 60_000)
  }

  // The flip back needs a moment with no write in flight; clients writing back to back must not keep
  // the server on SQLite (and its outbox growing) for as long as they keep writing.
  test('sustained write load: the server returns to PostgreSQL while the clients keep writing', async () => {
    const s = await setup()
    try {
      const tag = 'busy'
      const ledger = new Ledger()
      const writers = await makeWriters(s.api, ledger, s.adminToken, tag, BUSY_WRITERS)
      let stopped = false
      const stop = () => stopped
      const work = Promise.all(writers.map((w, i) => noteWriter(s.api, ledger, w, `${tag}-w${i}`, stop, 0)))
      await Bun.sleep(WARMUP_MS)
      s.proxy.setMode('refuse')
      await waitForEvent(s.proc, 'failover', 10_000)
      await Bun.sleep(IN_FALLBACK_MS)
      s.proxy.setMode('pass')
      // the clients write on, back to back, until the server is back on PostgreSQL
      const recovered = await waitForEvent(s.proc, 'recovered', 40_000).catch((e: Error) => e)
      stopped = true
      await work
      expectAlive(s.proc)
      if (recovered instanceof Error) throw new Error(`no recovery under load; last health: ${JSON.stringify(await s.api.health())}`)
      console.log(JSON.stringify({ fault: 'refuse under sustained load', acked: ledger.acked, non_2xx: ledger.nonOk, recovered: recovered.json }))
      await waitFor('primary mode with an empty outbox', () => s.api.health(), (b) => b.mode === 'primary' && b.outbox_pending === 0)
      await verifyLedger(s.sql, ledger, { ownerIds: writers.map((w) => w.userId), emailLike: `${tag}-%` })
      expect(ledger.failures).toEqual([])
    } finally {
      await release(s)
    }
  }, 90_000)

  test('admin API: status, test, switch to fallback and back, migrate, sync, backup, cleanup, conflicts; /health shows it', async () => {
    const backupDir = h.tempDir('backups-')
    const s = await setup({ BACKUP_DIR: backupDir, BACKUP_KEEP: '2', AUTO_FAILBACK: 'true' })
    try {
      const { api, adminToken: token } = s
      const tag = 'adm'
      const ledger = new Ledger()
      const [writer] = await makeWriters(api, ledger, token, tag, 1)
      const call = (status: number, method: string, path: string, body?: unknown) =>
        api.expect(status, method, `/api/v1/sqlite-fallback${path}`, { token, body })
      const write = async (n: number) => {
        let count = 0
        await noteWriter(api, ledger, writer!, `${tag}-${ledger.writes.length}`, () => count++ >= n, 0)
      }

      // Admins only.
      await api.expect(401, 'GET', '/api/v1/sqlite-fallback/status')
      await api.expect(403, 'GET', '/api/v1/sqlite-fallback/status', { token: writer!.token })

      let status = await call(200, 'GET', '/status')
      expect(status).toMatchObject({ mode: 'primary', database_type: 'postgresql', fallback_active: false, pinned_to_fallback: false, outbox_pending: 0, open_conflicts: 0 })
      expect(status.primary).toMatchObject({ configured: true, status: 'up' })
      expect(status.fallback.journal_mode).toBe('wal')
      const probed = await call(200, 'POST', '/test')
      expect(probed.primary.ok).toBe(true)
      expect(probed.fallback.ok).toBe(true)
      expect(typeof probed.primary.latency_ms).toBe('number')
      expect((await call(200, 'GET', '/conflicts')).items).toEqual([])

      // The snapshot copy: SQLite gets PostgreSQL's rows.
      await write(10)
      const copied = await call(200, 'POST', '/migrate-from-primary')
      const [pgCounts] = await s.sql<{ users: number; notes: number }[]>`
        select (select count(*)::int from users) as users, (select count(*)::int from notes) as notes`
      expect(copied.tables.users).toBe(pgCounts!.users)
      expect(copied.tables.notes).toBe(pgCounts!.notes)
      expect(typeof copied.duration_ms).toBe('number')

      // Pinned to the fallback: writes journal, /health shows them, nothing goes back by itself.
      expect(await call(200, 'POST', '/switch-to-fallback')).toEqual({ mode: 'fallback' })
      await write(12)
      let health = await api.health()
      expect(health).toMatchObject({ mode: 'fallback', fallback_active: true, database_type: 'sqlite', status: 'degraded' })
      expect(health.outbox_pending).toBeGreaterThanOrEqual(12)
      await Bun.sleep(500) // many good probes: a pinned server stays where it was put
      status = await call(200, 'GET', '/status')
      expect(status).toMatchObject({ mode: 'fallback', pinned_to_fallback: true })
      expect(status.outbox_pending).toBeGreaterThanOrEqual(12)
      expect(status.last_failover_at).toBeString()

      // Neither the cleanup nor a snapshot copy may erase writes PostgreSQL has not received.
      expect((await api.call('DELETE', '/api/v1/sqlite-fallback/cleanup', { token })).status).toBe(409)
      expect((await api.call('POST', '/api/v1/sqlite-fallback/migrate-from-primary', { token })).status).toBe(409)

      // Backups: owner-only files, BACKUP_KEEP of them kept.
      const files: string[] = []
      for (let i = 0; i < 3; i++) {
        const b = await call(200, 'POST', '/backup')
        expect(b.file).not.toContain('/')
        expect(b.size_bytes).toBeGreaterThan(0)
        files.push(b.file)
        await Bun.sleep(5) // names have millisecond resolution
      }
      const kept = readdirSync(backupDir).filter((f) => f.endsWith('.db')).sort()
      expect(kept).toEqual(files.slice(1).sort())
      for (const f of kept) expect(statSync(join(backupDir, f)).mode & 0o777).toBe(0o600)

      // Replay now, while still pinned: PostgreSQL gets the journaled writes, the mode stays.
      const synced = await call(200, 'POST', '/sync-to-primary')
      expect(synced.applied).toBeGreaterThanOrEqual(12)
      expect(synced).toMatchObject({ conflicts: 0, remaining: 0 })
      await verifyLedger(s.sql, ledger, { ownerIds: [writer!.userId], emailLike: `${tag}-%` })
      health = await api.health()
      expect(health.mode).toBe('fallback')
      // at most the audit record of the sync itself, written on SQLite after the replay
      expect(health.outbox_pending).toBeLessThanOrEqual(1)
      expect((await api.call('DELETE', '/api/v1/sqlite-fallback/cleanup', { token })).status).toBe(409) // still the active store

      // With the primary unreachable, going back is refused (503) and nothing changes.
      await write(5)
      s.proxy.setMode('refuse')
      expect((await api.call('POST', '/api/v1/sqlite-fallback/switch-to-primary', { token })).status).toBe(503)
      expect((await api.call('POST', '/api/v1/sqlite-fallback/sync-to-primary', { token })).status).toBe(503)
      expect((await call(200, 'POST', '/test')).primary.ok).toBe(false)
      health = await api.health()
      expect(health.mode).toBe('fallback')
      expect(health.outbox_pending).toBeGreaterThanOrEqual(5)
      s.proxy.setMode('pass')

      // Back to the primary: the outbox is replayed first.
      await waitFor('the primary probed up again', () => call(200, 'POST', '/test'), (t) => t.primary.ok === true)
      expect(await call(200, 'POST', '/switch-to-primary')).toEqual({ mode: 'primary' })
      health = await api.health()
      expect(health).toMatchObject({ mode: 'primary', outbox_pending: 0, fallback_active: false, database_type: 'postgresql' })
      await verifyLedger(s.sql, ledger, { ownerIds: [writer!.userId], emailLike: `${tag}-%` })
      status = await call(200, 'GET', '/status')
      expect(status).toMatchObject({ mode: 'primary', pinned_to_fallback: false })
      expect(status.last_recovery_at).toBeString()

      // Cleanup: the file is removed and a fresh one is warmed from PostgreSQL.
      await api.expect(204, 'DELETE', '/api/v1/sqlite-fallback/cleanup', { token })
      await write(5)
      const recopied = await call(200, 'POST', '/migrate-from-primary')
      const [after] = await s.sql<{ notes: number }[]>`select count(*)::int as notes from notes`
      expect(recopied.tables.notes).toBe(after!.notes)

      // The fresh fallback still serves everyone when PostgreSQL goes away.
      s.proxy.setMode('reset')
      await write(5)
      expect((await api.health()).mode).not.toBe('primary')
      s.proxy.setMode('pass')
      await waitFor('auto failback', () => api.health(), (b) => b.mode === 'primary' && b.outbox_pending === 0)
      await verifyLedger(s.sql, ledger, { ownerIds: [writer!.userId], emailLike: `${tag}-%` })
      expect(ledger.failures).toEqual([])

      // Every manual action is in the audit trail.
      const audit = await api.expect(200, 'GET', '/api/v1/admin/audit?limit=100', { token })
      const actions = new Set(audit.items.map((e: { action: string }) => e.action))
      for (const a of ['admin.switch_to_fallback', 'admin.switch_to_primary', 'admin.sync_to_primary', 'admin.backup', 'admin.cleanup', 'admin.copy_to_fallback'])
        expect(actions).toContain(a)
      expect((await call(200, 'GET', '/conflicts')).items).toEqual([])
    } finally {
      await release(s)
    }
  }, 60_000)
})
