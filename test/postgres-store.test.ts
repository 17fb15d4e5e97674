// PostgresStore beyond the Store contract: error mapping for real faults, our own deadline, the
// exactly-once outbox replay, concurrent migrations. One fresh database per describe that needs a
// schema of its own, all dropped in afterAll; fault peers on port 0, closed in afterAll.
import { afterAll, beforeAll, describe, expect, spyOn, test } from 'bun:test'
import postgres from 'postgres'
import { connectionOptions } from '../src/db/postgres/connection-options.ts'
import { Deadline, withDeadline } from '../src/db/postgres/deadline.ts'
import { toStoreError } from '../src/db/postgres/errors.ts'
import { REPLAY_SEGMENT } from '../src/db/postgres/replay-entries.ts'
import { PostgresStore, type PostgresStoreOptions } from '../src/db/postgres/postgres-store.ts'
import {
  isStoreError,
  newId,
  StoreError,
  type ReplayOutcome,
  type OutboxEntry,
  type RowChange,
  type User,
} from '../src/db/store.ts'
import { expectStoreError, makeNote, makeUser, noteRow, T0, T1, T2, userRow, type Note } from './helpers/contract-fixtures.ts'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import { createTestDatabase, pgAvailable, requirePostgres, TEST_DATABASE_URL, type TestDatabase } from './helpers/pg.ts'
import { refusedPort, startTcpPeer, type TcpPeer } from './helpers/tcp-peers.ts'

const ok = requirePostgres(await pgAvailable(), 'PostgresStore extras')

const SECRET = 'sekrit-Pa55word'

const options = (url: string, extra: Partial<PostgresStoreOptions> = {}): PostgresStoreOptions => ({
  url,
  poolSize: 2,
  connectTimeoutS: 5,
  statementTimeoutMs: 15_000,
  sslmode: 'disable',
  ...extra,
})

/** the rejection of `promise`, asserted to be a StoreError */
async function storeErrorOf(promise: Promise<unknown>): Promise<StoreError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  if (!isStoreError(error)) throw new Error(`expected a StoreError, got ${String(error)}`)
  return error
}

let seq = 0
const entry = (change: RowChange): OutboxEntry => ({ seq: ++seq, opId: newId(), change, at: T0 })

// ---------------------------------------------------------------------------------------------
// Pure parts: no database needed.

describe('toStoreError', () => {
  const cases: Array<[code: string, kind: string]> = [
    ...['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH'].map((c) => [c, 'unavailable'] as [string, string]),
    ...['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT'].map((c) => [c, 'unavailable'] as [string, string]),
    ['08006', 'unavailable'],
    ['08001', 'unavailable'],
    ['57P01', 'unavailable'],
    ['57P02', 'unavailable'],
    ['57P03', 'unavailable'],
    ['57014', 'unavailable'],
    ['53300', 'unavailable'],
    ['28P01', 'unavailable'],
    ['28000', 'unavailable'],
    ['3D000', 'unavailable'],
    ['23505', 'conflict'],
    ['23503', 'invalid'],
    ['23502', 'invalid'],
    ['22P02', 'invalid'],
    ['22001', 'invalid'],
    ['42P01', 'invalid'],
    ['40001', 'invalid'],
  ]
  for (const [code, kind] of cases) {
    test(`${code} → ${kind}, message without the driver's text`, () => {
      const raw = Object.assign(new Error(`leaky ${SECRET} Key (email)=(a@b.c)`), { code, detail: 'Key (email)=(a@b.c) already exists' })
      const mapped = toStoreError(raw)
      expect(mapped.kind).toBe(kind as StoreError['kind'])
      expect(mapped.message).not.toContain(SECRET)
      expect(mapped.message).not.toContain('a@b.c')
      expect(mapped.cause).toBeUndefined()
    })
  }

  test('an unknown socket-level error (has a syscall) → unavailable; an unknown other error → invalid', () => {
    expect(toStoreError(Object.assign(new Error('x'), { code: 'ESOMETHINGNEW', syscall: 'read' })).kind).toBe('unavailable')
    expect(toStoreError(Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })).kind).toBe('unavailable')
    const generic = toStoreError(new TypeError(`cannot read ${SECRET}`))
    expect([generic.kind, generic.message]).toEqual(['invalid', 'PostgreSQL query failed'])
  })

  test('a StoreError passes through unchanged', () => {
    const e = new StoreError('not_found', 'user not found')
    expect(toStoreError(e)).toBe(e)
  })
})

