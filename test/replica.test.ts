// The replica in-process, against a real folder and a real S3-protocol server (s3rver) reached through
// Bun's S3Client: what it writes, what a restore makes of it, and how it behaves when the store fails.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { loadConfig } from '../src/config.ts'
import { removeChangeLog } from '../src/db/replica/change-log.ts'
import { restoreAtBoot } from '../src/db/replica/boot.ts'
import { FileTarget } from '../src/db/replica/file-target.ts'
import { segmentKey } from '../src/db/replica/layout.ts'
import { Replicator } from '../src/db/replica/replicator.ts'
import { listGenerations, restoreInto } from '../src/db/replica/restore.ts'
import { S3Target } from '../src/db/replica/s3-target.ts'
import { decodeSegment, encodeSegment, SegmentError } from '../src/db/replica/segment-format.ts'
import { withDeadline, type ReplicaTarget } from '../src/db/replica/target.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { isStoreError, newId } from '../src/db/store.ts'
import { makeNote, makeUser } from './helpers/contract-fixtures.ts'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import { S3_KEY, S3_SECRET, startS3Server, type S3Server } from './helpers/s3-server.ts'

const dirs: string[] = []
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'replica-'))
  dirs.push(d)
  return d
}

/** a logger whose records the test can read */
function recordingLogger() {
  const records: Array<Record<string, any>> = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line)) })
  return { logger, records, events: (e: string) => records.filter((r) => r.event === e) }
}

