// SqliteStore beyond the Store contract: outbox recording, snapshot replace, last-writer-wins
// details, export paging, pragmas, checkpoint, backup, migrations, error mapping and the async
// transaction lock. Every store lives in its own file under one temp folder removed in afterAll.
import { Database } from 'bun:sqlite'
import { afterAll, afterEach, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrateSqlite, pendingSqliteMigrations } from '../src/db/sqlite/migrate.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import {
  isStoreError,
  newId,
  StoreError,
  type RowChange,
  type Store,
  type SyncTable,
  type TableRow,
  type User,
} from '../src/db/store.ts'
import { clockPast, expectStoreError, makeAudit, makeNote, makeSession, makeUser } from './helpers/contract-fixtures.ts'

const root = mkdtempSync(join(tmpdir(), 'sqlite-store-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const opened: SqliteStore[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
})

const dbPath = () => join(root, `${newId()}.db`)

async function freshStore(path = dbPath(), busyTimeoutS = 5): Promise<SqliteStore> {
  const store = new SqliteStore({ path, busyTimeoutS })
  opened.push(store)
  await store.migrate()
  return store
}

/** a promise plus the function that settles it: lets a test hold a transaction open */
function gate() {
  const { promise, resolve } = Promise.withResolvers<void>()
  return { wait: promise, open: resolve }
}

const outboxChanges = (s: SqliteStore) => s.outbox.peek(1000).map((e) => e.change)

async function userWithSession(s: Store) {
  const user = await s.users.create(makeUser())
  const session = await s.sessions.create(makeSession(user.id))
  return { user, session }
}

async function allRows(s: SqliteStore): Promise<RowChange[]> {
  const rows: RowChange[] = []
  for (const t of ['users', 'sessions', 'notes', 'audit', 'settings'] as SyncTable[]) rows.push(...(await s.exportRows(t, null, 10_000)))
  return rows
}

describe('opening', () => {
  test('creates missing parent folders, uses WAL for files and applies the pragmas', async () => {
    const path = join(root, newId(), 'nested', 'app.db')
    const store = await freshStore(path)
    expect(statSync(path).isFile()).toBe(true)
    expect(store.path).toBe(path)
    expect(store.kind).toBe('sqlite')
    expect(store.journalMode()).toBe('wal')
    expect(store.synchronous()).toBe('NORMAL')
    // foreign_keys=ON: a session of an unknown user is refused
    await expectStoreError(store.sessions.create(makeSession(newId())), 'invalid')
  })

  test(':memory: works without a file', async () => {
    const store = await freshStore(':memory:')
    expect(store.journalMode()).toBe('memory')
    await store.users.create(makeUser())
  })

  test('a path that cannot be a database file → unavailable, naming the path, not crashing', () => {
    const blocker = join(root, `${newId()}-file`)
    writeFileSync(blocker, 'a plain file where a folder should be')
    for (const path of [join(blocker, 'app.db'), blocker, root]) {
      let error: unknown
      try {
        opened.push(new SqliteStore({ path, busyTimeoutS: 1 }))
      } catch (e) {
        error = e
      }
      expect(isStoreError(error, 'unavailable')).toBe(true)
      expect((error as Error).message).toContain(`cannot open the SQLite database at ${path}`)
    }
  })
})