describe('withDeadline', () => {
  test('resolves with the value of a prompt promise', async () => {
    expect(await withDeadline(Promise.resolve(42), 1000)).toBe(42)
  })

  test('a promise that never settles → StoreError unavailable naming the deadline; onExpire runs once', async () => {
    let expired = 0
    const error = await storeErrorOf(withDeadline(new Promise(() => {}), 20, () => expired++))
    expect([error.kind, error.message]).toEqual(['unavailable', 'PostgreSQL did not answer within 20 ms'])
    expect(expired).toBe(1)
  })

  test('a paused Deadline does not expire; resumed, it does', async () => {
    let expired = 0
    const deadline = new Deadline(10, () => expired++)
    deadline.pause()
    const raced = deadline.race(Bun.sleep(40).then(() => 'done'))
    expect(await raced).toBe('done')
    expect(expired).toBe(0)
    const again = new Deadline(10, () => expired++)
    again.pause()
    again.resume()
    expect((await storeErrorOf(again.race(new Promise(() => {})))).kind).toBe('unavailable')
    expect(expired).toBe(1)
  })
})

describe('connectionOptions', () => {
  const base = { poolSize: 3, connectTimeoutS: 4, statementTimeoutMs: 1234 }

  test('an explicit sslmode in the URL wins over the configured one', () => {
    expect(connectionOptions({ ...base, url: 'postgres://u@h/db?sslmode=disable', sslmode: 'require' }).options.ssl).toBe(false)
    expect(connectionOptions({ ...base, url: 'postgres://u@h/db?sslmode=require', sslmode: 'disable' }).options.ssl).toBe('require')
    expect(connectionOptions({ ...base, url: 'postgres://u@h/db', sslmode: 'prefer' }).options.ssl).toBe('prefer')
    expect(connectionOptions({ ...base, url: 'postgres://u@h/db', sslmode: 'verify-full' }).options.ssl).toEqual({ rejectUnauthorized: true, host: 'h' })
  })

  test('libpq-only parameters leave the URL (the server would refuse them); others stay', () => {
    const { url } = connectionOptions({ ...base, url: 'postgres://u:p%40ss@h:6543/db?sslmode=require&channel_binding=require&options=-c%20x%3Dy', sslmode: 'prefer' })
    const parsed = new URL(url)
    expect([...parsed.searchParams.keys()]).toEqual(['options'])
    expect(parsed.password).toBe('p%40ss')
  })

  test('pool size, timeouts, statement_timeout and application_name as startup parameters, notices silenced', () => {
    const { options: o } = connectionOptions({ ...base, url: 'postgres://u@h/db', sslmode: 'disable' })
    expect([o.max, o.connect_timeout, o.prepare, o.debug]).toEqual([3, 4, true, false])
    expect(o.connection).toEqual({ statement_timeout: 1234, application_name: 'hono-failover-api' })
    expect(typeof o.onnotice).toBe('function')
  })

  test('no backoff before a connection is made again: a reset of the open connections must not hold the next request back', () => {
    const backoff = connectionOptions({ ...base, url: 'postgres://u@h/db', sslmode: 'disable' }).options.backoff as (retries: number) => number
    expect([1, 2, 4, 10, 100].map(backoff)).toEqual([0, 0, 0, 0, 0])
  })
})

// ---------------------------------------------------------------------------------------------
// Faults without a database behind them.

