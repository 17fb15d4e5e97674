// Group commit on the SQLite connection: the writes of one event-loop turn share one COMMIT, each in
// its own savepoint, and each is acknowledged only once that COMMIT is done. Checked from a second
// connection to the same file, as another process would see it.
import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StoreError } from '../src/db/store.ts'
import { AsyncLock } from '../src/db/sqlite/async-lock.ts'
import { rootScope, SqliteConnection } from '../src/db/sqlite/connection.ts'
import { syncTables } from '../src/db/sync-tables.ts'
import { TABLES } from '../src/db/tables.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

const dir = mkdtempSync(join(tmpdir(), 'group-commit-'))
const connections: SqliteConnection[] = []
const readers: Database[] = []
afterAll(() => {
  for (const c of connections) c.close()
  for (const r of readers) r.close()
  rmSync(dir, { recursive: true, force: true })
})

let files = 0
function open() {
  const path = join(dir, `db-${++files}.sqlite`)
  const db = new Database(path, { create: true, strict: true })
  db.run('PRAGMA journal_mode = WAL')
  db.run('PRAGMA foreign_keys = ON')
  db.run('CREATE TABLE parent (id TEXT PRIMARY KEY) STRICT')
  db.run('CREATE TABLE item (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES parent (id)) STRICT')
  const commits = { n: 0 }
  const run = db.run.bind(db)
  db.run = ((sql: string, ...rest: unknown[]) => {
    if (sql === 'COMMIT') commits.n++
    return (run as (...a: unknown[]) => unknown)(sql, ...rest)
  }) as typeof db.run
  const conn = new SqliteConnection(db, syncTables(TABLES))
  connections.push(conn)
  const reader = new Database(path, { readonly: true })
  readers.push(reader)
  const scope = rootScope(new AsyncLock(), null)
  const insert = (id: string, parentId: string | null = null) =>
    conn.write(scope, () => {
      conn.stmt('INSERT INTO item (id, parent_id) VALUES ($id, $parent_id)').run({ id, parent_id: parentId })
      return id
    })
  /** what another connection sees now */
  const committed = () => reader.query<{ id: string }, []>('SELECT id FROM item ORDER BY id').all().map((r) => r.id)
  return { db, conn, scope, insert, committed, commits }
}

/** until a write has run (its group is open), within the current turn */
async function groupOpen(db: Database): Promise<void> {
  for (let i = 0; i < 100 && !db.inTransaction; i++) await Promise.resolve()
  expect(db.inTransaction).toBe(true)
}

const ids = (n: number, prefix = 'i') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`)

describe('group commit', () => {
  test('writes of one turn share one COMMIT, and each is acknowledged only once it is committed', async () => {
    const { insert, committed, commits } = open()
    const seenAtAck: string[][] = []
    const writes = ids(20).map((id) => insert(id).then(() => seenAtAck.push(committed())))
    await Promise.all(writes)
    expect(commits.n).toBe(1)
    // every writer, when told "done", could already see all 20 rows from another connection
    expect(seenAtAck).toHaveLength(20)
    for (const seen of seenAtAck) expect(seen).toEqual(ids(20))
  })

  test('writes of later turns get COMMITs of their own', async () => {
    const { insert, committed, commits } = open()
    for (const id of ids(3)) await insert(id)
    expect(commits.n).toBe(3)
    expect(committed()).toEqual(ids(3))
  })

  test('a failing write undoes only itself: the rest of its group commits', async () => {
    const { insert, committed } = open()
    const results = await Promise.allSettled([insert('a'), insert('b'), insert('a'), insert('c')])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    const error = (results[2] as PromiseRejectedResult).reason
    expect(error).toBeInstanceOf(StoreError)
    expect((error as StoreError).kind).toBe('conflict')
    expect(committed()).toEqual(['a', 'b', 'c'])
  })

  test('a COMMIT that fails fails every write of its group, leaves none of them, and the next group starts clean', async () => {
    const { db, conn, scope, insert, committed } = open()
    // A deferred foreign key is checked at COMMIT: one orphan makes the whole group's COMMIT fail.
    const orphan = conn.write(scope, () => {
      db.run('PRAGMA defer_foreign_keys = ON')
      conn.stmt('INSERT INTO item (id, parent_id) VALUES ($id, $parent_id)').run({ id: 'orphan', parent_id: 'missing' })
    })
    const results = await Promise.allSettled([orphan, insert('x'), insert('y')])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StoreError)
    expect(committed()).toEqual([])
    expect(db.inTransaction).toBe(false)

    await insert('z')
    expect(committed()).toEqual(['z'])
  })

  test('what needs the connection idle commits the open group first: transaction(), writeSync', async () => {
    const { db, conn, scope, insert, committed } = open()
    const pending = [insert('g1'), insert('g2')]
    // issued in the same turn, so it finds the group open
    const inTransaction = conn.transaction(scope, async () => committed())
    expect(await inTransaction).toEqual(['g1', 'g2'])
    await Promise.all(pending)

    const later = insert('g3')
    await groupOpen(db)
    const seenBySync = conn.writeSync('a test', () => committed())
    expect(seenBySync).toEqual(['g1', 'g2', 'g3'])
    await later
  })

  test('close() commits the open group: nothing acknowledged-to-be is dropped', async () => {
    const { db, conn, insert, committed } = open()
    const pending = insert('last')
    await groupOpen(db)
    conn.close()
    await pending
    expect(committed()).toEqual(['last'])
  })
})
