// Which PostgreSQL failures are waited out as a possible wake-up and which fail over at once
// (DESIGN §12). A napping database ends our connections, then takes seconds to accept new ones: that
// is waited for under DATABASE_TIMEOUT. A refused connection, or a primary that answered a moment ago
// and now says nothing on its open connections (a blackhole), is no nap: waiting changes nothing.
// The fault proxy makes each case real; spies count which pings the store sends, not how long it took.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FailoverStore } from '../src/db/failover-store.ts'
import { toStoreError } from '../src/db/postgres/errors.ts'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { newId } from '../src/db/store.ts'
import { fallbackIn, primaryModeFailover } from './helpers/failover-store.ts'
import { waitFor } from './helpers/failover-workload.ts'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'

setDefaultTimeout(60_000)
const ok = requirePostgres(await pgAvailable(), 'nap or outage')

describe('how a connection failure is told', () => {
  test('refused and an unknown host rule a nap out; an ended connection does not', () => {
    expect(toStoreError({ code: 'ECONNREFUSED', syscall: 'connect' }).connection).toBe('refused')
    expect(toStoreError({ code: 'ENOTFOUND', syscall: 'getaddrinfo' }).connection).toBe('refused')
    expect(toStoreError({ code: 'EAI_AGAIN', syscall: 'getaddrinfo' }).connection).toBe('refused')
    for (const code of ['57P01', 'CONNECTION_CLOSED', 'ECONNRESET']) expect(toStoreError({ code }).connection).toBe('lost')
    expect(toStoreError({ code: 'CONNECT_TIMEOUT' }).connection).toBeNull()
    expect(toStoreError({ code: '23505' }).connection).toBeNull()
  })
})

interface Rig {
  store: FailoverStore
  primary: PostgresStore
  proxy: FaultProxy
  db: TestDatabase
  ownerId: string
  /** how many pings under the connect deadline (the reconnect, the confirming probe) were sent */
  connectDeadlinePings: () => number
  /** how many of those have answered or failed */
  settledPings: () => number
  /** how many quick probes (`select 1` under the probe deadline) were sent */
  quickPings: () => number
  /** how many of those have answered or failed */
  settledQuickPings: () => number
}

