// Cold start to the first 200 on SQLite with the seeds already present: a first start creates the
// database file and the seeded admin and is stopped; then each trial spawns `bun src/index.ts` on a
// port chosen beforehand and polls GET /health/ready every 2 ms until it answers 200. Baseline: the
// raw Bun.serve /health process, spawned and polled the same way.
// Also the boot bound of DESIGN.md §4 (DATABASE_TIMEOUT × attempts + 1 s), against a primary that
// accepts TCP and never answers: a timing promise, so it is measured here and not in `bun test`.
import { join } from 'node:path'
import type { Account } from '../lib/api.ts'
import type { BenchContext } from '../lib/context.ts'
import { fmtMs, median, table } from '../lib/report.ts'
import { baseEnv, serverEnv, startServer, type ServerOptions } from '../lib/servers.ts'

const TARGET_MS = 500

/** A loopback port nobody listens on right now. */
function freePort(): number {
  const l = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = l.port
  l.stop(true)
  return port
}

/** ms from spawn to the first 200 on `path`. */
async function timeToFirst200(ctx: BenchContext, name: string, cmd: string[], env: Record<string, string | undefined>, path: string): Promise<number> {
  const port = freePort()
  const spawned = ctx.procs.spawn(name, cmd, { env: { ...env, PORT: String(port) } })
  try {
    const deadline = spawned.spawnedAt + 15_000
    while (performance.now() < deadline) {
      if (spawned.proc.exitCode !== null) throw new Error(`${name} exited early:\n${spawned.output().slice(-2000)}`)
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`)
        await res.arrayBuffer()
        if (res.status === 200) return performance.now() - spawned.spawnedAt
      } catch {
        // not listening yet
      }
      await Bun.sleep(2)
    }
    throw new Error(`${name}: no 200 on ${path} within 15 s`)
  } finally {
    await spawned.stop()
  }
}

export async function coldStart(ctx: BenchContext, o: { account: Account; jwtSecret: string }): Promise<void> {
  const repo = ctx.settings.repoRoot
  const fallbackPath = join(ctx.procs.tempDir('cold'), 'app.db')
  const opts = { name: 'cold-seed', logLevel: 'info' as const, databaseUrl: null, fallbackPath, jwtSecret: o.jwtSecret, admin: o.account }
  // the first start: creates the file, migrates, seeds (bcrypt); also warms Bun's transpiler cache
  const first = await startServer(ctx.procs, ctx.settings.serverEntry, opts)
  await first.spawned.stop()

  const server: number[] = []
  const raw: number[] = []
  for (let i = 0; i < ctx.settings.coldStartTrials; i++) {
    server.push(await timeToFirst200(ctx, `cold-${i}`, ['bun', ctx.settings.serverEntry], serverEnv({ ...opts, name: `cold-${i}` }), '/health/ready'))
    raw.push(await timeToFirst200(ctx, `cold-raw-${i}`, ['bun', join(repo, 'bench/baselines/health.ts')], baseEnv(), '/health'))
  }
  const blackholeBoot = await bootAgainstBlackhole(ctx, opts)
  const s = median(server)
  const b = median(raw)
  ctx.log(`    median ${fmtMs(s)} vs raw ${fmtMs(b)}`)
  ctx.results.add({
    label: 'cold start to first 200 on SQLite, seeds present (median)',
    server: `${fmtMs(s)} (max ${fmtMs(Math.max(...server))})`,
    baseline: fmtMs(b),
    ratio: `${(s / b).toFixed(1)}×`,
    target: `≤ ${TARGET_MS} ms`,
    met: Math.max(...server) <= TARGET_MS,
  })
  ctx.results.section(
    'Cold start',
    `Process spawn → first 200 on \`GET /health/ready\` (which pings the active store), SQLite only, with the database
file and the seeded admin already present (\`SEED_ADMIN_*\` set, so seeding checks the account and keeps it), at
the default LOG_LEVEL=info. Raw baseline: \`bun bench/baselines/health.ts\` → first 200 on \`GET /health\`. Both
polled every 2 ms on a port chosen beforehand; the result counts the worst trial.

${table(
  ['trial', 'this server', 'raw Bun.serve'],
  server.map((ms, i) => [String(i + 1), fmtMs(ms), fmtMs(raw[i]!)]),
)}`,
  )
}

const BLACKHOLE_TIMEOUT_S = 1
const BLACKHOLE_RETRIES = 1
const BLACKHOLE_TRIALS = 3

/** A primary that accepts connections and never answers: the slowest failure a boot can meet. */
function blackholePeer(): { port: number; close(): void } {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  return { port: listener.port, close: () => listener.stop(true) }
}

async function bootAgainstBlackhole(ctx: BenchContext, opts: ServerOptions): Promise<number[]> {
  const bound = BLACKHOLE_TIMEOUT_S * 1000 * (1 + BLACKHOLE_RETRIES) + 1000
  const peer = blackholePeer()
  const times: number[] = []
  try {
    for (let i = 0; i < BLACKHOLE_TRIALS; i++) {
      const env = serverEnv({
        ...opts,
        name: `boot-blackhole-${i}`,
        databaseUrl: `postgres://app:secret@127.0.0.1:${peer.port}/app`,
        extraEnv: { DATABASE_TIMEOUT: String(BLACKHOLE_TIMEOUT_S), DATABASE_STARTUP_RETRIES: String(BLACKHOLE_RETRIES) },
      })
      times.push(await timeToFirst200(ctx, `boot-blackhole-${i}`, ['bun', ctx.settings.serverEntry], env, '/health/ready'))
    }
  } finally {
    peer.close()
  }
  const worst = Math.max(...times)
  ctx.log(`    boot against a blackholed primary: worst ${fmtMs(worst)} (bound ${bound} ms)`)
  ctx.results.add({
    label: `boot to first 200 with a blackholed primary (DATABASE_TIMEOUT=${BLACKHOLE_TIMEOUT_S}, ${1 + BLACKHOLE_RETRIES} attempts; worst of ${BLACKHOLE_TRIALS})`,
    server: fmtMs(worst),
    baseline: '—',
    ratio: '—',
    target: `≤ ${bound} ms (DATABASE_TIMEOUT × attempts + 1 s)`,
    met: worst <= bound,
  })
  return times
}