describe('recording in the outbox', () => {
  test('off by default: writes leave no outbox entries', async () => {
    const s = await freshStore()
    await userWithSession(s)
    expect(s.outbox.count()).toBe(0)
  })

  test('on: every write appends exactly the rows it produced, in order', async () => {
    const s = await freshStore()
    s.setOutboxRecording(true)
    const user = await s.users.create(makeUser())
    const updated = await s.users.update(user.id, { name: 'Renamed' })
    const first = await s.sessions.create(makeSession(user.id))
    const next = makeSession(user.id)
    const rotated = await s.sessions.rotate(first.id, next)
    const other = await s.sessions.create(makeSession(user.id))
    const revokedCount = await s.sessions.revokeAllForUser(user.id)
    const note = await s.notes.create(makeNote(user.id))
    await s.notes.softDelete(user.id, note.id)
    const event = await s.audit.append(makeAudit())
    await s.settings.set('k', 'v')

    expect(revokedCount).toBe(2)
    const fresh = async (hash: string) => (await s.sessions.getByTokenHash(hash))!
    const changes = outboxChanges(s)
    expect(changes.map((c) => c.table)).toEqual(['users', 'users', 'sessions', 'sessions', 'sessions', 'sessions', 'sessions', 'sessions', 'notes', 'notes', 'audit', 'settings'])
    expect(changes[0]).toEqual({ table: 'users', row: user })
    expect(changes[1]).toEqual({ table: 'users', row: updated })
    expect(changes[2]).toEqual({ table: 'sessions', row: first })
    // rotate: the old session revoked and replaced, then the new one
    expect(changes[3]!.row).toMatchObject({ id: first.id, replacedBy: next.id, version: 2 })
    expect(changes[4]).toEqual({ table: 'sessions', row: rotated! })
    expect(changes[5]).toEqual({ table: 'sessions', row: other })
    // revokeAllForUser: each revoked row as it now stands
    const revoked = changes.slice(6, 8).map((c) => c.row)
    expect(revoked).toEqual(expect.arrayContaining([await fresh(rotated!.tokenHash), await fresh(other.tokenHash)]))
    expect(changes[9]!.row).toMatchObject({ id: note.id, version: 2 })
    expect((changes[9]!.row as { deletedAt: string | null }).deletedAt).not.toBeNull()
    expect(changes[10]).toEqual({ table: 'audit', row: event })
    expect(changes[11]!.row).toMatchObject({ key: 'k', value: 'v', version: 1 })

    const entries = s.outbox.peek(100)
    expect(new Set(entries.map((e) => e.opId)).size).toBe(entries.length)
    expect(entries.map((e) => e.seq)).toEqual([...entries.map((e) => e.seq)].sort((a, b) => a - b))
  })

  test('writes that fail or change nothing leave no entries', async () => {
    const s = await freshStore()
    const user = await s.users.create(makeUser())
    const event = await s.audit.append(makeAudit())
    s.setOutboxRecording(true)
    await expectStoreError(s.users.create(makeUser({ email: user.email })), 'conflict')
    await expectStoreError(s.users.update(newId(), { name: 'x' }), 'not_found')
    await expectStoreError(s.notes.create(makeNote(newId())), 'invalid')
    expect(await s.sessions.rotate(newId(), makeSession(user.id))).toBeNull()
    await s.sessions.revoke(newId())
    await s.audit.append({ id: event.id, action: event.action })
    expect((await s.users.createIfAbsent(makeUser({ email: user.email }))).created).toBe(false)
    expect(s.outbox.count()).toBe(0)
  })

  test('the entry is written in the same transaction: a throwing sink undoes row and entry together', async () => {
    const s = await freshStore()
    s.setOutboxRecording(true)
    const seen: number[] = []
    const failing = s.withChangeSink(() => {
      // the sink runs inside the write's transaction, after the outbox insert
      seen.push(s.outbox.count())
      throw new Error('sink failed')
    })
    const input = makeUser()
    await expect(failing.users.create(input)).rejects.toThrow('sink failed')
    expect(seen).toEqual([1])
    expect(s.outbox.count()).toBe(0)
    expect(await s.users.getById(input.id)).toBeNull()
  })

  test('inside transaction(): entries commit with it and vanish with a rollback', async () => {
    const s = await freshStore()
    s.setOutboxRecording(true)
    await expect(
      s.transaction(async (tx) => {
        await tx.users.create(makeUser())
        throw new Error('abort')
      }),
    ).rejects.toThrow('abort')
    expect(s.outbox.count()).toBe(0)
    const user = await s.transaction(async (tx) => tx.users.create(makeUser()))
    expect(outboxChanges(s)).toEqual([{ table: 'users', row: user }])
  })

  test('inside transaction(): the sink hears of writes only when they commit', async () => {
    const s = await freshStore()
    const heard: TableRow[] = []
    const sinkStore = s.withChangeSink((c) => heard.push(c))
    let heardBeforeCommit = -1
    await expect(
      sinkStore.transaction(async (tx) => {
        await tx.users.create(makeUser())
        heardBeforeCommit = heard.length
        throw new Error('abort')
      }),
    ).rejects.toThrow('abort')
    expect(heardBeforeCommit).toBe(0)
    expect(heard).toEqual([])
    const user = await sinkStore.transaction((tx) => tx.users.create(makeUser()))
    expect(heard).toEqual([{ table: 'users', row: user }])
  })

  test('peek returns oldest first; ack deletes up to a seq; seqs are never reused', async () => {
    const s = await freshStore()
    s.setOutboxRecording(true)
    for (let i = 0; i < 5; i++) await s.settings.set(`k${i}`, String(i))
    const all = s.outbox.peek(10)
    expect(all.map((e) => (e.change.row as { key: string }).key)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4'])
    expect(s.outbox.peek(2)).toEqual(all.slice(0, 2))

    s.outbox.ack(all[1]!.seq)
    expect(s.outbox.count()).toBe(3)
    expect(s.outbox.peek(10)).toEqual(all.slice(2))
    s.outbox.ack(all[1]!.seq) // repeated ack: nothing more goes
    expect(s.outbox.count()).toBe(3)

    s.outbox.ack(all[4]!.seq)
    expect(s.outbox.count()).toBe(0)
    await s.settings.set('k5', '5')
    expect(s.outbox.peek(1)[0]!.seq).toBeGreaterThan(all[4]!.seq)
  })

  test('turning outbox recording off stops new entries and keeps the old ones', async () => {
    const s = await freshStore()
    s.setOutboxRecording(true)
    await s.settings.set('a', '1')
    s.setOutboxRecording(false)
    await s.settings.set('b', '2')
    expect(outboxChanges(s).map((c) => (c.row as { key: string }).key)).toEqual(['a'])
  })
})

describe('replaceAll', () => {
  async function populated() {
    const s = await freshStore()
    const { user, session } = await userWithSession(s)
    const note = await s.notes.create(makeNote(user.id))
    await s.audit.append(makeAudit({ actorId: user.id }))
    await s.settings.set('jwt', 'secret')
    return { s, user, session, note }
  }

  test('swaps every table for the snapshot, children given first still land', async () => {
    const { s: source } = await populated()
    const target = await freshStore()
    await userWithSession(target) // rows the snapshot must remove
    await target.settings.set('old', 'x')
    const snapshot = await allRows(source)
    target.replaceAll([...snapshot].reverse())
    expect(await allRows(target)).toEqual(snapshot)
  })

  test('a snapshot given in pages stays out of sight until finish(); abort() forgets it; no staging table is left', async () => {
    const { s: source } = await populated()
    const target = await freshStore()
    await userWithSession(target)
    const before = await allRows(target)
    const snapshot = await allRows(source)
    const db = (target as unknown as { conn: { db: Database } }).conn.db
    const stagingTables = () => db.query<{ n: number }, []>("SELECT count(*) AS n FROM sqlite_temp_master WHERE name LIKE 'snapshot_%'").get()!.n
    // 1 = FILE, 2 = MEMORY: staged pages go to a temporary file, savepoints stay in memory otherwise
    const tempStore = () => db.query<{ temp_store: number }, []>('PRAGMA temp_store').get()!.temp_store
    expect(tempStore()).toBe(2)

    const dropped = target.beginSnapshot()
    dropped.stage(snapshot.slice(0, 2))
    expect(tempStore()).toBe(1)
    expect(await allRows(target)).toEqual(before)
    dropped.abort()
    expect(stagingTables()).toBe(0)
    expect(tempStore()).toBe(2)
    expect(await allRows(target)).toEqual(before)

    const copy = target.beginSnapshot()
    // one row per page, children before parents: only the swap checks the foreign keys
    for (const row of [...snapshot].reverse()) {
      copy.stage([row])
      expect(await allRows(target)).toEqual(before)
    }
    // the store keeps serving writes meanwhile; the snapshot replaces them too
    await target.settings.set('during', 'copy')
    copy.finish()
    expect(await allRows(target)).toEqual(snapshot)
    expect(stagingTables()).toBe(0)
    expect(tempStore()).toBe(2)
  })

  test('a snapshot the foreign keys reject changes nothing', async () => {
    const { s } = await populated()
    const before = await allRows(s)
    const orphan = makeSession(newId())
    const bad: RowChange = {
      table: 'sessions',
      row: { ...orphan, revokedAt: null, replacedBy: null, createdAt: orphan.expiresAt, updatedAt: orphan.expiresAt, version: 1 },
    }
    let error: unknown
    try {
      s.replaceAll([bad])
    } catch (e) {
      error = e
    }
    expect(isStoreError(error, 'invalid')).toBe(true)
    expect(await allRows(s)).toEqual(before)
  })

  test('refuses while the outbox holds writes PostgreSQL has not received', async () => {
    const { s } = await populated()
    s.setOutboxRecording(true)
    await s.settings.set('pending', 'write')
    const before = await allRows(s)
    expect(() => s.replaceAll([])).toThrow(/outbox/)
    expect(await allRows(s)).toEqual(before)
    s.outbox.ack(s.outbox.peek(1)[0]!.seq)
    s.replaceAll([])
    expect(await allRows(s)).toEqual([])
    // a snapshot is not a write of ours: nothing to replay
    expect(s.outbox.count()).toBe(0)
  })
})

describe('applyChange', () => {
  const userRow = (base: User, over: Partial<User>): RowChange => ({ table: 'users', row: { ...base, ...over } })

  test('last writer wins: version, then updatedAt; deletes win and stick', async () => {
    const s = await freshStore()
    const stored = await s.users.create(makeUser())
    const later = '2999-01-01T00:00:00.000Z'
    const earlier = '2000-01-01T00:00:00.000Z'
    const cases: Array<[string, Partial<User>, 'applied' | 'stale']> = [
      ['same row again', {}, 'stale'],
      ['older version', { version: 0, name: 'old' }, 'stale'],
      ['equal version, earlier updatedAt', { name: 'older', updatedAt: earlier }, 'stale'],
      ['equal version, later updatedAt', { name: 'newer', updatedAt: later }, 'applied'],
      ['higher version, earlier updatedAt', { name: 'v5', version: 5, updatedAt: earlier }, 'applied'],
      ['delete with a lower version', { version: 2, deletedAt: later }, 'applied'],
      ['live row with a higher version over the delete', { version: 9, name: 'revived' }, 'stale'],
    ]
    for (const [label, over, outcome] of cases) {
      const current = (await s.exportRows('users', null, 10))[0]!.row as User
      const incoming = userRow(stored, over)
      expect(`${label}: ${await s.applyChange(incoming)}`).toBe(`${label}: ${outcome}`)
      expect((await s.exportRows('users', null, 10))[0]!.row).toEqual(outcome === 'applied' ? incoming.row : current)
    }
    expect(await s.users.getById(stored.id)).toBeNull()
  })

  test('a row the table refuses (CHECK, NOT NULL): stale when the stored row wins anyway, else invalid, nothing written', async () => {
    const s = await freshStore()
    const stored = await s.users.create(makeUser())
    expect(await s.applyChange(userRow(stored, { version: 0, updatedAt: '2999-01-01T00:00:00.000Z' }))).toBe('stale')
    await expectStoreError(s.applyChange(userRow(stored, { version: 2, role: 'owner' as User['role'] })), 'invalid')
    await expectStoreError(s.applyChange(userRow(stored, { id: newId(), email: 'absent@example.com', version: 0 })), 'invalid')
    expect((await s.exportRows('users', null, 10)).map((c) => c.row)).toEqual([stored])
  })

  test('a unique clash with another row → conflict, nothing written or recorded in the outbox', async () => {
    const s = await freshStore()
    const holder = await s.users.create(makeUser())
    const other = await s.users.create(makeUser())
    s.setOutboxRecording(true)
    expect(await s.applyChange(userRow(other, { email: holder.email, version: 2 }))).toBe('conflict')
    expect(await s.users.getById(other.id)).toEqual(other)
    const intruder = { ...other, id: newId() }
    expect(await s.applyChange(userRow(intruder, { email: holder.email }))).toBe('conflict')
    expect(await s.exportRows('users', null, 10)).toHaveLength(2)
    expect(s.outbox.count()).toBe(0)
  })

  test('applied rows are recorded in the outbox while recording is on; stale ones are not', async () => {
    const s = await freshStore()
    const user = await s.users.create(makeUser())
    s.setOutboxRecording(true)
    const newer = userRow(user, { name: 'from primary', version: 2 })
    expect(await s.applyChange(newer)).toBe('applied')
    expect(await s.applyChange(newer)).toBe('stale')
    const event = { ...makeAudit(), at: user.createdAt, actorId: null, targetId: null, ip: null, details: null }
    expect(await s.applyChange({ table: 'audit', row: event })).toBe('applied')
    expect(await s.applyChange({ table: 'audit', row: event })).toBe('stale')
    expect(outboxChanges(s)).toEqual([newer, { table: 'audit', row: event }])
  })

  test('a row whose parent is missing → invalid, not conflict', async () => {
    const s = await freshStore()
    const n = makeNote(newId())
    const note: RowChange = { table: 'notes', row: { ...n, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', version: 1, deletedAt: null } }
    await expectStoreError(s.applyChange(note), 'invalid')
  })

  test('notes applied through applyChange are found by search', async () => {
    const s = await freshStore()
    const user = await s.users.create(makeUser())
    const note = await s.notes.create(makeNote(user.id, { title: 'plain' }))
    await s.applyChange({ table: 'notes', row: { ...note, title: 'Zebra Crossing', version: 2 } })
    expect((await s.notes.list(user.id, { limit: 10, q: 'zebra' })).items.map((n) => n.id)).toEqual([note.id])
  })
})

describe('exportRows', () => {
  test('pages through every row in key order, soft-deleted included, records only', async () => {
    const s = await freshStore()
    const ids: string[] = []
    for (let i = 0; i < 25; i++) ids.push((await s.users.create(makeUser())).id)
    for (const id of ids.slice(0, 5)) await s.users.softDelete(id)
    const pages: string[][] = []
    let after: string | null = null
    for (;;) {
      const page: RowChange[] = await s.exportRows('users', after, 10)
      pages.push(page.map((c) => (c.row as User).id))
      if (page.length < 10) break
      after = pages.at(-1)!.at(-1)!
    }
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5])
    expect(pages.flat()).toEqual([...ids].sort())

    const user = await s.users.create(makeUser())
    const [note] = [await s.notes.create(makeNote(user.id))]
    const exported = await s.exportRows('notes', null, 10)
    expect(exported).toEqual([{ table: 'notes', row: note! }])
    expect(Object.keys(exported[0]!.row)).not.toContain('search_text')
  })

  test('settings export by key', async () => {
    const s = await freshStore()
    for (const k of ['b', 'a', 'c']) await s.settings.set(k, k.toUpperCase())
    expect((await s.exportRows('settings', null, 10)).map((c) => (c.row as { key: string }).key)).toEqual(['a', 'b', 'c'])
    expect((await s.exportRows('settings', 'a', 1)).map((c) => (c.row as { key: string }).key)).toEqual(['b'])
  })
})

describe('pragmas, checkpoint and backup', () => {
  test('setSynchronous switches between NORMAL and FULL', async () => {
    const s = await freshStore()
    s.setSynchronous('FULL')
    expect(s.synchronous()).toBe('FULL')
    s.setSynchronous('NORMAL')
    expect(s.synchronous()).toBe('NORMAL')
  })

  test('setSynchronous during an open transaction takes effect when it ends', async () => {
    const s = await freshStore()
    await s.transaction(async (tx) => {
      await tx.settings.set('k', 'v')
      s.setSynchronous('FULL')
      expect(s.synchronous()).toBe('NORMAL')
    })
    expect(s.synchronous()).toBe('FULL')
  })

  test('checkpoint moves the WAL into the database file and truncates it', async () => {
    const path = dbPath()
    const s = await freshStore(path)
    for (let i = 0; i < 50; i++) await s.notes.create(makeNote((await s.users.create(makeUser())).id, { body: 'x'.repeat(500) }))
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0)
    s.checkpoint()
    expect(statSync(`${path}-wal`).size).toBe(0)
    // a second connection that never saw the WAL reads every row from the main file
    const copy = join(root, `${newId()}.db`)
    writeFileSync(copy, new Uint8Array(await Bun.file(path).arrayBuffer()))
    const reader = new Database(copy, { readonly: true })
    expect(reader.query<{ n: number }, []>('SELECT count(*) AS n FROM notes').get()!.n).toBe(50)
    reader.close()
  })

  test('backupTo writes a consistent, readable, owner-only copy and refuses to overwrite', async () => {
    const s = await freshStore()
    const { user } = await userWithSession(s)
    await s.notes.create(makeNote(user.id))
    const file = join(root, newId(), 'backups', 'app-backup.db')
    s.backupTo(file)
    expect(statSync(file).mode & 0o777).toBe(0o600)

    const check = new Database(file, { readonly: true })
    expect(check.query<{ integrity_check: string }, []>('PRAGMA integrity_check').get()!.integrity_check).toBe('ok')
    check.close()
    const restored = await freshStore(file)
    expect(await allRows(restored)).toEqual(await allRows(s))

    expect(() => s.backupTo(file)).toThrow(StoreError)
  })
})

