// The replica (DESIGN §13): what REPLICA_SYNC costs an acknowledged write, how far the replica trails
// under load, and how long a restore of 100k notes takes. The S3 figures use s3rver on loopback (the
// test suite's S3-protocol server), the folder figures a local folder.
//
//   latency   note create under wrk, SQLite only: no replica, async replica, sync replica (s3rver)
//   lag       /health replica.lag_ms polled every 50 ms during the async run
//   restore   100k notes written straight into a SQLite file, the server started on it with a replica
//             (base snapshot), 2,000 more notes through the API (segments), stopped, the data folder
//             deleted, started again: the restore's own duration_ms and the time to listening
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteStore } from '../../src/db/sqlite/sqlite-store.ts'
import { newId } from '../../src/db/store.ts'
import { startS3Server, type S3Server } from '../../test/helpers/s3-server.ts'
import { createNotes, login, NOTE, type Account } from '../lib/api.ts'
import { measure, type BenchContext } from '../lib/context.ts'
import { fmtInt, fmtMs, median, table } from '../lib/report.ts'
import { startServer, type Running } from '../lib/servers.ts'
import { postJsonScript } from '../lib/wrk.ts'

const RESTORE_NOTES = 100_000
const SEGMENT_NOTES = 2_000
const INTERVAL_MS = 1000

interface Opts {
  account: Account
  jwtSecret: string
}

export async function replica(ctx: BenchContext, o: Opts): Promise<void> {
  const s3 = await startS3Server('bench-replica')
  try {
    await latencyAndLag(ctx, o, s3)
    const rows: string[][] = []
    for (const where of ['folder', 's3'] as const) rows.push(await restoreTime(ctx, o, s3, where))
    ctx.results.section(
      'Replica restore',
      `${fmtInt(RESTORE_NOTES)} notes written straight into the SQLite file, the server started on it with
REPLICA_URL set (its base snapshot holds them), ${fmtInt(SEGMENT_NOTES)} more notes created through the API and
shipped as segments, the server stopped, its data folder deleted, and the server started again: "restore" is the
restore's own duration_ms (download, checksum, segments, \`PRAGMA integrity_check\`, move into place), "to
listening" is spawn → listening, restore included.

${table(['replica', 'snapshot', 'segments / changes', 'restore', 'to listening'], rows)}`,
    )
  } finally {
    await s3.close()
  }
}

const s3Env = (s3: S3Server, prefix: string) => ({ REPLICA_URL: `s3://${s3.bucket}/${prefix}`, ...s3.env() })

async function latencyAndLag(ctx: BenchContext, o: Opts, s3: S3Server): Promise<void> {
  const variants: Array<{ name: string; env: Record<string, string> }> = [
    { name: 'no replica', env: {} },
    { name: 'REPLICA_SYNC=false (s3rver)', env: { ...s3Env(s3, `lat-async-${newId()}`), REPLICA_INTERVAL_MS: String(INTERVAL_MS) } },
    { name: 'REPLICA_SYNC=true (s3rver)', env: { ...s3Env(s3, `lat-sync-${newId()}`), REPLICA_SYNC: 'true', REPLICA_INTERVAL_MS: String(INTERVAL_MS) } },
  ]
  const rows: string[][] = []
  for (const v of variants) {
    ctx.log(`replica latency: ${v.name}`)
    const server = await startServer(ctx.procs, ctx.settings.serverEntry, {
      name: `replica-${rows.length}`,
      logLevel: 'warn',
      databaseUrl: null,
      fallbackPath: join(ctx.procs.tempDir('replica-lat'), 'app.db'),
      jwtSecret: o.jwtSecret,
      admin: o.account,
      extraEnv: v.env,
    })
    const token = await login(server.baseUrl, o.account)
    const lags: number[] = []
    let polling = true
    const poller = (async () => {
      while (polling) {
        const h = (await (await fetch(`${server.baseUrl}/health`)).json()) as { replica: { lag_ms: number | null } }
        if (h.replica.lag_ms !== null) lags.push(h.replica.lag_ms)
        await Bun.sleep(50)
      }
    })()
    const r = await measure(ctx, { url: `${server.baseUrl}/api/v1/notes`, pid: server.spawned.pid, headers: { Authorization: `Bearer ${token}` }, script: postJsonScript(NOTE) })
    polling = false
    await poller
    const lag = lags.length ? `${fmtMs(median(lags))} / ${fmtMs(Math.max(...lags))}` : '—'
    rows.push([v.name, fmtInt(r.rps), fmtMs(r.p50Ms), fmtMs(r.p99Ms), String(r.non2xx + r.socketErrors), lag])
    ctx.results.add({ label: `note create p50 / p99, SQLite, ${v.name}`, server: `${fmtMs(r.p50Ms)} / ${fmtMs(r.p99Ms)}`, baseline: '—', ratio: '—', target: '—', met: null })
    await server.spawned.stop()
  }
  ctx.results.section(
    'Replica: acknowledged-write latency and lag',
    `Note create under wrk -t${ctx.settings.threads} -c${ctx.settings.connections} -d${ctx.settings.durationS}s, SQLite only, LOG_LEVEL=warn,
REPLICA_INTERVAL_MS=${INTERVAL_MS}. With REPLICA_SYNC=true each answer waits until the segment holding the note is
stored in s3rver; concurrent writes share one upload (group commit). "lag" is /health's replica.lag_ms polled every
50 ms during the run (median / max): how far the replica trails the acknowledged writes.

${table(['replica', 'req/s', 'p50', 'p99', 'errors', 'lag median / max'], rows)}`,
  )
}

