// Two server instances on one PostgreSQL, each with its own fallback file and its own proxy: both lose
// PostgreSQL, both take writes on SQLite, and both replay at the same time when it is back. Their
// replays do not clash; the one email an admin registered on both sides is applied once and the other
// copy lands in sync_conflicts (visible in the admin API, without secrets); everything else is applied.
import { afterAll, describe, expect, test } from 'bun:test'
import postgres from 'postgres'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import {
  ADMIN_EMAIL, ADMIN_PASSWORD, Api, Ledger, expectAlive, USER_PASSWORD, failoverEnv, lineTime, makeWriters, noteWriter, sessionRotator, userCreator, verifyLedger, verifySessions, waitFor, waitForEvent, type Writer,
} from './helpers/failover-workload.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { ServerHarness, type ServerProcess } from './helpers/spawn-server.ts'

const ok = requirePostgres(await pgAvailable(), 'failover with two instances')

const WRITERS_EACH = 3
const WARMUP_MS = 300
const IN_FALLBACK_MS = 700
const AFTER_RECOVERY_MS = 300

interface Instance {
  name: string
  proxy: FaultProxy
  proc: ServerProcess
  api: Api
  adminToken: string
  writers: Writer[]
}

describe.skipIf(!ok)('two instances falling back and recovering together', () => { // skipped only when PostgreSQL is unreachable and not required
  const h = new ServerHarness()
  const proxies: FaultProxy[] = []
  let db: TestDatabase | null = null
  let sql: postgres.Sql | null = null

  afterAll(async () => {
    await h.cleanup()
    for (const p of proxies) await p.close()
    await sql?.end({ timeout: 1 })
    await db?.drop()
  }, 30_000)

  test('concurrent replays do not clash; the same email from both sides ends in sync_conflicts', async () => {
    db = await createTestDatabase('failover_two')
    const target = new URL(db.url)
    sql = postgres(db.url, { max: 2, onnotice: () => {} })
    const ledger = new Ledger()

    // One after the other, so that the second finds the first one's seeded admin in PostgreSQL.
    const instances: Instance[] = []
    for (const name of ['a', 'b']) {
      const proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
      proxies.push(proxy)
      const proc = h.spawn({ env: failoverEnv(proxy.proxiedUrl(db.url)) })
      const api = new Api((await proc.waitForListen()).baseUrl)
      const adminToken = (await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)).token
      // Each instance's writers are made through it, so its own fallback knows them.
      const writers = await makeWriters(api, ledger, adminToken, `two-${name}`, WRITERS_EACH)
      instances.push({ name, proxy, proc, api, adminToken, writers })
    }
    const admins = await sql`select id from users where email = ${ADMIN_EMAIL}`
    expect(admins.length).toBe(1)

    let stopped = false
    const stop = () => stopped
    const work = Promise.all(
      instances.flatMap((i) => [
        ...i.writers.map((w, k) => noteWriter(i.api, ledger, w, `two-${i.name}-w${k}`, stop)),
        userCreator(i.api, ledger, i.adminToken, `two-${i.name}`, stop),
        sessionRotator(i.api, ledger, `two-${i.name}-writer-0@failover.test`, USER_PASSWORD, stop),
      ]),
    )
    await Bun.sleep(WARMUP_MS)
    for (const i of instances) i.proxy.setMode('refuse')
    await Promise.all(instances.map((i) => waitForEvent(i.proc, 'failover', 10_000)))

    // Both on SQLite: an admin on each side registers the same address.
    const clashEmail = `clash-${crypto.randomUUID()}@failover.test`
    const clash = await Promise.all(
      instances.map(async (i) => {
        const body = await i.api.expect(201, 'POST', '/api/v1/admin/users', { token: i.adminToken, body: { email: clashEmail, password: USER_PASSWORD } })
        return body.user.id as string
      }),
    )
    expect(clash[0]).not.toBe(clash[1])
    for (const i of instances) expect((await i.api.health()).outbox_pending).toBeGreaterThan(0)

    await Bun.sleep(IN_FALLBACK_MS)
    for (const i of instances) i.proxy.setMode('pass')
    const recovered = await Promise.all(instances.map((i) => waitForEvent(i.proc, 'recovered', 20_000)))
    await Bun.sleep(AFTER_RECOVERY_MS)
    stopped = true
    await work
    for (const i of instances) expectAlive(i.proc)
    for (const i of instances)
      await waitFor(`instance ${i.name} back on PostgreSQL`, () => i.api.health(), (b) => b.mode === 'primary' && b.outbox_pending === 0)

    const windows = instances.map((i, k) => {
      const recovering = i.proc.lines.find((l) => l.json?.event === 'recovering')!
      return { from: lineTime(recovering), to: lineTime(recovered[k]!), applied: recovered[k]!.json!.applied, conflicts: recovered[k]!.json!.conflicts }
    })
    console.log(JSON.stringify({ acked: ledger.acked, non_2xx: ledger.nonOk, replays: windows, overlapped: windows[0]!.from < windows[1]!.to && windows[1]!.from < windows[0]!.to }))

    // Everything but the clash is applied, exactly once, with its last content.
    await verifyLedger(sql, ledger, { ownerIds: instances.flatMap((i) => i.writers.map((w) => w.userId)), emailLike: 'two-%' })
    await verifySessions(sql, ledger)
    expect(ledger.failures).toEqual([])

    // The clash: one copy stands, the other is recorded, never dropped silently.
    const stored = await sql<{ id: string }[]>`select id::text from users where email = ${clashEmail} and deleted_at is null`
    expect(stored.length).toBe(1)
    expect(clash).toContain(stored[0]!.id)
    const loser = clash.find((id) => id !== stored[0]!.id)!
    const conflicts = await sql<{ tbl: string; row_id: string; reason: string }[]>`select tbl, row_id, reason from sync_conflicts`
    expect([...conflicts]).toEqual([{ tbl: 'users', row_id: loser, reason: expect.stringContaining('unique') }])

    // Both instances show it to their admins, with the row but without its password hash.
    for (const i of instances) {
      const listed = await i.api.expect(200, 'GET', '/api/v1/sqlite-fallback/conflicts', { token: i.adminToken })
      expect(listed.items.length).toBe(1)
      expect(listed.items[0]).toMatchObject({ table: 'users', row_id: loser })
      expect(listed.items[0].row.email).toBe(clashEmail)
      expect(JSON.stringify(listed.items[0])).not.toContain('$2')
      // and /status counts the same list
      expect((await i.api.expect(200, 'GET', '/api/v1/sqlite-fallback/status', { token: i.adminToken })).open_conflicts).toBe(1)
    }
  }, 90_000)
})
