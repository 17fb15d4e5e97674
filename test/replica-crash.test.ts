// kill -9 of a SQLite-only server under concurrent writes, its data folder deleted, a restart on the
// empty disk: the database comes back from the replica (a folder, and s3rver through S3Client).
// REPLICA_SYNC=true: every acknowledged write is back. Async: only writes answered after the last
// segment the replica stored may be missing; the test measures that window.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { FileTarget } from '../src/db/replica/file-target.ts'
import { S3Target } from '../src/db/replica/s3-target.ts'
import type { ReplicaTarget } from '../src/db/replica/target.ts'
import { ADMIN_EMAIL, ADMIN_PASSWORD, Ledger, USER_PASSWORD, makeWriters, noteWriter, userCreator, waitFor, waitForEvent } from './helpers/failover-workload.ts'
import { lastSegmentMadeAt, missingWrites, passwordChanger, TimedApi, type PasswordTrail } from './helpers/replica-workload.ts'
import { S3_KEY, S3_SECRET, startS3Server, type S3Server } from './helpers/s3-server.ts'
import { ServerHarness, type ServerProcess } from './helpers/spawn-server.ts'

const WRITERS = 4
/** acknowledged writes before the kill */
const BEFORE_KILL = 250
const INTERVAL_MS = 200

const h = new ServerHarness()
let s3: S3Server
beforeAll(async () => {
  s3 = await startS3Server()
})
afterAll(async () => {
  await h.cleanup()
  await s3?.close()
}, 30_000)

interface Place {
  env: Record<string, string>
  target: ReplicaTarget
}

const places: Record<'folder' | 's3', () => Place> = {
  folder: () => {
    const dir = h.tempDir('replica-folder-')
    return { env: { REPLICA_URL: `file://${dir}` }, target: new FileTarget(dir, 'folder') }
  },
  s3: () => {
    const prefix = `crash-${crypto.randomUUID()}`
    return {
      env: { REPLICA_URL: `s3://${s3.bucket}/${prefix}`, ...s3.env() },
      target: new S3Target({ bucket: s3.bucket, prefix, credentials: { accessKeyId: S3_KEY, secretAccessKey: S3_SECRET, endpoint: s3.endpoint, region: 'us-east-1' } }, 's3'),
    }
  },
}

for (const where of ['folder', 's3'] as const) {
  for (const sync of [true, false]) {
    describe(`replica in a ${where}, REPLICA_SYNC=${sync}`, () => {
      test('kill -9 under concurrent writes, data folder deleted, restart on an empty disk', async () => {
        const place = places[where]()
        const dataDir = h.tempDir('replica-data-')
        const env = {
          FALLBACK_DATABASE_URL: `sqlite:///${join(dataDir, 'app.db')}`,
          SEED_ADMIN_EMAIL: ADMIN_EMAIL,
          SEED_ADMIN_PASSWORD: ADMIN_PASSWORD,
          BCRYPT_COST: '4',
          LOGIN_MAX_FAILURES: '1000',
          JWT_SECRET: `replica-crash-secret-${crypto.randomUUID()}`,
          REPLICA_SYNC: String(sync),
          REPLICA_INTERVAL_MS: String(INTERVAL_MS),
          ...place.env,
        }
        const start = async (): Promise<{ proc: ServerProcess; api: TimedApi }> => {
          const proc = h.spawn({ env })
          const { baseUrl } = await proc.waitForListen()
          return { proc, api: new TimedApi(baseUrl) }
        }

        const first = await start()
        const admin = await first.api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        const ledger = new Ledger()
        const tag = `r${where}${sync}`
        const writers = await makeWriters(first.api, ledger, admin.token, tag, WRITERS)
        const changerEmail = `${tag}-pw@failover.test`
        await first.api.expect(201, 'POST', '/api/v1/admin/users', { token: admin.token, body: { email: changerEmail, password: USER_PASSWORD } })
        const loadStartedAt = Date.now()
        let stopped = false
        const stop = () => stopped
        const passwords: Promise<PasswordTrail>[] = [passwordChanger(first.api, changerEmail, USER_PASSWORD, stop)]
        const load = Promise.all([
          ...writers.map((w, i) => noteWriter(first.api, ledger, w, `${tag}-w${i}`, stop, 2)),
          userCreator(first.api, ledger, admin.token, tag, stop, 10),
        ])
        await waitFor('acknowledged writes', () => ledger.acked, (n) => n >= BEFORE_KILL, 60_000)
        // so that the async bound below rests on a segment made under load, not on the base snapshot
        await waitFor('a segment stored during the load', () => lastSegmentMadeAt(place.target), (t) => t > loadStartedAt, 60_000)
        const killedAt = Date.now()
        process.kill(first.proc.pid, 'SIGKILL')
        stopped = true
        expect(await first.proc.exited).toBe(128 + 9)
        await load
        const trails = await Promise.all(passwords)
        const storedUpTo = await lastSegmentMadeAt(place.target)

        rmSync(dataDir, { recursive: true, force: true })
        const second = await start()
        const restored = await waitForEvent(second.proc, 'replica_restored', 1)
        expect(restored.json).toMatchObject({ unreachable_segments: 0 })
        // the restored server serves the restored data: a writer signs in with its account
        await second.api.login(`${tag}-writer-0@failover.test`, USER_PASSWORD)
        expect(await second.proc.stop('SIGTERM')).toBe(0)

        const missing = missingWrites(join(dataDir, 'app.db'), ledger, trails, first.api.ackedAt)
        const acked = ledger.acked + trails.reduce((n, t) => n + t.acked.length - 1, 0)
        const window = missing.length ? killedAt - Math.min(...missing.map((m) => m.doneAt)) : 0
        console.log(JSON.stringify({ where, sync, acked, missing: missing.length, lost_window_ms: window, interval_ms: INTERVAL_MS, skipped_segments: restored.json!.skipped_segments }))
        if (sync) expect(missing).toEqual([])
        else {
          expect(storedUpTo).toBeGreaterThan(loadStartedAt)
          expect(missing.filter((m) => m.doneAt < storedUpTo)).toEqual([])
        }
      }, 120_000)
    })
  }
}