describe('migrations', () => {
  function migrationDir(files: Record<string, string>): string {
    const dir = join(root, newId())
    mkdirSync(dir)
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql)
    return dir
  }

  test('pending lists unapplied files without writing; migrate applies and records them once', () => {
    const dir = migrationDir({ '0001_one.sql': 'CREATE TABLE one (x TEXT) STRICT;', '0002_two.sql': 'CREATE TABLE two (y TEXT) STRICT;' })
    const db = new Database(':memory:')
    expect(pendingSqliteMigrations(db, dir).map((m) => m.name)).toEqual(['one', 'two'])
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'schema_migrations'").get()).toBeNull()

    expect(migrateSqlite(db, dir)).toEqual({ applied: ['0001_one', '0002_two'], current: [] })
    expect(migrateSqlite(db, dir)).toEqual({ applied: [], current: ['0001_one', '0002_two'] })
    expect(pendingSqliteMigrations(db, dir)).toEqual([])
    const rows = db.query<{ version: number; name: string; checksum: string; applied_at: string }, []>('SELECT * FROM schema_migrations').all()
    expect(rows.map((r) => [r.version, r.name, r.checksum.length])).toEqual([[1, 'one', 64], [2, 'two', 64]])
    db.close()
  })

  test('a failing file is rolled back whole and stops the run', () => {
    const dir = migrationDir({
      '0001_ok.sql': 'CREATE TABLE ok (x TEXT) STRICT;',
      '0002_broken.sql': 'CREATE TABLE half (x TEXT) STRICT; INSERT INTO missing VALUES (1);',
      '0003_later.sql': 'CREATE TABLE later (x TEXT) STRICT;',
    })
    const db = new Database(':memory:')
    let error: unknown
    try {
      migrateSqlite(db, dir)
    } catch (e) {
      error = e
    }
    expect(isStoreError(error, 'invalid')).toBe(true)
    expect((error as Error).message).toBe('SQLite migration 0002_broken.sql failed (SQLITE_ERROR); none of it was applied')
    const tables = db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((t) => t.name)
    expect(tables).toEqual(['ok', 'schema_migrations'])
    db.close()
  })

  test('an applied file whose checksum changed stops migrate with a clear message', async () => {
    const path = dbPath()
    const s = await freshStore(path)
    expect(s.pendingMigrations()).toEqual([])
    const other = new Database(path)
    other.run("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    other.close()
    let error: unknown
    try {
      await s.migrate()
    } catch (e) {
      error = e
    }
    expect(isStoreError(error, 'invalid')).toBe(true)
    expect((error as Error).message).toBe(
      'SQLite: migration 0001_init.sql was changed after it was applied (checksum differs); add a new migration instead',
    )
    expect(() => s.pendingMigrations()).toThrow('checksum differs')
  })

  test('a fresh store reports 0001_init pending until migrate', () => {
    const s = new SqliteStore({ path: ':memory:', busyTimeoutS: 1 })
    opened.push(s)
    expect(s.pendingMigrations().map((m) => m.name)).toEqual(['init'])
  })
})

