// p99 of GET /health while logins hash passwords: wrk holds 4 connections on /health while the bench
// fires bursts of 20 concurrent logins (20 different users: the login limiter counts attempts per
// client IP + email before bcrypt runs), one burst after another, for the whole measured run. A
// password check that runs on the event loop shows up here as /health latency.
import type { BenchContext } from '../lib/context.ts'
import { fmtInt, fmtMs, median, table } from '../lib/report.ts'
import { runWrk, type WrkResult } from '../lib/wrk.ts'
import type { Account } from '../lib/api.ts'

const TARGET_P99_MS = 20
const HEALTH_CONNECTIONS = 4

interface BurstRun {
  health: WrkResult
  logins: number
  loginP50Ms: number
  loginP99Ms: number
  loginFailures: number
}

/** p99, or what it means when the loop answered nothing at all during the run */
const p99Text = (r: BurstRun, durationS: number) => (r.health.requests === 0 ? `> ${durationS} s (no /health answered)` : fmtMs(r.health.p99Ms))

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN
}

async function run(ctx: BenchContext, baseUrl: string, accounts: Account[]): Promise<BurstRun> {
  const durationS = Math.min(ctx.settings.durationS, 5)
  const health = { url: `${baseUrl}/health`, dir: ctx.dir, threads: 1, connections: HEALTH_CONNECTIONS }
  if (ctx.settings.warmupS > 0) await runWrk({ ...health, durationS: ctx.settings.warmupS })
  let done = false
  const wrk = runWrk({ ...health, durationS }).finally(() => (done = true))
  const times: number[] = []
  let failures = 0
  const bursts = (async () => {
    if (accounts.length === 0) return
    const bodies = accounts.map((a) => JSON.stringify(a))
    while (!done) {
      await Promise.all(
        bodies.map(async (body) => {
          const t = performance.now()
          const res = await fetch(`${baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })
          await res.arrayBuffer()
          times.push(performance.now() - t)
          if (res.status !== 200) failures++
        }),
      )
    }
  })()
  const result = await wrk
  await bursts
  return { health: result, logins: times.length, loginP50Ms: median(times), loginP99Ms: pct(times, 99), loginFailures: failures }
}

export async function loginBurst(
  ctx: BenchContext,
  o: { server: string; accounts: Account[]; rawBun: string; rawBcryptjs: string; cost: number },
): Promise<void> {
  ctx.log('  /health alone (server)')
  const quiet = await run(ctx, o.server, [])
  ctx.log('  /health during login bursts (server)')
  const server = await run(ctx, o.server, o.accounts)
  ctx.log('  /health during login bursts (raw Bun.serve + Bun.password)')
  const rawBun = await run(ctx, o.rawBun, o.accounts)
  ctx.log('  /health during login bursts (raw Bun.serve + bcryptjs)')
  const rawJs = await run(ctx, o.rawBcryptjs, o.accounts)
  const d = Math.min(ctx.settings.durationS, 5)
  ctx.log(`    p99 ${p99Text(server, d)} (raw Bun.password ${p99Text(rawBun, d)}, raw bcryptjs ${p99Text(rawJs, d)})`)

  const broken = server.loginFailures > 0 || server.health.non2xx > 0
  ctx.results.add({
    label: `p99 of GET /health during bursts of ${o.accounts.length} concurrent logins`,
    server: p99Text(server, d),
    baseline: `${p99Text(rawBun, d)} (bcryptjs: ${p99Text(rawJs, d)})`,
    ratio: '—',
    target: `< ${TARGET_P99_MS} ms`,
    met: !broken && server.health.requests > 0 && server.health.p99Ms < TARGET_P99_MS,
    ...(broken ? { note: `${server.loginFailures} failed logins, ${server.health.non2xx} non-2xx /health` } : {}),
  })

  const row = (who: string, r: BurstRun, logins: boolean) => [
    who,
    fmtInt(r.health.rps),
    r.health.requests === 0 ? '—' : fmtMs(r.health.p50Ms),
    p99Text(r, d),
    fmtMs(r.health.maxMs),
    logins ? fmtInt(r.logins) : '—',
    logins ? `${fmtMs(r.loginP50Ms)} / ${fmtMs(r.loginP99Ms)}` : '—',
    logins ? String(r.loginFailures) : '—',
  ]
  ctx.results.section(
    'Password hashing and the event loop',
    `wrk holds ${HEALTH_CONNECTIONS} connections on \`GET /health\` for ${d} s while the bench sends bursts of ${o.accounts.length}
concurrent logins (correct password, bcrypt cost ${o.cost}, \`$2b$\` hashes), one burst after another. The server
verifies with \`Bun.password.verify\` (bcrypt on a worker thread); the stored hashes stay standard \`$2b$\` bcrypt,
interchangeable with bcryptjs. The two raw baselines answer the same /health JSON and a login that only verifies
the password: one with \`Bun.password.verify\`, one with \`bcryptjs.compare\` (pure JS on the event loop) —
the measurement behind the choice.

${table(
  ['process', '/health req/s', 'p50', 'p99', 'max', 'logins', 'login p50 / p99', 'failed logins'],
  [
    row('this server, no logins', quiet, false),
    row('this server, login bursts', server, true),
    row('raw Bun.serve + Bun.password, login bursts', rawBun, true),
    row('raw Bun.serve + bcryptjs, login bursts', rawJs, true),
  ],
)}`,
  )
}
