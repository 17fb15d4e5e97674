// kill -9 of a server in fallback mode, during writes and again during the replay of its outbox:
// the outbox lives in the fallback file, in the same SQLite transactions as the writes, and a replay
// records each op id in applied_ops, so after a restart every acknowledged write reaches PostgreSQL
// exactly once. Also measures the replay rate of a restarted server (the boot replays what is left).
import { afterAll, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { join } from 'node:path'
import postgres from 'postgres'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import {
  ADMIN_EMAIL, ADMIN_PASSWORD, Api, Ledger, failoverEnv, lineTime, makeWriters, noteWriter, userCreator, syncConflictCount, verifyLedger, waitFor, waitForEvent, type Writer,
} from './helpers/failover-workload.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { ServerHarness, type ServerProcess } from './helpers/spawn-server.ts'

const ok = requirePostgres(await pgAvailable(), 'failover crash (kill -9)')

const WRITERS = 6
/** journaled writes before the first kill */
const BEFORE_FIRST_KILL = 300
/** outbox depth before the replay that gets killed: big enough that replaying it takes a moment */
const OUTBOX_TARGET = 3000

/** entries in the outbox of a fallback file no process has open (read-only peek) */
function outboxDepth(path: string): number {
  const db = new Database(path, { readonly: true })
  try {
    return db.query<{ n: number }, []>('SELECT count(*) AS n FROM outbox').get()!.n
  } finally {
    db.close()
  }
}

describe.skipIf(!ok)('kill -9 of a server holding un-replayed writes', () => { // skipped only when PostgreSQL is unreachable and not required
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

  test('killed while writing on SQLite, killed again while replaying: every acknowledged write reaches PostgreSQL once', async () => {
    db = await createTestDatabase('failover_crash')
    const target = new URL(db.url)
    proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
    sql = postgres(db.url, { max: 2, onnotice: () => {} })
    const fallbackPath = join(h.tempDir('crash-fallback-'), 'app.db')
    // One environment for every incarnation: same fallback file, same JWT secret (tokens stay valid).
    const env = failoverEnv(proxy.proxiedUrl(db.url), { FALLBACK_DATABASE_URL: fallbackPath })
    const start = async (extra: Record<string, string> = {}): Promise<{ proc: ServerProcess; api: Api }> => {
      const proc = h.spawn({ env: { ...env, ...extra } })
      const { baseUrl } = await proc.waitForListen()
      return { proc, api: new Api(baseUrl) }
    }
    const ledger = new Ledger()
    const tag = 'crash'

    // Incarnation 1: on PostgreSQL, then PostgreSQL refuses; killed while its clients write.
    const first = await start()
    const admin = await first.api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    const writers = await makeWriters(first.api, ledger, admin.token, tag, WRITERS)
    proxy.setMode('refuse')
    const run = (api: Api, round: string, pauseMs: number) => {
      let stopped = false
      const done = Promise.all([
        ...writers.map((w: Writer, i) => noteWriter(api, ledger, w, `${tag}-${round}-w${i}`, () => stopped, pauseMs)),
        userCreator(api, ledger, admin.token, `${tag}-${round}`, () => stopped),
      ])
      // Halted before a kill, so that only the requests in flight at the kill go unanswered.
      return { halt: () => void (stopped = true), done }
    }
    let load = run(first.api, 'r1', 2)
    await waitFor('journaled writes', () => first.api.health(), (b) => b.mode === 'fallback' && b.outbox_pending >= BEFORE_FIRST_KILL, 30_000)
    load.halt()
    process.kill(first.proc.pid, 'SIGKILL')
    expect(await first.proc.exited).toBe(128 + 9)
    await load.done
    const answeredBeforeKill = ledger.acked

    // Incarnation 2: boots on SQLite (PostgreSQL still refuses) with the outbox intact, takes more
    // writes until the outbox is deep, then PostgreSQL comes back and it is killed mid-replay.
    const second = await start()
    let health = await second.api.health()
    expect(health).toMatchObject({ mode: 'fallback', fallback_active: true })
    expect(health.outbox_pending).toBeGreaterThanOrEqual(BEFORE_FIRST_KILL)
    load = run(second.api, 'r2', 0)
    health = await waitFor('a deep outbox', () => second.api.health(), (b) => b.outbox_pending >= OUTBOX_TARGET, 60_000)
    proxy.setMode('pass')
    const linesBefore = second.proc.lines.length
    const recovering = await waitForEvent(second.proc, 'recovering', 15_000)
    expect(second.proc.lines.indexOf(recovering)).toBeGreaterThanOrEqual(linesBefore)
    const pendingAtReplay = Number(recovering.json!.outbox_pending)
    expect(pendingAtReplay).toBeGreaterThanOrEqual(OUTBOX_TARGET)
    // Kill once the first batches are in PostgreSQL, while the rest still waits.
    const appliedOps = async () => (await sql!<{ n: number }[]>`select count(*)::int as n from applied_ops`)[0]!.n
    await waitFor('the replay under way', appliedOps, (n) => n > 0, 15_000, 2)
    load.halt()
    process.kill(second.proc.pid, 'SIGKILL')
    expect(await second.proc.exited).toBe(128 + 9)
    const appliedAtKill = await appliedOps()
    await load.done
    expect(second.proc.lines.some((l) => l.json?.event === 'recovered')).toBe(false)
    expect(appliedAtKill).toBeLessThan(pendingAtReplay)

    // Incarnation 3: PostgreSQL is up; the boot replays what is left before the server listens.
    // (debug logs: 'primary database reachable' marks where the boot's replay begins, for its rate)
    const left = outboxDepth(fallbackPath)
    expect(left).toBeGreaterThan(0)
    const third = await start({ LOG_LEVEL: 'debug' })
    const replayLine = third.proc.lines.find((l) => l.json?.event === 'replay')
    expect(replayLine).toBeDefined()
    // (its first record, should that debug line ever change)
    const reachable = third.proc.lines.find((l) => l.json?.msg === 'primary database reachable') ?? third.proc.lines.find((l) => l.json?.time)!
    const r = replayLine!.json as { applied: number; duplicates: number; conflicts: number; remaining: number }
    expect(r).toMatchObject({ conflicts: 0, remaining: 0 })
    // What the killed replay had committed comes back as duplicates (applied_ops), never twice.
    expect(r.applied + r.duplicates).toBe(left)
    expect(r.duplicates).toBeLessThanOrEqual(appliedAtKill)
    health = await third.api.health()
    expect(health).toMatchObject({ mode: 'primary', outbox_pending: 0 })
    const replayMs = Math.max(1, lineTime(replayLine!) - lineTime(reachable))
    console.log(
      JSON.stringify({
        acked_before_first_kill: answeredBeforeKill,
        acked: ledger.acked,
        non_2xx_or_unanswered: ledger.nonOk,
        outbox_at_killed_replay: pendingAtReplay,
        applied_ops_at_kill: appliedAtKill,
        replayed_at_restart: left,
        duplicates_at_restart: r.duplicates,
        replay_ms: replayMs,
        replay_rate_per_s: Math.round((left / replayMs) * 1000),
      }),
    )

    await verifyLedger(sql, ledger, { ownerIds: writers.map((w) => w.userId), emailLike: `${tag}-%` })
    expect(await syncConflictCount(sql)).toBe(0)
    // The only writes without a 2xx are the ones cut off by the two kills.
    expect(ledger.failures.every((f) => f.status === 0)).toBe(true)
    expect(ledger.nonOk).toBeLessThanOrEqual(2 * (WRITERS + 1))

    // And the restarted server goes on serving from PostgreSQL.
    await third.api.expect(201, 'POST', '/api/v1/notes', { token: writers[0]!.token, body: { title: 'after the crashes', body: '' } })
  }, 150_000)
})