describe('errors', () => {
  test('messages name the problem, never the values', async () => {
    const s = await freshStore()
    const user = await s.users.create(makeUser())
    const messages: string[] = []
    const collect = (p: Promise<unknown>) => p.catch((e: Error) => messages.push(`${(e as StoreError).kind}: ${e.message}`))
    await collect(s.users.create(makeUser({ email: user.email })))
    await collect(s.users.create(makeUser({ id: user.id, email: `other-${newId()}@example.com` })))
    await collect(s.users.create(makeUser({ role: 'root' as 'user' })))
    await collect(s.sessions.create(makeSession(newId())))
    await collect(s.notes.update(user.id, newId(), { title: 't' }))
    await collect(s.users.list({ limit: 0 }))
    expect(messages).toEqual([
      'conflict: email already in use',
      'conflict: a user with this id already exists',
      'invalid: a value is not allowed',
      'invalid: user does not exist',
      'not_found: note not found',
      'invalid: limit must be an integer from 1 to 100',
    ])
  })

  test('a database locked by another connection → unavailable (SQLITE_BUSY), no SQL in the message', async () => {
    const path = dbPath()
    const holder = await freshStore(path)
    const waiter = await freshStore(path, 0)
    const held = gate()
    const entered = gate()
    const transaction = holder.transaction(async (tx) => {
      await tx.settings.set('lock', 'held')
      entered.open()
      await held.wait
    })
    await entered.wait
    let error: unknown
    try {
      await waiter.users.create(makeUser({ email: 'secret-looking@example.com' }))
    } catch (e) {
      error = e
    } finally {
      held.open()
    }
    await transaction
    expect(isStoreError(error, 'unavailable')).toBe(true)
    expect((error as Error).message).toBe('SQLite database unavailable (SQLITE_BUSY)')
  })

  test('a closed store → unavailable for async and sync calls alike', async () => {
    const s = await freshStore()
    await s.close()
    await s.close()
    await expectStoreError(s.ping(), 'unavailable')
    await expectStoreError(s.users.getById(newId()), 'unavailable')
    expect(() => s.outbox.count()).toThrow('SQLite store is closed')
  })
})