let s3: S3Server
let proxy: FaultProxy
beforeAll(async () => {
  s3 = await startS3Server()
  proxy = await startFaultProxy({ targetHost: '127.0.0.1', targetPort: s3.port })
})
afterAll(async () => {
  await proxy?.close()
  await s3?.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const s3Target = (prefix: string, endpoint = s3.endpoint, timeoutMs = 5_000): ReplicaTarget =>
  withDeadline(
    new S3Target({ bucket: s3.bucket, prefix, credentials: { accessKeyId: S3_KEY, secretAccessKey: S3_SECRET, endpoint, region: 'us-east-1' } }, `s3://${s3.bucket}/${prefix}`),
    timeoutMs,
  )

interface Rig {
  path: string
  store: SqliteStore
  replicator: Replicator
  log: ReturnType<typeof recordingLogger>
  close(): Promise<void>
}

async function rig(target: ReplicaTarget, opts: { sync?: boolean; everySegments?: number } = {}): Promise<Rig> {
  const path = join(tempDir(), 'app.db')
  const store = new SqliteStore({ path, busyTimeoutS: 5 })
  await store.migrate()
  const log = recordingLogger()
  const replicator = new Replicator({
    target,
    dbPath: path,
    logger: log.logger,
    // the loop runs rarely: the tests drive rounds themselves
    intervalMs: 3_600_000,
    sync: opts.sync ?? false,
    snapshotIntervalMs: 3_600_000,
    snapshotEverySegments: opts.everySegments ?? 1000,
  })
  await replicator.start()
  return {
    path,
    store,
    replicator,
    log,
    async close() {
      await store.close()
      await replicator.close()
    },
  }
}

const count = (path: string, table: string) => {
  const db = new Database(path, { readonly: true })
  try {
    return db.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${table}`).get()!.n
  } finally {
    db.close()
  }
}

const targets: Array<[string, (name: string) => ReplicaTarget]> = [
  ['folder', () => new FileTarget(tempDir(), 'folder')],
  ['s3', (name) => s3Target(`${name}-${newId()}`)],
]

describe('segment files', () => {
  const entries = [
    { seq: 5, tbl: 'notes', op: 'put' as const, row: { id: 'a', title: 'ünï "q"' }, at: 1 },
    { seq: 6, tbl: 'notes', op: 'del' as const, row: { id: 'a' }, at: 2 },
  ]
  const bytes = encodeSegment({ generation: 'g', index: 3, after: 4, createdAt: 'now' }, entries)

  test('round trip', () => {
    const s = decodeSegment(bytes)
    expect(s.header).toMatchObject({ index: 3, after: 4, last: 6, count: 2 })
    expect(s.entries).toEqual(entries)
  })

  test('a file cut short anywhere, or altered, is told from a complete one', () => {
    for (let cut = 0; cut < bytes.length; cut += 7) expect(() => decodeSegment(bytes.slice(0, cut))).toThrow(SegmentError)
    const altered = bytes.slice()
    altered[40] = altered[40]! ^ 1
    expect(() => decodeSegment(altered)).toThrow(SegmentError)
  })
})

describe('configuration', () => {
  const load = (env: Record<string, string>) => loadConfig({ env, isTTY: false })
  test('REPLICA_URL and its companions are checked, each error naming its variable', () => {
    expect(load({}).replica).toBeNull()
    expect(load({ REPLICA_URL: 'file:///data/replica' }).replica).toMatchObject({ target: { kind: 'file', path: '/data/replica' }, sync: false, intervalMs: 1000, snapshotIntervalS: 3600 })
    expect(load({ REPLICA_URL: 's3://my-bucket/app/db', REPLICA_SYNC: 'true', REPLICA_SNAPSHOT_INTERVAL: '15m', S3_ENDPOINT: 'http://x:9000' }).replica).toMatchObject({
      target: { kind: 's3', bucket: 'my-bucket', prefix: 'app/db', credentials: { endpoint: 'http://x:9000' } },
      sync: true,
      snapshotIntervalS: 900,
    })
    expect(() => load({ REPLICA_URL: 'http://x/y' })).toThrow(/^REPLICA_URL must be file:\/\/\/folder or s3:\/\/bucket\/prefix/)
    expect(() => load({ REPLICA_URL: 'file://relative/x' })).toThrow(/^REPLICA_URL/)
    expect(() => load({ REPLICA_URL: 's3://key:secret@bucket/x' })).toThrow(/credentials/)
    expect(() => load({ REPLICA_URL: 's3://key:secret@bucket/x' })).not.toThrow(/secret@/)
    expect(() => load({ REPLICA_URL: 'file:///r', REPLICA_INTERVAL_MS: 'soon' })).toThrow(/^REPLICA_INTERVAL_MS must be/)
    expect(() => load({ REPLICA_URL: 'file:///r', REPLICA_SYNC: 'maybe' })).toThrow(/^REPLICA_SYNC must be/)
    expect(() => load({ REPLICA_URL: 'file:///r', REPLICA_SNAPSHOT_INTERVAL: 'never' })).toThrow(/^REPLICA_SNAPSHOT_INTERVAL must be/)
    expect(() => load({ REPLICA_URL: 'file:///r', FALLBACK_DATABASE_URL: ':memory:' })).toThrow(/^REPLICA_URL needs a SQLite file/)
  })
})

for (const [name, makeTarget] of targets) {
  describe(`replica in a ${name}`, () => {
    test('every change is shipped as numbered segments after a base snapshot; a restore gives back the same rows', async () => {
      const target = makeTarget('basic')
      const r = await rig(target)
      const user = await r.store.users.create(makeUser())
      const notes = []
      for (let i = 0; i < 20; i++) notes.push(await r.store.notes.create(makeNote(user.id, { title: `n${i}` })))
      await r.replicator.round()
      await r.store.notes.update(user.id, notes[0]!.id, { title: 'changed' })
      await r.store.notes.softDelete(user.id, notes[1]!.id)
      await r.replicator.round()
      expect(r.replicator.status()).toMatchObject({ pending_segments: 0, pending_changes: 0, lag_ms: 0, last_error: null })
      const [gen] = await listGenerations(target)
      const keys = await target.list(`generations/${gen}/`)
      expect(keys.filter((k) => k.endsWith('.seg'))).toEqual([segmentKey(gen!, 1), segmentKey(gen!, 2)])
      expect(keys.filter((k) => k.endsWith('.json'))).toHaveLength(1)

      const restored = join(tempDir(), 'restored.db')
      const report = (await restoreInto(target, restored, r.log.logger))!
      expect(report).toMatchObject({ generation: gen, segments: 2, skippedSegments: 0, unreachableSegments: 0 })
      const copy = new SqliteStore({ path: restored, busyTimeoutS: 5 })
      expect((await copy.notes.get(user.id, notes[0]!.id))?.title).toBe('changed')
      expect(await copy.notes.get(user.id, notes[1]!.id)).toBeNull()
      expect(count(restored, 'notes')).toBe(20)
      await copy.close()
      await r.close()
    })

    test('a snapshot lets older segments and generations go; the restore starts from it', async () => {
      const target = makeTarget('compact')
      const older = await rig(target)
      await older.close()
      const r = await rig(target)
      const user = await r.store.users.create(makeUser())
      for (let i = 0; i < 3; i++) {
        await r.store.notes.create(makeNote(user.id))
        await r.replicator.round()
      }
      const gens = await listGenerations(target)
      expect(gens).toHaveLength(1)
      await r.replicator.snapshotNow()
      const keys = await target.list(`generations/${gens[0]}/`)
      expect(keys.filter((k) => k.endsWith('.seg'))).toEqual([])
      expect(keys.filter((k) => k.endsWith('.json'))).toHaveLength(1)
      await r.store.notes.create(makeNote(user.id, { title: 'after the snapshot' }))
      await r.replicator.round()
      const restored = join(tempDir(), 'restored.db')
      const report = (await restoreInto(target, restored, r.log.logger))!
      expect(report.segments).toBe(1)
      expect(count(restored, 'notes')).toBe(4)
      await r.close()
    })

    test('a cut-short last segment is skipped with a WARN; a missing or corrupt one in the middle stops the chain there', async () => {
      const target = makeTarget('torn')
      const r = await rig(target)
      const user = await r.store.users.create(makeUser())
      for (let i = 0; i < 4; i++) {
        await r.store.notes.create(makeNote(user.id))
        await r.replicator.round()
      }
      await r.close()
      const [gen] = await listGenerations(target)
      const last = segmentKey(gen!, 4)
      const whole = (await target.get(last))!
      await target.put(last, whole.slice(0, whole.length - 20))
      const log = recordingLogger()
      let report = (await restoreInto(target, join(tempDir(), 'a.db'), log.logger))!
      expect(report).toMatchObject({ segments: 3, skippedSegments: 1, unreachableSegments: 0 })
      expect(log.events('replica_segment_skipped')[0]).toMatchObject({ level: 40, segment: 4 })

      const middle = segmentKey(gen!, 2)
      const m = (await target.get(middle))!
      // one hex digit of its checksum changed (to another digit, whatever it was)
      m[m.length - 5] = m[m.length - 5] === 48 ? 49 : 48
      await target.put(middle, m)
      report = (await restoreInto(target, join(tempDir(), 'b.db'), log.logger))!
      expect(report).toMatchObject({ segments: 1, unreachableSegments: 3 })
      expect(log.events('replica_gap')[0]).toMatchObject({ level: 50, segment: 2, not_applied: 3 })

      await target.delete(middle)
      report = (await restoreInto(target, join(tempDir(), 'c.db'), log.logger))!
      expect(report).toMatchObject({ segments: 1, unreachableSegments: 3 })
      expect(log.events('replica_gap')[1]).toMatchObject({ reason: 'missing' })
    })

    test('restore at boot fills an empty disk, never a database that holds data', async () => {
      const target = makeTarget('boot')
      const r = await rig(target)
      await r.store.users.create(makeUser())
      await r.replicator.round()
      await r.close()
      const log = recordingLogger()
      expect(await restoreAtBoot({ target, path: r.path, logger: log.logger })).toBe('not_empty')
      const fresh = join(tempDir(), 'fresh', 'app.db')
      expect(await restoreAtBoot({ target, path: fresh, logger: log.logger })).toBe('restored')
      expect(count(fresh, 'users')).toBe(1)
      expect(log.events('replica_restored')[0]).toMatchObject({ segments: 1, changes: 1 })
      expect(await restoreAtBoot({ target: makeTarget('empty'), path: join(tempDir(), 'x.db'), logger: log.logger })).toBe('no_replica')
    })

    test('two writers on one replica: each writes its own generation, the newest wins at restore, the older one is told', async () => {
      const target = makeTarget('two')
      const a = await rig(target)
      const b = await rig(target)
      await a.store.users.create(makeUser({ email: 'a@x.test' }))
      await b.store.users.create(makeUser({ email: 'b@x.test' }))
      await a.replicator.round()
      await b.replicator.round()
      await a.replicator.snapshotNow()
      expect(a.log.events('replica_other_writer')).toHaveLength(1)
      const restored = join(tempDir(), 'r.db')
      await restoreInto(target, restored, a.log.logger)
      const db = new Database(restored, { readonly: true })
      expect(db.query<{ email: string }, []>('SELECT email FROM users').all().map((u) => u.email)).toEqual(['b@x.test'])
      db.close()
      await a.close()
      await b.close()
    })
  })
}

describe('REPLICA_SYNC group commit', () => {
  test('writes committed together are acknowledged by one upload, not one each', async () => {
    const target = new FileTarget(tempDir(), 'folder')
    const r = await rig(target, { sync: true })
    const user = await r.store.users.create(makeUser())
    await r.replicator.durable()
    const [gen] = await listGenerations(target)
    const before = (await target.list(`generations/${gen}/segments/`)).length
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await r.store.notes.create(makeNote(user.id, { title: `together ${i}` }))
        await r.replicator.durable()
      }),
    )
    const segments = await target.list(`generations/${gen}/segments/`)
    expect(segments.length - before).toBe(1)
    expect(decodeSegment((await target.get(segments.at(-1)!))!).entries.filter((e) => e.tbl === 'notes')).toHaveLength(20)
    await r.close()
  })
})

describe('store faults (S3 behind a fault proxy)', () => {
  test('refused, then back: the lag shows, sync waits fail unavailable, nothing is lost, the retry stores the same segment', async () => {
    proxy.setMode('pass')
    const target = s3Target(`faults-${newId()}`, `http://127.0.0.1:${proxy.port}`, 1_000)
    const r = await rig(target, { sync: true })
    const user = await r.store.users.create(makeUser())
    await r.replicator.durable()
    proxy.setMode('refuse')
    await r.store.notes.create(makeNote(user.id, { title: 'while refused' }))
    const waiting = r.replicator.durable()
    const error = await waiting.then(() => null, (e: unknown) => e)
    expect(isStoreError(error, 'unavailable')).toBe(true)
    const status = r.replicator.status()
    expect(status.last_error).toContain('failed')
    expect(status.pending_segments).toBe(1)
    expect(status.pending_changes).toBeGreaterThan(0)
    expect(r.replicator.accepting).toBe(false)
    expect(r.log.events('replica_unreachable')).toHaveLength(1)
    // the target is never named with its credentials
    expect(JSON.stringify(r.log.records)).not.toContain(S3_SECRET + '@')

    proxy.setMode('pass')
    await r.replicator.round()
    expect(r.replicator.status()).toMatchObject({ last_error: null, pending_segments: 0, pending_changes: 0 })
    await r.replicator.durable()
    // the failed segment was stored under its own number on the retry: no gap, no second copy
    const [gen] = await listGenerations(target)
    const segments = (await target.list(`generations/${gen}/segments/`)).map((k) => Number(k.slice(-14, -4)))
    expect(segments).toEqual(segments.map((_, i) => i + 1))
    const restored = join(tempDir(), 'r.db')
    const report = (await restoreInto(target, restored, r.log.logger))!
    expect(report.unreachableSegments + report.skippedSegments).toBe(0)
    expect(count(restored, 'notes')).toBe(1)
    await r.close()
  })

  test('slow: an upload slower than the deadline counts as failed, and goes through once the store is fast again', async () => {
    proxy.setMode('pass')
    const target = s3Target(`slow-${newId()}`, `http://127.0.0.1:${proxy.port}`, 300)
    const r = await rig(target)
    const user = await r.store.users.create(makeUser())
    proxy.setMode({ latencyMs: 600 })
    await r.store.notes.create(makeNote(user.id))
    await r.replicator.round()
    expect(r.replicator.status().last_error).toContain('took longer than 300 ms')
    proxy.setMode('pass')
    await r.replicator.round()
    expect(r.replicator.status()).toMatchObject({ last_error: null, pending_changes: 0 })
    await r.close()
  })

  test('5xx answers: the round fails with the reason, the server keeps going', async () => {
    const broken = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('<Error><Code>InternalError</Code><Message>boom</Message></Error>', { status: 500 }) })
    try {
      const log = recordingLogger()
      const path = join(tempDir(), 'app.db')
      const store = new SqliteStore({ path, busyTimeoutS: 5 })
      await store.migrate()
      const replicator = new Replicator({
        target: s3Target('five', `http://127.0.0.1:${broken.port}`, 2_000),
        dbPath: path,
        logger: log.logger,
        intervalMs: 3_600_000,
        sync: true,
        snapshotIntervalMs: 3_600_000,
        snapshotEverySegments: 1000,
      })
      await replicator.start()
      expect(replicator.status()).toMatchObject({ generation: null })
      expect(replicator.status().last_error).toMatch(/failed/)
      expect(replicator.accepting).toBe(false)
      await store.close()
      await replicator.close()
    } finally {
      broken.stop(true)
    }
  })

  test('a replica unreachable at boot does not stop the start, and is not written over once it answers', async () => {
    proxy.setMode('pass')
    const prefix = `held-${newId()}`
    const good = s3Target(prefix)
    const first = await rig(good)
    await first.store.users.create(makeUser())
    await first.replicator.round()
    await first.close()

    proxy.setMode('refuse')
    const viaProxy = s3Target(prefix, `http://127.0.0.1:${proxy.port}`, 500)
    const log = recordingLogger()
    const path = join(tempDir(), 'app.db')
    expect(await restoreAtBoot({ target: viaProxy, path, logger: log.logger })).toBe('unreachable')
    expect(existsSync(path)).toBe(false)
    const store = new SqliteStore({ path, busyTimeoutS: 5 })
    await store.migrate()
    const replicator = new Replicator({ target: viaProxy, dbPath: path, logger: log.logger, intervalMs: 3_600_000, sync: false, snapshotIntervalMs: 3_600_000, snapshotEverySegments: 1000, holdIfReplicaExists: true })
    await replicator.start()
    proxy.setMode('pass')
    await replicator.round()
    expect(replicator.status().last_error).toContain('did not restore')
    expect(await listGenerations(good)).toHaveLength(1)
    // REPLICA_SYNC writes are refused meanwhile, never left waiting
    expect(replicator.accepting).toBe(false)
    expect(isStoreError(await replicator.durable().then(() => null, (e: unknown) => e), 'unavailable')).toBe(true)
    await store.close()
    await replicator.close()
  })
})

