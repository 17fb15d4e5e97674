// Resident memory (VmRSS). On a fresh database holding only the seeded admin (a small deployment):
// after boot with no request yet, then after BENCH_LOAD_S (60 s) of mixed load (GET /health,
// GET /api/v1/notes, POST /api/v1/notes in turn). The server (PostgreSQL primary, SQLite mirror,
// LOG_LEVEL=info: the default) and the raw Bun.serve + postgres.js baseline are loaded at the same
// time, each by its own wrk (1 thread, 16 connections); RSS is sampled every second.
// Reported beside it, without a target: the server booted on the bench's own database, which the
// earlier scenarios filled, because the boot copies PostgreSQL into SQLite.
import postgres from 'postgres'
import { createNotes, login, NOTE, type Account } from '../lib/api.ts'
import type { BenchContext } from '../lib/context.ts'
import { peakRssBytes, rssBytes } from '../lib/proc-fs.ts'
import { fmtInt, fmtMb, fmtMs, table } from '../lib/report.ts'
import { startBaseline, startServer, type Running } from '../lib/servers.ts'
import { mixedScript, runWrk, type WrkResult } from '../lib/wrk.ts'

const IDLE_TARGET = 80 * 1024 * 1024
const LOADED_TARGET = 150 * 1024 * 1024
const SETTLE_MS = 2_000

const MIX = mixedScript([
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/api/v1/notes' },
  { method: 'POST', path: '/api/v1/notes', body: NOTE },
])

interface Memory {
  idle: number
  peak: number
  after: number
  load: WrkResult
}

async function loadAndSample(ctx: BenchContext, r: Running, token: string, idle: number): Promise<Memory> {
  let peak = idle
  let done = false
  const load = runWrk({
    url: r.baseUrl,
    dir: ctx.dir,
    threads: 1,
    connections: 16,
    durationS: ctx.settings.loadS,
    headers: { Authorization: `Bearer ${token}` },
    script: MIX,
  }).finally(() => (done = true))
  while (!done) {
    peak = Math.max(peak, rssBytes(r.spawned.pid) ?? 0)
    await Promise.race([load.catch(() => {}), Bun.sleep(1_000)])
  }
  const result = await load
  const after = rssBytes(r.spawned.pid) ?? NaN
  return { idle, peak: Math.max(peak, after), after, load: result }
}

