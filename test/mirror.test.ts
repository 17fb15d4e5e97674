// The mirror copies what PostgreSQL commits into SQLite a few milliseconds later, many rows per
// SQLite write. What must hold: rows reach SQLite in commit order, nothing is journaled, a failed
// batch is reported, and a failover sees every row PostgreSQL acknowledged before it.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Mirror, MIRROR_BATCH_MAX } from '../src/db/mirror.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { newId, type RowChange } from '../src/db/store.ts'
import { failoverOnPostgres } from './helpers/failover-store.ts'
import { pgAvailable, requirePostgres } from './helpers/pg.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

const dir = mkdtempSync(join(tmpdir(), 'mirror-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const setting = (key: string): RowChange => ({ table: 'settings', row: { key, value: key, updatedAt: '2026-01-01T00:00:00.000Z', version: 1 } })

function recorder(opts: { failWith?: Error } = {}) {
  const batches: string[][] = []
  const failures: unknown[] = []
  const mirror = new Mirror({
    apply: async (changes) => {
      batches.push(changes.map((c) => (c.table === 'settings' ? (c.row as { key: string }).key : '?')))
      if (opts.failWith) throw opts.failWith
    },
    failed: (err) => failures.push(err),
    delayMs: 20,
  })
  return { mirror, batches, failures }
}

describe('Mirror', () => {
  test('rows wait for the delay, then go to SQLite together, in the order they came', async () => {
    const { mirror, batches } = recorder()
    mirror.add([setting('a')])
    mirror.add([setting('b'), setting('c')])
    expect(batches).toEqual([])
    await Bun.sleep(40)
    expect(batches).toEqual([['a', 'b', 'c']])
  })

  test('flush() applies what is pending at once and resolves when it is applied', async () => {
    const { mirror, batches } = recorder()
    mirror.add([setting('a')])
    await mirror.flush()
    expect(batches).toEqual([['a']])
    // nothing pending: resolves with the last batch, applies nothing more
    await mirror.flush()
    await Bun.sleep(40)
    expect(batches).toEqual([['a']])
  })

  test(`${MIRROR_BATCH_MAX} rows are applied without waiting for the delay`, () => {
    const { mirror, batches } = recorder()
    mirror.add(Array.from({ length: MIRROR_BATCH_MAX }, (_, i) => setting(`k${i}`)))
    expect(batches).toHaveLength(1)
    expect(batches[0]).toHaveLength(MIRROR_BATCH_MAX)
  })

  test('a batch that fails is reported, and flush() still resolves', async () => {
    const boom = new Error('disk full')
    const { mirror, failures } = recorder({ failWith: boom })
    mirror.add([setting('a')])
    await mirror.flush()
    expect(failures).toEqual([boom])
  })
})

const ok = requirePostgres(await pgAvailable(), 'mirror (FailoverStore on PostgreSQL)')
describe.if(ok)('the mirror of a FailoverStore', () => {
  test('a failover right after a write on PostgreSQL still reads that write on SQLite, and the mirrored rows are not journaled', async () => {
    const { store, fallback, close } = await failoverOnPostgres(dir, 'mirror')
    try {
      const user = await store.users.create({ id: newId(), email: `m-${newId()}@example.com`, name: 'M', passwordHash: 'x', role: 'user' })
      const note = await store.notes.create({ id: newId(), ownerId: user.id, title: 'just written', body: 'on PostgreSQL' })
      // at once, inside the mirror's delay: the rows are not in SQLite yet
      await store.switchToFallback()
      expect(store.status().activeKind).toBe('sqlite')
      expect(await store.notes.get(user.id, note.id)).toEqual(note)
      // only the failover's own audit event waits for replay, not the mirrored rows
      expect(fallback.outbox.peek(100).map((e) => e.change.table)).toEqual(['audit'])
    } finally {
      await close()
    }
  })

  test('a row written in a savepoint that was rolled back (its error caught) never reaches SQLite', async () => {
    const { store, fallback, close } = await failoverOnPostgres(dir, 'mirror')
    try {
      const undone = { id: newId(), email: `u-${newId()}@example.com`, name: 'U', passwordHash: 'x', role: 'user' as const }
      const kept = { id: newId(), email: `k-${newId()}@example.com`, name: 'K', passwordHash: 'x', role: 'user' as const }
      await store.transaction(async (tx) => {
        await tx
          .transaction(async (inner) => {
            await inner.users.create(undone)
            throw new Error('roll the savepoint back')
          })
          .catch(() => undefined)
        await tx.users.create(kept)
      })
      // a failover applies everything the mirror holds before SQLite serves
      await store.switchToFallback()
      expect(await fallback.users.getById(kept.id)).toMatchObject({ email: kept.email })
      expect(await fallback.users.getById(undone.id)).toBeNull()
    } finally {
      await close()
    }
  })

  test('close() applies what is pending before closing SQLite', async () => {
    const { store, close } = await failoverOnPostgres(dir, 'mirror')
    const path = store.status().fallback.path
    let noteId = ''
    let userId = ''
    try {
      const user = await store.users.create({ id: newId(), email: `m-${newId()}@example.com`, name: 'M', passwordHash: 'x', role: 'user' })
      userId = user.id
      noteId = (await store.notes.create({ id: newId(), ownerId: user.id, title: 'last', body: 'before close' })).id
    } finally {
      await close()
    }
    const reopened = new SqliteStore({ path, busyTimeoutS: 5 })
    try {
      expect((await reopened.notes.get(userId, noteId))?.title).toBe('last')
    } finally {
      reopened.close()
    }
  })
})