async function restoreTime(ctx: BenchContext, o: Opts, s3: S3Server, where: 'folder' | 's3'): Promise<string[]> {
  ctx.log(`replica restore of ${fmtInt(RESTORE_NOTES)} notes from a ${where}`)
  const dataDir = ctx.procs.tempDir(`replica-restore-${where}`)
  const path = join(dataDir, 'app.db')
  await fillNotes(path, RESTORE_NOTES)
  const env = where === 'folder' ? { REPLICA_URL: `file://${ctx.procs.tempDir('replica-folder')}` } : s3Env(s3, `restore-${newId()}`)
  const opts = { name: `replica-restore-${where}`, logLevel: 'info' as const, databaseUrl: null, fallbackPath: path, jwtSecret: o.jwtSecret, admin: o.account, extraEnv: { ...env, REPLICA_INTERVAL_MS: '200' } }
  const first: Running = await startServer(ctx.procs, ctx.settings.serverEntry, opts)
  await createNotes(first.baseUrl, await login(first.baseUrl, o.account), SEGMENT_NOTES)
  await first.spawned.stop()
  rmSync(dataDir, { recursive: true, force: true })
  const second = await startServer(ctx.procs, ctx.settings.serverEntry, opts)
  const restored = second.spawned.records().find((r) => r.event === 'replica_restored') as Record<string, number> | undefined
  const listening = second.readyMs
  await second.spawned.stop()
  if (!restored) throw new Error(`no restore logged:\n${second.spawned.output().slice(-3000)}`)
  return [
    where,
    `${(restored.snapshot_bytes! / 1024 / 1024).toFixed(1)} MB`,
    `${restored.segments} / ${fmtInt(restored.changes!)}`,
    fmtMs(restored.duration_ms!),
    fmtMs(listening),
  ]
}

/** a migrated file with one user and `n` notes, written through the store in transactions of 1,000 */
async function fillNotes(path: string, n: number): Promise<void> {
  const store = new SqliteStore({ path, busyTimeoutS: 5 })
  await store.migrate()
  // nobody signs in as the owner: its hash only has to look like one
  const owner = await store.users.create({ id: newId(), email: `bench-owner-${newId()}@example.com`, passwordHash: `$2b$04$${'a'.repeat(53)}` })
  for (let done = 0; done < n; done += 1000) {
    await store.transaction(async (tx) => {
      for (let i = done; i < Math.min(n, done + 1000); i++) await tx.notes.create({ id: newId(), ownerId: owner.id, title: `note ${i}`, body: NOTE.body })
    })
  }
  await store.close()
}