async function countNotes(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const [row] = await sql<{ n: string }[]>`select count(*) as n from notes`
    return Number(row?.n ?? 0)
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/** Idle and peak RSS of the server booted on a database that already holds many rows. */
async function bootOnFilledDatabase(
  ctx: BenchContext,
  o: { url: string; account: Account; jwtSecret: string; fallbackPath: string },
): Promise<{ notes: number; bootMs: number; idle: number; peak: number }> {
  const notes = await countNotes(o.url)
  const server = await startServer(ctx.procs, ctx.settings.serverEntry, {
    name: 'rss-filled',
    logLevel: 'info',
    databaseUrl: o.url,
    fallbackPath: o.fallbackPath,
    jwtSecret: o.jwtSecret,
    admin: o.account,
  })
  try {
    await Bun.sleep(SETTLE_MS)
    return { notes, bootMs: server.readyMs, idle: rssBytes(server.spawned.pid) ?? NaN, peak: peakRssBytes(server.spawned.pid) ?? NaN }
  } finally {
    await server.spawned.stop()
  }
}

export async function memory(
  ctx: BenchContext,
  o: { freshDatabaseUrl: string; filledDatabaseUrl: string; account: Account; jwtSecret: string; fallbackPath: (name: string) => string },
): Promise<void> {
  const server = await startServer(ctx.procs, ctx.settings.serverEntry, {
    name: 'rss',
    logLevel: 'info',
    databaseUrl: o.freshDatabaseUrl,
    fallbackPath: o.fallbackPath('rss'),
    jwtSecret: o.jwtSecret,
    admin: o.account,
  })
  const baseline = await startBaseline(ctx.procs, ctx.settings.repoRoot, 'pg-notes', { DATABASE_URL: o.freshDatabaseUrl, JWT_SECRET: o.jwtSecret })
  let s: Memory
  let b: Memory
  try {
    await Bun.sleep(SETTLE_MS)
    const serverIdle = rssBytes(server.spawned.pid) ?? NaN
    const baselineIdle = rssBytes(baseline.spawned.pid) ?? NaN
    ctx.log(`  idle: ${fmtMb(serverIdle)} vs raw ${fmtMb(baselineIdle)}; ${ctx.settings.loadS} s of mixed load on both`)
    const token = await login(server.baseUrl, o.account)
    await createNotes(server.baseUrl, token, 20)
    ;[s, b] = await Promise.all([loadAndSample(ctx, server, token, serverIdle), loadAndSample(ctx, baseline, token, baselineIdle)])
    ctx.log(`  after load: ${fmtMb(s.after)} (peak ${fmtMb(s.peak)}) vs raw ${fmtMb(b.after)}`)
  } finally {
    await Promise.all([server.spawned.stop(), baseline.spawned.stop()])
  }

  ctx.log('  boot on the filled bench database')
  const filled = await bootOnFilledDatabase(ctx, { url: o.filledDatabaseUrl, account: o.account, jwtSecret: o.jwtSecret, fallbackPath: o.fallbackPath('rss-filled') })
  ctx.log(`    ${fmtInt(filled.notes)} notes: boot ${fmtMs(filled.bootMs)}, idle ${fmtMb(filled.idle)}, peak ${fmtMb(filled.peak)}`)

  ctx.results.add({
    label: 'resident memory at idle, after boot',
    server: fmtMb(s.idle),
    baseline: fmtMb(b.idle),
    ratio: `${(s.idle / b.idle).toFixed(2)}×`,
    target: `≤ ${fmtMb(IDLE_TARGET)}`,
    met: s.idle <= IDLE_TARGET,
  })
  const broken = s.load.non2xx > 0 || s.load.socketErrors > 0
  ctx.results.add({
    label: `resident memory after ${ctx.settings.loadS} s of mixed load (peak during it)`,
    server: `${fmtMb(s.after)} (${fmtMb(s.peak)})`,
    baseline: `${fmtMb(b.after)} (${fmtMb(b.peak)})`,
    ratio: `${(s.after / b.after).toFixed(2)}×`,
    target: `≤ ${fmtMb(LOADED_TARGET)}`,
    met: !broken && s.peak <= LOADED_TARGET,
    ...(broken ? { note: `${s.load.non2xx} non-2xx, ${s.load.socketErrors} socket errors under load` } : {}),
  })
  ctx.results.add({
    label: `resident memory after boot on a database of ${fmtInt(filled.notes)} notes: idle (peak during boot)`,
    server: `${fmtMb(filled.idle)} (${fmtMb(filled.peak)})`,
    baseline: '—',
    ratio: '—',
    target: 'reported: the boot copies PostgreSQL into SQLite',
    met: null,
  })
  const row = (who: string, m: Memory) => [who, fmtMb(m.idle), fmtMb(m.after), fmtMb(m.peak), fmtInt(m.load.requests), fmtInt(m.load.rps), String(m.load.non2xx)]
  ctx.results.section(
    'Resident memory',
    `VmRSS from \`/proc/<pid>/status\`, on a fresh database holding only the seeded admin: ${SETTLE_MS / 1000} s after boot with
no request yet ("idle"), then during and right after ${ctx.settings.loadS} s of mixed load — \`GET /health\`, \`GET /api/v1/notes\`,
\`POST /api/v1/notes\` in turn, wrk with 1 thread and 16 connections — applied to this server (PostgreSQL primary with its
SQLite mirror, LOG_LEVEL=info) and to the raw Bun.serve + postgres.js baseline at the same time. The target is checked
against the peak.

${table(['process', 'idle', 'after load', 'peak', 'requests', 'req/s (shared CPU)', 'non-2xx'], [row('this server', s), row('raw Bun.serve + postgres.js', b)])}

The same server booted on the bench database as the earlier scenarios left it (${fmtInt(filled.notes)} notes): ready after
${fmtMs(filled.bootMs)}, ${fmtMb(filled.idle)} at idle, ${fmtMb(filled.peak)} at its peak (VmHWM) — at boot it copies every PostgreSQL row
into SQLite (\`copyToFallback\`), one page of 2,000 rows at a time, staged in SQLite TEMP tables and swapped in at the end,
so the peak does not grow with the database (600,000 notes: 129 MB, where holding every row in memory took 818 MB).`,
  )
}