describe('the async transaction lock', () => {
  test('a concurrent non-tx write waits for the transaction and is not rolled back with it', async () => {
    const s = await freshStore()
    const events: string[] = []
    const held = gate()
    const entered = gate()
    const inTx = makeUser()
    const outside = makeUser()
    const transaction = s
      .transaction(async (tx) => {
        await tx.users.create(inTx)
        entered.open()
        await held.wait
        // the outside write has been issued but has not run inside this transaction
        expect(await tx.users.getById(outside.id)).toBeNull()
        throw new Error('roll back')
      })
      .catch((e: Error) => events.push(`transaction: ${e.message}`))
    await entered.wait
    const write = s.users.create(outside).then(() => events.push('outside write done'))
    const read = s.users.getById(inTx.id).then((u) => events.push(`outside read: ${u === null ? 'nothing' : 'uncommitted row'}`))
    held.open()
    await Promise.all([transaction, write, read])
    // the write is acknowledged at its group COMMIT, which may come after the read's answer
    expect(events[0]).toBe('transaction: roll back')
    expect(events.slice(1).sort()).toEqual(['outside read: nothing', 'outside write done'])
    expect(await s.users.getById(outside.id)).not.toBeNull()
    expect(await s.users.getById(inTx.id)).toBeNull()
  })

  test('transactions run one after another, in the order they were asked for', async () => {
    const s = await freshStore()
    const events: string[] = []
    const held = gate()
    const first = s.transaction(async (tx) => {
      events.push('first starts')
      await held.wait
      await tx.settings.set('order', 'first')
      events.push('first ends')
    })
    const second = s.transaction(async (tx) => {
      events.push('second starts')
      await tx.settings.set('order', 'second')
    })
    held.open()
    await Promise.all([first, second])
    expect(events).toEqual(['first starts', 'first ends', 'second starts'])
    expect(await s.settings.get('order')).toBe('second')
  })

  test('a nested transaction is a savepoint: its throw undoes only its own writes', async () => {
    const s = await freshStore()
    const outer = makeUser()
    const inner = makeUser()
    await s.transaction(async (tx) => {
      await tx.users.create(outer)
      await expect(
        tx.transaction(async (nested) => {
          await nested.users.create(inner)
          throw new Error('inner fails')
        }),
      ).rejects.toThrow('inner fails')
      expect(await tx.users.getById(inner.id)).toBeNull()
    })
    expect(await s.users.getById(outer.id)).not.toBeNull()
    expect(await s.users.getById(inner.id)).toBeNull()
  })

  test('inside fn, the store outside tx fails at once instead of waiting for fn forever', async () => {
    const s = await freshStore()
    const input = makeUser()
    const other = makeUser()
    await s.transaction(async (tx) => {
      await tx.users.create(input)
      await expectStoreError(s.users.create(other), 'invalid')
      await tx.transaction(async (nested) => {
        await expectStoreError(tx.users.getById(input.id), 'invalid')
        expect(await nested.users.getById(input.id)).not.toBeNull()
      })
      // the nested transaction has ended: tx is usable again
      expect(await tx.users.getById(input.id)).not.toBeNull()
    })
    expect(await s.users.getById(input.id)).not.toBeNull()
    expect(await s.users.getById(other.id)).toBeNull()
  })

  test('tx used after its transaction ended → invalid, nothing written', async () => {
    const s = await freshStore()
    let leaked: Store | null = null
    await s.transaction(async (tx) => {
      leaked = tx
    })
    const input = makeUser()
    await expectStoreError(leaked!.users.create(input), 'invalid')
    expect(await s.users.getById(input.id)).toBeNull()
  })

  test('replay bookkeeping during an open transaction: committed entries only, acks and conflicts outlive its rollback', async () => {
    const path = dbPath()
    const s = await freshStore(path)
    s.setOutboxRecording(true)
    await s.settings.set('a', '1')
    await s.settings.set('b', '2')
    const held = gate()
    const entered = gate()
    const transaction = s
      .transaction(async (tx) => {
        await tx.settings.set('uncommitted', 'x')
        entered.open()
        await held.wait
        throw new Error('roll back')
      })
      .catch((e: Error) => e.message)
    await entered.wait
    const keys = () => s.outbox.peek(10).map((e) => (e.change.row as { key: string }).key)
    const conflict = { id: newId(), at: '2026-01-01T00:00:00.000Z', table: 'users', rowId: newId(), reason: 'email clash', row: { email: '***' } }
    try {
      expect(keys()).toEqual(['a', 'b'])
      expect(s.outbox.count()).toBe(2)
      // acking beyond what was peeked never takes the open transaction's own entry
      s.outbox.ack(Number.MAX_SAFE_INTEGER)
      expect(keys()).toEqual([])
      expect(s.outbox.count()).toBe(0)
      s.recordConflict(conflict)
      expect(s.listConflicts()).toEqual([conflict])
    } finally {
      held.open()
    }
    expect(await transaction).toBe('roll back')
    expect(s.outbox.count()).toBe(0)
    expect(s.listConflicts()).toEqual([conflict])
    const reader = new Database(path, { readonly: true })
    expect(reader.query<{ n: number }, []>('SELECT count(*) AS n FROM outbox').get()!.n).toBe(0)
    expect(reader.query<{ id: string }, []>('SELECT id FROM sync_conflicts').all()).toEqual([{ id: conflict.id }])
    reader.close()
  })

  test('entries of a transaction that commits become visible, and only after it commits', async () => {
    const s = await freshStore()
    s.setOutboxRecording(true)
    const held = gate()
    const entered = gate()
    const transaction = s.transaction(async (tx) => {
      await tx.settings.set('k', 'v')
      entered.open()
      await held.wait
    })
    await entered.wait
    try {
      expect(s.outbox.count()).toBe(0)
    } finally {
      held.open()
    }
    await transaction
    expect(s.outbox.peek(10).map((e) => e.change.table)).toEqual(['settings'])
  })

  test('snapshot, checkpoint and backup refuse inside an open transaction; exclusive() waits for it', async () => {
    const s = await freshStore()
    const held = gate()
    const entered = gate()
    const events: string[] = []
    const transaction = s.transaction(async (tx) => {
      await tx.settings.set('b', '2')
      entered.open()
      await held.wait
      events.push('transaction ends')
    })
    await entered.wait
    const file = join(root, `${newId()}.db`)
    const backup = s.exclusive(() => {
      events.push('backup')
      s.backupTo(file)
    })
    try {
      expect(() => s.replaceAll([])).toThrow(/inside a transaction/)
      expect(() => s.checkpoint()).toThrow(/inside a transaction/)
      expect(() => s.backupTo(join(root, `${newId()}.db`))).toThrow(/inside a transaction/)
    } finally {
      held.open()
    }
    await Promise.all([transaction, backup])
    expect(events).toEqual(['transaction ends', 'backup'])
    const copy = new Database(file, { readonly: true })
    expect(copy.query<{ value: string }, []>("SELECT value FROM settings WHERE key = 'b'").get()).toEqual({ value: '2' })
    copy.close()
  })

  test('close waits for the open transaction to commit', async () => {
    const s = await freshStore()
    const input = makeUser()
    const held = gate()
    const entered = gate()
    const transaction = s.transaction(async (tx) => {
      entered.open()
      await held.wait
      return tx.users.create(input)
    })
    await entered.wait
    const closing = s.close()
    held.open()
    await transaction
    await closing
    const reopened = await freshStore(s.path)
    expect(await reopened.users.getById(input.id)).not.toBeNull()
  })

  test('updatedAt of a write inside a transaction is its own time, not the transaction start', async () => {
    const s = await freshStore()
    const user = await s.users.create(makeUser())
    await clockPast(user.updatedAt)
    const updated = await s.transaction((tx) => tx.users.update(user.id, { name: 'later' }))
    expect(updated.updatedAt > user.updatedAt).toBe(true)
    expect(updated.version).toBe(2)
  })
})
