// FailoverStore under real PostgreSQL faults, Jepsen style: concurrent writers record every write the
// store acknowledged; a fault is injected through a TCP proxy (or pg_terminate_backend) and healed;
// afterwards every acknowledged write is in PostgreSQL exactly once, with its last acknowledged content.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { newId } from '../src/db/store.ts'
import type { FailoverStore } from '../src/db/failover-store.ts'
import { fallbackIn, primaryModeFailover } from './helpers/failover-store.ts'
import { startFaultProxy, type FaultMode, type FaultProxy } from './helpers/fault-proxy.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { pgBouncerUnavailable, startPgBouncer, type PgBouncer, type PgBouncerStyle } from './helpers/pgbouncer.ts'

const ok = requirePostgres(await pgAvailable(), 'FailoverStore fault injection')
const noBouncer = pgBouncerUnavailable()
if (ok && noBouncer && process.env.REQUIRE_POSTGRES === '1') throw new Error(`FailoverStore fault injection through PgBouncer: ${noBouncer}`)
if (ok && noBouncer) console.warn(`SKIPPED FailoverStore fault injection through PgBouncer: ${noBouncer}`)

/**
 * How the store reaches PostgreSQL: directly, or through a real PgBouncer in transaction mode in
 * either style users meet (helpers/pgbouncer.ts). The fault proxy sits in front of whichever the
 * store talks to: the network between the app and its database is where the faults are.
 */
type Route = 'direct' | PgBouncerStyle
const ROUTES: Route[] = noBouncer ? ['direct'] : ['direct', 'refuses-startup-parameters', 'ignores-startup-parameters']

type Fault = { name: string; inject(h: Harness): Promise<void> | void; heal(h: Harness): void }

interface Harness {
  proxy: FaultProxy
  db: TestDatabase
  admin: postgres.Sql
  store: FailoverStore
  fallback: SqliteStore
}

const proxyFault = (mode: FaultMode): Fault => ({
  name: typeof mode === 'string' ? mode : 'latency',
  inject: (h) => h.proxy.setMode(mode),
  heal: (h) => h.proxy.setMode('pass'),
})