describe('faults without a server', () => {
  const peers: TcpPeer[] = []
  afterAll(() => peers.forEach((p) => p.close()))

  test('refused port → unavailable, message without the URL or password', async () => {
    const store = new PostgresStore(options(`postgres://app:${SECRET}@127.0.0.1:${refusedPort()}/db`))
    const error = await storeErrorOf(store.users.getById(newId()))
    expect(error.kind).toBe('unavailable')
    expect(error.message).toContain('ECONNREFUSED')
    expect(error.message).not.toContain(SECRET)
    expect((await storeErrorOf(store.ping())).kind).toBe('unavailable')
    await store.close()
  })

  test('a server that accepts and never answers → unavailable at our deadline; each later call gets a fresh pool', async () => {
    const peer = startTcpPeer('blackhole')
    peers.push(peer)
    // connect_timeout far beyond the deadline: only our deadline can end these calls; one
    // connection, so a later call gets a new one only if the hung pool was discarded
    const store = new PostgresStore(options(`postgres://app:${SECRET}@127.0.0.1:${peer.port}/db`, { poolSize: 1, connectTimeoutS: 60, deadlineMs: 200 }))
    const first = await storeErrorOf(store.users.getById(newId()))
    expect([first.kind, first.message]).toEqual(['unavailable', 'PostgreSQL did not answer within 200 ms'])
    const acceptedByFirst = peer.accepted
    expect(acceptedByFirst).toBeGreaterThanOrEqual(1)
    const second = await storeErrorOf(store.notes.list(newId(), { limit: 5 }))
    expect(second.kind).toBe('unavailable')
    expect(peer.accepted).toBeGreaterThan(acceptedByFirst)
    const ping = await storeErrorOf(store.ping(150))
    expect(ping.message).toBe('PostgreSQL did not answer within 150 ms')
    const tx = await storeErrorOf(store.transaction(async (t) => t.users.getById(newId())))
    expect(tx.kind).toBe('unavailable')
    await store.close()
  })

  for (const sslmode of ['disable', 'prefer'] as const) {
    test(`a server that closes every connection at once (FIN-on-connect, sslmode ${sslmode}) → unavailable after 3 tries, before the deadline`, async () => {
      const peer = startTcpPeer('close')
      peers.push(peer)
      // a deadline the test would time out on: only the give-up on silent closes can end these calls
      const store = new PostgresStore(options(`postgres://app@127.0.0.1:${peer.port}/db`, { sslmode, connectTimeoutS: 600, deadlineMs: 600_000 }))
      const first = await storeErrorOf(store.ping(600_000))
      expect([first.kind, first.message]).toEqual(['unavailable', 'PostgreSQL is unavailable (CONNECTION_CLOSED: the server closed the connection)'])
      expect(peer.accepted).toBe(3)
      expect((await storeErrorOf(store.users.getById(newId()))).message).toBe('PostgreSQL is unavailable (CONNECTION_CLOSED: the server closed the connection)')
      expect(peer.accepted).toBe(6)
      await store.close()
    })
  }

  test('an unparseable URL → unavailable without quoting it', async () => {
    const store = new PostgresStore(options(`postgres://app:${SECRET}@[not-a-host/db`))
    const error = await storeErrorOf(store.ping())
    expect(error.kind).toBe('unavailable')
    expect(error.message).not.toContain(SECRET)
    await store.close()
  })

  test('after close() every call → unavailable', async () => {
    const store = new PostgresStore(options(`postgres://app@127.0.0.1:${refusedPort()}/db`))
    await store.close()
    expect((await storeErrorOf(store.users.getById(newId()))).kind).toBe('unavailable')
  })
})

// ---------------------------------------------------------------------------------------------
// Against real PostgreSQL.

