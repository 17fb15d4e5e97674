// The database itself crashes: a private PostgreSQL 15 cluster (never the shared service) has its
// postmaster killed with kill -9 while a spawned server takes writes over HTTP, and is restarted on
// the same port and data folder (crash recovery). Every write the server acknowledged, before, during
// and after the crash, ends up in PostgreSQL exactly once with its last acknowledged content.
import { afterAll, describe, expect, test } from 'bun:test'
import postgres from 'postgres'
import {
  ADMIN_EMAIL, ADMIN_PASSWORD, Api, Ledger, expectAlive, failoverEnv, lineTime, makeWriters, noteWriter, sessionRotator, USER_PASSWORD, userCreator, syncConflictCount, verifyLedger, verifySessions, waitFor, waitForEvent,
} from './helpers/failover-workload.ts'
import { pgClusterUnavailable, startPgCluster, type PgCluster } from './helpers/pg-cluster.ts'
import { ServerHarness } from './helpers/spawn-server.ts'

const unavailable = pgClusterUnavailable()
if (unavailable !== null) {
  if (process.env.REQUIRE_POSTGRES === '1') throw new Error(`failover on a crashing PostgreSQL: no private cluster can be made (${unavailable}) and REQUIRE_POSTGRES=1`)
  console.warn(`SKIPPED failover on a crashing PostgreSQL: no private cluster can be made (${unavailable})`)
}

const WRITERS = 4
const WARMUP_MS = 300
/** how long PostgreSQL stays dead */
const DOWN_MS = 1_000
const AFTER_RECOVERY_MS = 300

describe.skipIf(unavailable !== null)('kill -9 of the PostgreSQL postmaster under HTTP writes', () => { // skipped only when no private cluster can be made here
  const h = new ServerHarness()
  let cluster: PgCluster | null = null
  let sql: postgres.Sql | null = null

  afterAll(async () => {
    await h.cleanup()
    await sql?.end({ timeout: 1 })
    await cluster?.destroy()
  }, 30_000)

  test('PostgreSQL killed and restarted: every acknowledged write is in it exactly once', async () => {
    cluster = await startPgCluster()
    const bootstrap = postgres(cluster.url('postgres'), { max: 1, onnotice: () => {} })
    await bootstrap`create database app`
    await bootstrap.end({ timeout: 1 })
    const url = cluster.url('app')

    const proc = h.spawn({ env: failoverEnv(url) })
    const api = new Api((await proc.waitForListen()).baseUrl)
    const admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    const ledger = new Ledger()
    const tag = 'crashpg'
    const writers = await makeWriters(api, ledger, admin.token, tag, WRITERS)

    let stopped = false
    const stop = () => stopped
    const work = Promise.all([
      ...writers.map((w, i) => noteWriter(api, ledger, w, `${tag}-w${i}`, stop)),
      userCreator(api, ledger, admin.token, tag, stop),
      sessionRotator(api, ledger, `${tag}-writer-0@failover.test`, USER_PASSWORD, stop),
    ])
    await Bun.sleep(WARMUP_MS)
    const pid = cluster.postmasterPid()
    expect(pid).not.toBeNull()
    const faultAt = Date.now()
    await cluster.kill9()
    const failover = await waitForEvent(proc, 'failover', 10_000)
    await Bun.sleep(DOWN_MS)
    await cluster.start()
    expect(cluster.postmasterPid()).not.toBe(pid)
    const recovered = await waitForEvent(proc, 'recovered', 20_000)
    await Bun.sleep(AFTER_RECOVERY_MS)
    stopped = true
    await work
    expectAlive(proc)

    await waitFor('primary mode with an empty outbox', () => api.health(), (b) => b.mode === 'primary' && b.outbox_pending === 0)
    const failoverAt = lineTime(failover)
    console.log(
      JSON.stringify({
        fault: 'postmaster kill -9',
        acked: ledger.acked,
        non_2xx: ledger.nonOk,
        failover_ms: failoverAt - faultAt,
        first_2xx_write_after_failover_ms: ledger.firstAckAfter(failoverAt).answered! + failoverAt - faultAt,
        replayed: recovered.json!.applied,
        replay_ms: recovered.json!.duration_ms,
      }),
    )

    sql = postgres(url, { max: 2, onnotice: () => {} })
    expect(ledger.acked).toBeGreaterThan(50)
    expect(ledger.writes.some((w) => w.status < 300 && w.doneAt > failoverAt && w.doneAt < lineTime(recovered))).toBe(true)
    await verifyLedger(sql, ledger, { ownerIds: writers.map((w) => w.userId), emailLike: `${tag}-%` })
    await verifySessions(sql, ledger)
    expect(await syncConflictCount(sql)).toBe(0)
    expect(ledger.failures).toEqual([])
  }, 90_000)
})
