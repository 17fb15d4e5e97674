// The loss the README listed under "does not promise" before the replica: PostgreSQL down, writes
// journaled on SQLite, kill -9, the disk wiped, a restart (PostgreSQL still down), then PostgreSQL
// back. With REPLICA_SYNC=true the outbox comes back from the replica, and every acknowledged outage
// write reaches PostgreSQL exactly once.
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import { ADMIN_EMAIL, ADMIN_PASSWORD, Api, Ledger, failoverEnv, makeWriters, noteWriter, syncConflictCount, userCreator, verifyLedger, waitFor, waitForEvent } from './helpers/failover-workload.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { ServerHarness, type ServerProcess } from './helpers/spawn-server.ts'

const ok = requirePostgres(await pgAvailable(), 'replica across a PostgreSQL outage')

const WRITERS = 3
/** journaled writes before the kill */
const OUTBOX_AT_KILL = 200

describe.skipIf(!ok)('PostgreSQL down, kill -9, disk wiped, restart, PostgreSQL back', () => { // skipped only when PostgreSQL is unreachable and not required
  const h = new ServerHarness()
  let db: TestDatabase | null = null
  let proxy: FaultProxy | null = null
  let sql: postgres.Sql | null = null

  afterAll(async () => {
    await h.cleanup()
    await proxy?.close()
    await sql?.end({ timeout: 1 })
    await db?.drop()
  }, 30_000)

  test('every outage write ends up in PostgreSQL exactly once', async () => {
    db = await createTestDatabase('replica_outage')
    const target = new URL(db.url)
    proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
    sql = postgres(db.url, { max: 2, onnotice: () => {} })
    const dataDir = h.tempDir('replica-outage-data-')
    const env = failoverEnv(proxy.proxiedUrl(db.url), {
      FALLBACK_DATABASE_URL: join(dataDir, 'app.db'),
      REPLICA_URL: `file://${h.tempDir('replica-outage-replica-')}`,
      REPLICA_SYNC: 'true',
      REPLICA_INTERVAL_MS: '200',
    })
    const start = async (): Promise<{ proc: ServerProcess; api: Api }> => {
      const proc = h.spawn({ env })
      const { baseUrl } = await proc.waitForListen()
      return { proc, api: new Api(baseUrl) }
    }
    const ledger = new Ledger()
    const tag = 'routage'

    const first = await start()
    const admin = await first.api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    const writers = await makeWriters(first.api, ledger, admin.token, tag, WRITERS)
    proxy.setMode('refuse')
    let stopped = false
    const load = Promise.all([
      ...writers.map((w, i) => noteWriter(first.api, ledger, w, `${tag}-w${i}`, () => stopped, 2)),
      userCreator(first.api, ledger, admin.token, tag, () => stopped),
    ])
    await waitFor('journaled writes', () => first.api.health(), (b) => b.mode === 'fallback' && b.outbox_pending >= OUTBOX_AT_KILL, 60_000)
    process.kill(first.proc.pid, 'SIGKILL')
    stopped = true
    expect(await first.proc.exited).toBe(128 + 9)
    await load

    rmSync(dataDir, { recursive: true, force: true })
    const second = await start()
    await waitForEvent(second.proc, 'replica_restored', 1)
    const health = await second.api.health()
    expect(health).toMatchObject({ mode: 'fallback', replica: { configured: true, last_error: null } })
    // The outbox came back from the replica. Its last entries may be short of what /health showed before
    // the kill: committed locally, not yet stored in the replica, so never acknowledged (seen: 199 of 200).
    // That every acknowledged write came back is what verifyLedger below proves.
    expect(health.outbox_pending).toBeGreaterThan(0)

    proxy.setMode('pass')
    await waitFor('replayed into PostgreSQL', () => second.api.health(), (b) => b.mode === 'primary' && b.outbox_pending === 0, 60_000)
    await verifyLedger(sql, ledger, { ownerIds: writers.map((w) => w.userId), emailLike: `${tag}-%` })
    expect(await syncConflictCount(sql)).toBe(0)
    // unanswered only where the kill cut a request off
    expect(ledger.failures.every((f) => f.status === 0)).toBe(true)
  }, 150_000)
})