describe('the change log', () => {
  test('covers every table, the outbox included, and leaves the outbox as it was', async () => {
    const folder = tempDir()
    const r = await rig(new FileTarget(folder, 'folder'))
    r.store.setOutboxRecording(true)
    const user = await r.store.users.create(makeUser())
    await r.store.notes.create(makeNote(user.id))
    expect(r.store.outbox.count()).toBe(2)
    await r.replicator.round()
    expect(r.store.outbox.count()).toBe(2)
    r.store.outbox.ack(1)
    await r.replicator.round()
    const restored = join(tempDir(), 'r.db')
    await restoreInto(new FileTarget(folder, 'folder'), restored, r.log.logger)
    // the restored outbox holds exactly the entry PostgreSQL has not received
    expect(count(restored, 'outbox')).toBe(1)
    expect(count(restored, 'notes')).toBe(1)
    expect(count(restored, 'replica_log')).toBe(0)
    // the files hold password and token hashes: owner-only
    const files = (await new FileTarget(folder, 'folder').list('generations/')).map((k) => join(folder, k))
    expect(files.filter((f) => f.endsWith('.seg') || f.endsWith('.db')).map((f) => statSync(f).mode & 0o777)).toEqual(files.filter((f) => f.endsWith('.seg') || f.endsWith('.db')).map(() => 0o600))
    await r.close()
  })

  test('without a replica the triggers go, so nothing fills the log', async () => {
    const folder = tempDir()
    const r = await rig(new FileTarget(folder, 'folder'))
    await r.close()
    const db = new Database(r.path)
    removeChangeLog(db)
    expect(db.query("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'replica_log%'").get()).toEqual({ n: 0 })
    db.close()
  })
})