describe.skipIf(!ok)('nap or outage', () => { // skipped only when PostgreSQL is unreachable and not required
  const dir = mkdtempSync(join(tmpdir(), 'nap-or-outage-'))
  const rigs: Rig[] = []

  afterAll(async () => {
    for (const r of rigs) {
      r.proxy.setMode('pass')
      await r.store.close().catch(() => undefined)
      await r.proxy.close()
      await r.db.drop()
    }
    rmSync(dir, { recursive: true, force: true })
  })

  /** A FailoverStore in primary mode whose PostgreSQL is behind the fault proxy, with one user. */
  async function rig(o: { connectTimeoutS: number; idleAfterMs: number; idleTimeoutS?: number; probeIntervalMs?: number; probeTimeoutMs?: number }): Promise<Rig> {
    const db = await createTestDatabase('nap_or_outage')
    const target = new URL(db.url)
    const proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
    const primary = new PostgresStore({
      url: proxy.proxiedUrl(db.url),
      poolSize: 4,
      connectTimeoutS: o.connectTimeoutS,
      statementTimeoutMs: 15_000,
      sslmode: 'disable',
      ...(o.idleTimeoutS ? { idleTimeoutS: o.idleTimeoutS } : {}),
    })
    let pings = 0
    let settled = 0
    const ping = primary.ping.bind(primary)
    primary.ping = (deadlineMs?: number) => {
      pings++
      return ping(deadlineMs).finally(() => settled++)
    }
    let quick = 0
    let quickSettled = 0
    const quickPing = primary.quickPing.bind(primary)
    primary.quickPing = (deadlineMs: number) => {
      quick++
      return quickPing(deadlineMs).finally(() => quickSettled++)
    }
    const store = primaryModeFailover(dir, primary, fallbackIn(dir), {
      probeIntervalMs: o.probeIntervalMs ?? 100,
      probeTimeoutMs: o.probeTimeoutMs ?? 300,
      idleAfterMs: o.idleAfterMs,
    })
    await store.init()
    const ownerId = newId()
    await store.users.create({ id: ownerId, email: `${ownerId}@example.test`, passwordHash: 'x' })
    const r = {
      store, primary, proxy, db, ownerId,
      connectDeadlinePings: () => pings,
      settledPings: () => settled,
      quickPings: () => quick,
      settledQuickPings: () => quickSettled,
    }
    rigs.push(r)
    return r
  }

  const write = (r: Rig, title: string) => r.store.notes.create({ id: newId(), ownerId: r.ownerId, title, body: '' })

  test('a refused connection fails over at once: no reconnect is tried', async () => {
    const r = await rig({ connectTimeoutS: 30, idleAfterMs: 60_000, idleTimeoutS: 1 })
    await write(r, 'before')
    // no connection left open, so the next request has to connect, and is refused
    await waitFor('the pool to close its idle connections', () => r.proxy.openConnections, (n) => n === 0)
    const pingsBefore = r.connectDeadlinePings()
    r.proxy.setMode('refuse')
    const note = await write(r, 'refused')
    expect(r.store.status().mode).toBe('fallback')
    expect(r.connectDeadlinePings()).toBe(pingsBefore)
    expect(r.store.status().primary.lastError).toContain('ECONNREFUSED')
    expect(await r.store.notes.get(r.ownerId, note.id)).toMatchObject({ title: 'refused' })
  })

  test('a reset is followed by one reconnect; reset again, the store fails over', async () => {
    const r = await rig({ connectTimeoutS: 30, idleAfterMs: 60_000 })
    await write(r, 'before')
    const pingsBefore = r.connectDeadlinePings()
    r.proxy.setMode('reset')
    const note = await write(r, 'reset')
    expect(r.connectDeadlinePings()).toBe(pingsBefore + 1)
    expect(r.store.status().mode).toBe('fallback')
    expect(r.store.status().primary.lastError).toContain('ECONNRESET')
    expect(await r.store.notes.get(r.ownerId, note.id)).toMatchObject({ title: 'reset' })
  })

  test('a blackhole right after PostgreSQL answered fails over after two quick probes, not the connect deadline', async () => {
    const r = await rig({ connectTimeoutS: 30, idleAfterMs: 60_000 })
    await write(r, 'before')
    r.store.startMonitor()
    r.proxy.setMode('blackhole')
    // a 30 s connect deadline would outlast this wait: only quick probes can fail the store over in time
    await waitFor('the failover', () => r.store.status().mode, (m) => m === 'fallback', 20_000)
    expect(r.connectDeadlinePings()).toBe(0)
    await write(r, 'after the blackhole')
  })

  // The tests below run the monitor with a period far longer than they take: only a call stuck in
  // silence can make it probe.
  test('a write stuck in a blackhole right after PostgreSQL answered is the first failed probe: one quick probe confirms it, no tick is waited for', async () => {
    const r = await rig({ connectTimeoutS: 30, idleAfterMs: 60_000, probeIntervalMs: 60_000 })
    await write(r, 'before')
    r.store.startMonitor()
    r.proxy.setMode('blackhole')
    // the write waits on a frozen connection; the failover abandons it there and it goes to SQLite
    const note = await write(r, 'in the blackhole')
    expect(r.store.status().mode).toBe('fallback')
    expect({ quick: r.quickPings(), connectDeadline: r.connectDeadlinePings() }).toEqual({ quick: 1, connectDeadline: 0 })
    expect(await r.store.notes.get(r.ownerId, note.id)).toMatchObject({ title: 'in the blackhole' })
  })

  test('a slow call is no outage: the quick probe it prompts is answered, and the call ends on PostgreSQL', async () => {
    const r = await rig({ connectTimeoutS: 30, idleAfterMs: 60_000, probeIntervalMs: 60_000 })
    await write(r, 'before')
    r.store.startMonitor()
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    // a transaction that keeps its connection, as a slow statement does, while PostgreSQL answers
    const slow = r.store.transaction(async (tx) => {
      const note = await tx.notes.create({ id: newId(), ownerId: r.ownerId, title: 'slow', body: '' })
      await held
      return note
    })
    await waitFor('the quick probe the slow call prompts', () => r.settledQuickPings(), (n) => n >= 1)
    release()
    const note = await slow
    expect(r.store.status()).toMatchObject({ mode: 'primary', lastFailoverAt: null, primary: { status: 'up' } })
    expect(r.connectDeadlinePings()).toBe(0)
    expect(await r.primary.notes.get(r.ownerId, note.id)).toMatchObject({ title: 'slow' })
  })

  test('a call stuck while PostgreSQL answers other calls (a busy pool) prompts no probe', async () => {
    const r = await rig({ connectTimeoutS: 30, idleAfterMs: 60_000, probeIntervalMs: 60_000, probeTimeoutMs: 1000 })
    const other = await write(r, 'read meanwhile')
    r.store.startMonitor()
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const slow = r.store.transaction(async () => {
      await held
    })
    // reads go on meanwhile, each answered by PostgreSQL, until the held call has waited three deadlines
    const heldSince = Date.now()
    let reads = 0
    while (Date.now() - heldSince < 3000) {
      await r.store.notes.get(r.ownerId, other.id)
      reads++
    }
    release()
    await slow
    expect(reads).toBeGreaterThan(0)
    expect({ quick: r.quickPings(), connectDeadline: r.connectDeadlinePings(), mode: r.store.status().mode }).toEqual({ quick: 0, connectDeadline: 0, mode: 'primary' })
  })

  test('a quick probe that misses its deadline behind a frozen call leaves the answers of that connection in order', async () => {
    const db = await createTestDatabase('probe_order')
    const target = new URL(db.url)
    const proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
    // one connection: the probe is pipelined behind the call in flight on it
    const primary = new PostgresStore({ url: proxy.proxiedUrl(db.url), poolSize: 1, connectTimeoutS: 30, statementTimeoutMs: 15_000, sslmode: 'disable' })
    try {
      await primary.migrate()
      const ownerId = newId()
      await primary.users.create({ id: ownerId, email: `${ownerId}@example.test`, passwordHash: 'x' })
      const [a, b] = [await primary.notes.create({ id: newId(), ownerId, title: 'a', body: '' }), await primary.notes.create({ id: newId(), ownerId, title: 'b', body: '' })]
      // prepared beforehand: a statement sent with its description first is not pipelined behind
      expect((await primary.notes.get(ownerId, a.id))?.title).toBe('a')
      proxy.setMode('blackhole')
      const frozen = primary.notes.get(ownerId, a.id)
      expect(await primary.quickPing(300).then(() => 'answered', () => 'missed')).toBe('missed')
      // a call sent after the probe, behind it on the same connection
      const behind = primary.notes.get(ownerId, b.id)
      proxy.setMode('pass')
      expect((await frozen)?.title).toBe('a')
      // each call gets its own answer, not the one before it
      expect((await behind)?.title).toBe('b')
      expect((await primary.notes.get(ownerId, b.id))?.title).toBe('b')
      expect((await primary.notes.get(ownerId, a.id))?.title).toBe('a')
      expect(await primary.notes.create({ id: newId(), ownerId, title: 'c', body: '' })).toMatchObject({ title: 'c' })
    } finally {
      proxy.setMode('pass')
      await primary.close()
      await proxy.close()
      await db.drop()
    }
  })

  test('after a silence as long as idleness, a slow wake-up is waited for: no failover, nothing journaled', async () => {
    const r = await rig({ connectTimeoutS: 10, idleAfterMs: 1000, idleTimeoutS: 1 })
    await write(r, 'before')
    r.store.startMonitor()
    await waitFor('the primary to be idle', () => r.store.status().primary.idle, (idle) => idle === true)
    await waitFor('the pool to close its idle connections', () => r.proxy.openConnections, (n) => n === 0)
    // the compute wakes: new connections are held 1.5 s, longer than the 300 ms quick probe
    r.proxy.setMode({ wakeMs: 1500 })
    const writing = write(r, 'after the nap')
    // the request wakes the probe; its quick probe meets a held connection and fails, so the
    // confirming probe decides, under the connect deadline
    await waitFor('the confirming probe', () => r.settledPings(), (n) => n >= 1, 20_000)
    const note = await writing
    expect(r.store.status()).toMatchObject({ mode: 'primary', outboxPending: 0, lastFailoverAt: null })
    r.proxy.setMode('pass')
    expect(await r.primary.notes.get(r.ownerId, note.id)).toMatchObject({ title: 'after the nap' })
  })
})