describe.skipIf(!ok)('PostgresStore on PostgreSQL', () => { // skipped only when PostgreSQL is unreachable: requirePostgres printed why
  let db: TestDatabase
  let admin: postgres.Sql
  const stores: PostgresStore[] = []
  const open = async (extra: Partial<PostgresStoreOptions> = {}, url = db.url): Promise<PostgresStore> => {
    const store = new PostgresStore(options(url, extra))
    stores.push(store)
    return store
  }

  beforeAll(async () => {
    db = await createTestDatabase('pg_store')
    admin = postgres(db.url, { max: 2, onnotice: () => {} })
    await (await open()).migrate()
  })
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()))
    await admin?.end({ timeout: 1 })
    await db?.drop()
  })

  describe('errors and faults', () => {
    test('unknown database (3D000) and unknown role (28000) → unavailable', async () => {
      const unknownDb = new URL(db.url)
      unknownDb.pathname = `/${db.name}_missing`
      expect((await storeErrorOf((await open({}, unknownDb.toString())).ping())).kind).toBe('unavailable')
      const unknownRole = new URL(db.url)
      unknownRole.username = `nobody_${newId().slice(-8)}`
      unknownRole.password = SECRET
      const error = await storeErrorOf((await open({}, unknownRole.toString())).ping())
      expect(error.kind).toBe('unavailable')
      expect(error.message).not.toContain(SECRET)
    })

    test('as(caller): a statement that does not carry the caller check is never sent', async () => {
      const store = await open()
      const user = await store.users.create(makeUser())
      const as = store.as({ userId: user.id, sessionId: newId() })
      // settings are never read for a caller, so their statements carry no check
      await expect(as.settings.get('k')).rejects.toThrow('lacks callerCheck')
      await expect(as.users.create(makeUser())).rejects.toThrow('lacks callerCheck')
      expect(await store.users.getById(user.id)).toEqual(user)
    })

    test('a duplicate email → conflict, the message quotes no value', async () => {
      const store = await open()
      await store.users.create(makeUser({ email: 'dupe-secret@example.com' }))
      const error = await storeErrorOf(store.users.create(makeUser({ email: 'dupe-secret@example.com' })))
      expect(error.kind).toBe('conflict')
      expect(error.message).not.toContain('dupe-secret')
    })

    test('a note of an unknown owner (23503) → invalid; a non-uuid id finds nothing', async () => {
      const store = await open()
      await expectStoreError(store.notes.create(makeNote(newId())), 'invalid')
      expect(await store.users.getById('not-a-uuid')).toBeNull()
      await expectStoreError(store.users.update('not-a-uuid', { name: 'x' }), 'not_found')
      await expectStoreError(store.users.list({ limit: 5, cursor: 'garbage' }), 'invalid')
    })

    test('connections carry application_name and statement_timeout (57014 → unavailable)', async () => {
      const store = await open({ statementTimeoutMs: 100, deadlineMs: 10_000 })
      const user = await store.users.create(makeUser())
      const [conn] = await admin<{ application_name: string }[]>`
        select application_name from pg_stat_activity where datname = ${db.name} and pid <> pg_backend_pid() and application_name <> ''
        and application_name = 'hono-failover-api' limit 1`
      expect(conn?.application_name).toBe('hono-failover-api')
      // a row lock held elsewhere: the store's update waits until the server's statement_timeout
      const error = await admin.begin(async (tx) => {
        await tx`select 1 from users where id = ${user.id} for update`
        return storeErrorOf(store.users.update(user.id, { name: 'blocked' }))
      })
      expect([error.kind, error.message]).toEqual(['unavailable', 'PostgreSQL is unavailable (57014: the statement was cancelled (DB_STATEMENT_TIMEOUT_MS exceeded))'])
      expect((await store.users.update(user.id, { name: 'free' })).name).toBe('free')
    })

    test('pg_terminate_backend of the store connection → unavailable; the next call works', async () => {
      const store = await open()
      const user = await store.users.create(makeUser())
      const locker = postgres(db.url, { max: 1, onnotice: () => {} })
      try {
        const error = await locker.begin(async (tx) => {
          await tx`select 1 from users where id = ${user.id} for update`
          const pending = storeErrorOf(store.users.update(user.id, { name: 'waiting' }))
          const pid = await waitForLockWaiter()
          await admin`select pg_terminate_backend(${pid})`
          return pending
        })
        expect(error.kind).toBe('unavailable')
      } finally {
        await locker.end({ timeout: 1 })
      }
      expect((await store.users.update(user.id, { name: 'after' })).name).toBe('after')
    })

    /** pid of the backend of our database waiting for a lock (the store's update) */
    async function waitForLockWaiter(): Promise<number> {
      for (let i = 0; i < 500; i++) {
        const [row] = await admin<{ pid: number }[]>`
          select pid from pg_stat_activity
          where datname = ${db.name} and application_name = 'hono-failover-api' and wait_event_type = 'Lock'`
        if (row) return row.pid
        await Bun.sleep(10)
      }
      throw new Error('the store never waited for the lock')
    }

    test('a call on a frozen connection fails at the deadline; once the network heals, the next call works', async () => {
      const target = new URL(TEST_DATABASE_URL)
      const proxy: FaultProxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
      try {
        const store = await open({ poolSize: 1, deadlineMs: 300 }, proxy.proxiedUrl(db.url))
        const user = await store.users.create(makeUser())
        proxy.setMode('blackhole')
        const error = await storeErrorOf(store.users.getById(user.id))
        expect([error.kind, error.message]).toEqual(['unavailable', 'PostgreSQL did not answer within 300 ms'])
        proxy.setMode('pass')
        expect(await store.users.getById(user.id)).toEqual(user)
        await store.close()
      } finally {
        await proxy.close()
      }
    })

    test('a transaction frozen midway fails at the deadline with nothing committed; the next one commits', async () => {
      const target = new URL(TEST_DATABASE_URL)
      const proxy: FaultProxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
      try {
        const store = await open({ poolSize: 1, deadlineMs: 300 }, proxy.proxiedUrl(db.url))
        const lost = makeUser()
        const error = await storeErrorOf(
          store.transaction(async (tx) => {
            await tx.users.create(lost)
            proxy.setMode('blackhole')
            return tx.notes.create(makeNote(lost.id))
          }),
        )
        expect([error.kind, error.message]).toEqual(['unavailable', 'PostgreSQL did not answer within 300 ms'])
        proxy.setMode('pass')
        const kept = makeUser()
        await store.transaction(async (tx) => tx.users.create(kept))
        expect((await store.users.getById(kept.id))?.id).toBe(kept.id)
        expect(await store.users.getById(lost.id)).toBeNull()
        await store.close()
      } finally {
        await proxy.close()
      }
    })
  })

  test('postgres.js prints nothing: notices (migrate again raises some) are silenced', async () => {
    const printed: unknown[] = []
    const spies = (['log', 'info', 'warn', 'error'] as const).map((m) => spyOn(console, m).mockImplementation((...args) => printed.push(args)))
    try {
      const store = await open()
      expect((await store.migrate()).applied).toEqual([])
      await expectStoreError(store.users.create(makeUser({ id: 'not-a-uuid' })), 'invalid')
    } finally {
      spies.forEach((s) => s.mockRestore())
    }
    expect(printed).toEqual([])
  })

  describe('replayEntries', () => {
    const conflictRows = async () =>
      admin<{ tbl: string; row_id: string; reason: string }[]>`select tbl, row_id, reason from sync_conflicts order by at, id`

    test('applies a batch once; the same batch again is all duplicate and changes nothing', async () => {
      const store = await open()
      const owner = userRow({ version: 1 })
      const note = noteRow(owner.id)
      const batch = [
        entry({ table: 'users', row: owner }),
        entry({ table: 'notes', row: note }),
        entry({ table: 'notes', row: { ...note, version: 2, updatedAt: T1, title: 'edited' } }),
        entry({ table: 'audit', row: { id: newId(), at: T1, action: 'replayed', actorId: owner.id, targetId: null, ip: null, details: { a: 1 } } }),
        entry({ table: 'settings', row: { key: `k-${newId()}`, value: 'v', updatedAt: T1, version: 1 } }),
      ]
      expect(await store.replayEntries(batch)).toEqual(['applied', 'applied', 'applied', 'applied', 'applied'])
      expect(await store.notes.get(owner.id, note.id)).toEqual({ ...note, version: 2, updatedAt: T1, title: 'edited' })
      expect(await store.replayEntries(batch)).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate'])
      const [count] = await admin<{ n: number }[]>`select count(*)::int as n from applied_ops where op_id = any(${batch.map((e) => e.opId)}::uuid[])`
      expect(count!.n).toBe(5)
      expect(await store.replayEntries([])).toEqual([])
    })

    test('an op id twice in one batch: the second is a duplicate', async () => {
      const store = await open()
      const first = entry({ table: 'users', row: userRow() })
      const again = { ...entry({ table: 'users', row: userRow() }), opId: first.opId }
      expect(await store.replayEntries([first, again])).toEqual(['applied', 'duplicate'])
      expect(await store.users.getById((again.change.row as User).id)).toBeNull()
    })

    test('LWW within and across batches: newer applied, older stale, delete wins, no un-delete', async () => {
      const store = await open()
      const u = userRow({ version: 2, updatedAt: T1 })
      const outcomes = await store.replayEntries([
        entry({ table: 'users', row: u }),
        entry({ table: 'users', row: { ...u, version: 1, updatedAt: T2, name: 'older version' } }),
        entry({ table: 'users', row: { ...u, updatedAt: T0, name: 'same version, older time' } }),
        entry({ table: 'users', row: { ...u, updatedAt: T2, name: 'same version, newer time' } }),
        entry({ table: 'users', row: { ...u, version: 1, updatedAt: T0, deletedAt: T0 } }),
        entry({ table: 'users', row: { ...u, version: 9, updatedAt: T2, deletedAt: null, name: 'resurrect' } }),
      ])
      expect(outcomes).toEqual(['applied', 'stale', 'stale', 'applied', 'applied', 'stale'])
      expect(await store.users.getById(u.id)).toBeNull()
      const exported = await store.exportRows('users', null, 10_000)
      expect(exported.find((c) => (c.row as User).id === u.id)?.row).toEqual({ ...u, version: 1, updatedAt: T0, deletedAt: T0 })
    })

    test('a unique clash and a missing parent → conflict, recorded in sync_conflicts; the rest of the batch applies', async () => {
      const store = await open()
      const live = await store.users.create(makeUser({ email: 'clash-journal@example.com' }))
      const clash = userRow({ email: 'clash-journal@example.com' })
      const orphan = noteRow(newId())
      const fine = [userRow(), userRow()]
      const before = (await conflictRows()).length
      const batch = [
        entry({ table: 'users', row: fine[0]! }),
        entry({ table: 'users', row: clash }),
        entry({ table: 'notes', row: orphan }),
        entry({ table: 'users', row: fine[1]! }),
      ]
      expect(await store.replayEntries(batch)).toEqual(['applied', 'conflict', 'conflict', 'applied'])
      for (const u of fine) expect(await store.users.getById(u.id)).toEqual(u)
      expect(await store.users.getByEmail('clash-journal@example.com')).toEqual(live)
      const recorded = (await conflictRows()).slice(before)
      expect(recorded.map((r) => [r.tbl, r.row_id])).toEqual([
        ['users', clash.id],
        ['notes', orphan.id],
      ])
      expect(recorded[0]!.reason).toBe('unique key clash (users_email_live)')
      expect(recorded[1]!.reason).toBe('missing parent row (notes_owner_id_fkey)')
      const listed = (await store.listConflicts()).filter((c) => c.rowId === orphan.id)
      expect(listed.map((c) => [c.table, c.row])).toEqual([['notes', orphan as unknown as Record<string, unknown>]])
      // replayed again after a crash: nothing new, no second conflict record
      expect(await store.replayEntries(batch)).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate'])
      expect((await conflictRows()).length).toBe(before + 2)
    })

    test('conflicts at segment edges of a large batch: every other entry applied exactly', async () => {
      const store = await open()
      const owner = await store.users.create(makeUser())
      const S = REPLAY_SEGMENT
      const total = 3 * S + 7
      const conflictAt = new Set([0, 1, S - 1, S, S + 1, 2 * S - 1, 2 * S, total - 1])
      const batch = Array.from({ length: total }, (_, i) =>
        entry({ table: 'notes', row: noteRow(conflictAt.has(i) ? newId() : owner.id, { title: `n${i}` }) }),
      )
      const outcomes = await store.replayEntries(batch)
      expect(outcomes).toEqual(batch.map((_, i): ReplayOutcome => (conflictAt.has(i) ? 'conflict' : 'applied')))
      const exported = (await store.exportRows('notes', null, 10_000)).filter((c) => (c.row as Note).ownerId === owner.id)
      expect(exported.length).toBe(total - conflictAt.size)
    })

    test('two stores replaying the same batch at once: every entry takes effect exactly once', async () => {
      const [a, b] = [await open(), await open()]
      const owner = userRow()
      await a.replayEntries([entry({ table: 'users', row: owner })])
      const batch = Array.from({ length: 300 }, (_, i) => entry({ table: 'notes', row: noteRow(owner.id, { title: `c${i}` }) }))
      const [ra, rb] = await Promise.all([a.replayEntries(batch), b.replayEntries(batch)])
      for (let i = 0; i < batch.length; i++) expect([ra[i], rb[i]].sort()).toEqual(['applied', 'duplicate'])
    })
  })

  describe('migrations', () => {
    test('four stores migrating one fresh database at once: each migration is applied once', async () => {
      const fresh = await createTestDatabase('pg_migrate')
      try {
        const racers = await Promise.all([1, 2, 3, 4].map(() => open({}, fresh.url)))
        expect((await racers[0]!.pendingMigrations()).map((m) => m.name)).toEqual(['init', 'caller_check'])
        const reports = await Promise.all(racers.map((s) => s.migrate()))
        expect(reports.filter((r) => r.applied.length > 0).map((r) => r.applied)).toEqual([['0001_init', '0002_caller_check']])
        for (const r of reports.filter((r) => r.applied.length === 0)) expect(r.current).toEqual(['0001_init', '0002_caller_check'])
        expect(await racers[1]!.pendingMigrations()).toEqual([])
        const check = postgres(fresh.url, { max: 1, onnotice: () => {} })
        try {
          const rows = await check<{ version: number }[]>`select version from schema_migrations`
          expect(rows.map((r) => r.version)).toEqual([1, 2])
        } finally {
          await check.end({ timeout: 1 })
        }
        await Promise.all(racers.map((s) => s.close()))
      } finally {
        await fresh.drop()
      }
    })

    test('a changed checksum of an applied migration stops migrate and the dry run with a clear message', async () => {
      const fresh = await createTestDatabase('pg_checksum')
      try {
        const store = await open({}, fresh.url)
        await store.migrate()
        const tamper = postgres(fresh.url, { max: 1, onnotice: () => {} })
        try {
          await tamper`update schema_migrations set checksum = 'not-the-file' where version = 1`
        } finally {
          await tamper.end({ timeout: 1 })
        }
        const error = await storeErrorOf(store.migrate())
        expect(error.kind).toBe('invalid')
        expect(error.message).toBe('migration 0001_init.sql was changed after it was applied (checksum differs); add a new migration instead')
        expect((await storeErrorOf(store.pendingMigrations())).message).toBe(error.message)
        await store.close()
      } finally {
        await fresh.drop()
      }
    })
  })
})