const FAULTS: Fault[] = [
  proxyFault('refuse'),
  proxyFault('reset'),
  proxyFault('blackhole'),
  proxyFault('close'),
  {
    name: 'pg_terminate_backend',
    // Kill every server process of the app's database, repeatedly for the fault window.
    inject: async (h) => {
      for (let i = 0; i < 5; i++) {
        await h.admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${h.db.name} and pid <> pg_backend_pid()`
        await Bun.sleep(100)
      }
    },
    heal: () => {},
  },
]

const WRITERS = 4
/** acknowledged writes before the fault is injected, and again after it is healed, before the writers stop */
const PHASE_WRITES = 12
/** how long a fault lasts */
const FAULT_MS = 1500
/** the writers give up when the phases have not completed by then (the assertions then say which did not) */
const GIVE_UP_MS = 30_000

describe.skipIf(!ok).each(ROUTES)('FailoverStore under PostgreSQL faults (%s)', (route) => { // skipped only when PostgreSQL is unreachable and not required
  const dir = mkdtempSync(join(tmpdir(), 'failover-faults-'))
  const open: Harness[] = []
  let bouncer: PgBouncer | null = null

  async function release(h: Harness): Promise<void> {
    open.splice(open.indexOf(h), 1)
    await h.store.close().catch(() => undefined)
    await h.proxy.close()
    await h.admin.end({ timeout: 1 })
    await h.db.drop()
  }

  afterAll(async () => {
    for (const h of [...open]) await release(h)
    await bouncer?.stop()
    rmSync(dir, { recursive: true, force: true })
  }, 30_000)

  /** the URL the store is given (before the fault proxy): the database itself or the pooler in front of it */
  async function reach(db: TestDatabase): Promise<string> {
    if (route === 'direct') return db.url
    if (!bouncer) {
      const t = new URL(db.url)
      bouncer = await startPgBouncer({ targetHost: t.hostname, targetPort: Number(t.port || 5432), style: route })
    }
    return bouncer.pooledUrl(db.url)
  }

  async function harness(): Promise<Harness> {
    const db = await createTestDatabase('failover_faults')
    const reached = await reach(db)
    const target = new URL(reached)
    const proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
    const primary = new PostgresStore({
      url: proxy.proxiedUrl(reached),
      poolSize: 4,
      connectTimeoutS: 1,
      statementTimeoutMs: 1000,
      deadlineMs: 1500,
      sslmode: 'disable',
    })
    const fallback = fallbackIn(dir)
    const store = primaryModeFailover(dir, primary, fallback, { probeIntervalMs: 100, probeTimeoutMs: 300 })
    await store.init()
    store.startMonitor()
    const admin = postgres(db.url, { max: 1, onnotice: () => {} })
    const h = { proxy, db, admin, store, fallback }
    open.push(h)
    return h
  }

  for (const fault of FAULTS) {
    test(`${fault.name}: every acknowledged write reaches PostgreSQL exactly once`, async () => {
      const h = await harness()
      try {
        await exercise(h, fault)
      } finally {
        await release(h)
      }
    }, 60_000)
  }
})

async function exercise(h: Harness, fault: Fault): Promise<void> {
  const { store } = h
  const owner = await store.users.create({ id: newId(), email: `owner-${newId()}@example.com`, passwordHash: '$2b$10$' + 'x'.repeat(53) })

  // id → last acknowledged title
  const acked = new Map<string, string>()
  // acknowledged writes (creates and edits), and how many there were when the fault came and when it was healed
  let acks = 0
  let acksAtFault: number | null = null
  let acksAtHeal: number | null = null
  let failures = 0
  let faultAt: number | null = null
  let firstFallbackWriteAt: number | null = null
  const started = performance.now()
  const elapsed = () => performance.now() - started
  const givenUp = () => elapsed() > GIVE_UP_MS
  // The phases go by what the writers got acknowledged, not by the clock: a busy machine makes fewer writes per second.
  const until = async (done: () => boolean) => {
    while (!done() && !givenUp()) await Bun.sleep(5)
  }

  const writer = async (w: number) => {
    let n = 0
    while (!(acksAtHeal !== null && acks - acksAtHeal >= PHASE_WRITES) && !givenUp()) {
      n++
      const mine = [...acked.keys()].filter((_, i) => i % WRITERS === w)
      try {
        if (n % 3 === 0 && mine.length > 0) {
          const id = mine[mine.length - 1]!
          const title = `w${w} edit ${n}`
          await store.notes.update(owner.id, id, { title })
          acked.set(id, title)
          acks++
        } else {
          const id = newId()
          const title = `w${w} note ${n}`
          await store.notes.create({ id, ownerId: owner.id, title, body: 'b' })
          acked.set(id, title)
          acks++
        }
        if (firstFallbackWriteAt === null && store.status().mode !== 'primary') firstFallbackWriteAt = elapsed()
      } catch {
        failures++
      }
      await Bun.sleep(5)
    }
  }

  const faults = (async () => {
    await until(() => acks >= PHASE_WRITES)
    acksAtFault = acks
    faultAt = elapsed()
    await fault.inject(h)
    const left = faultAt + FAULT_MS - elapsed()
    if (left > 0) await Bun.sleep(left)
    fault.heal(h)
    acksAtHeal = acks
  })()
  await Promise.all([...Array.from({ length: WRITERS }, (_, w) => writer(w)), faults])

  // Heal: the store must replay by itself and return to the primary.
  for (let i = 0; i < 200 && (store.status().mode !== 'primary' || store.status().outboxPending > 0); i++) await Bun.sleep(50)
  const status = store.status()
  console.log(
    `[${fault.name}] acked=${acked.size} failures=${failures} failover=${status.lastFailoverAt ? 'yes' : 'no'}` +
      ` first fallback write at ${firstFallbackWriteAt === null || faultAt === null ? '-' : Math.round(firstFallbackWriteAt - faultAt)} ms after the fault`,
  )
  // the writers wrote before the fault, and went on writing once it was healed
  expect(acksAtFault ?? 0).toBeGreaterThanOrEqual(PHASE_WRITES)
  expect(acksAtHeal === null ? 0 : acks - acksAtHeal).toBeGreaterThanOrEqual(PHASE_WRITES)
  expect(status.mode).toBe('primary')
  expect(status.outboxPending).toBe(0)
  expect(failures).toBe(0)

  const rows = await h.admin<{ id: string; title: string }[]>`select id::text, title from notes where owner_id = ${owner.id}`
  const inPg = new Map<string, string[]>()
  for (const r of rows) inPg.set(r.id, [...(inPg.get(r.id) ?? []), r.title])
  const missing = [...acked.keys()].filter((id) => !inPg.has(id))
  expect(missing).toEqual([])
  const wrong = [...acked].filter(([id, title]) => inPg.get(id)!.length !== 1 || inPg.get(id)![0] !== title)
  expect(wrong).toEqual([])
  expect(rows.length).toBe(acked.size)
  const conflicts = await h.admin`select count(*)::int as n from sync_conflicts`
  expect(conflicts[0]!.n).toBe(0)
}
