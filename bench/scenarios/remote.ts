// Round trips to PostgreSQL per request, as a remote database makes you pay them. The server reaches
// PostgreSQL through the test suite's fault proxy (test/helpers/fault-proxy.ts); in `{ latencyMs }`
// mode it delays every chunk by latencyMs in each direction, so latencyMs = 15 adds 30 ms to each round
// trip. Per route, sequential requests (one at a time): samples with the delay and without it,
// alternating (the order swapped every pair, so a drift of the machine favours neither), and
//   round trips = (median with the delay − median without) ÷ 30 ms.
// What a request does besides the database (JSON, the framework) is in both medians and cancels out.
// bcrypt would too, but at the default cost its time moves by tens of ms from one request to the next on
// a shared machine, which swamps a 30 ms step: the server runs with BCRYPT_COST=4 here (no query depends
// on the cost), and login is reported as "password check + N", the check at the default cost timed
// apart in this process. Setup requests (fresh notes, users,
// sessions) run untimed and without the delay. The raw baseline (bench/baselines/pg-select.ts: one
// `select` per request) goes through the same proxy and must come out at ≈ 1: that checks the method.
import { startFaultProxy, type FaultProxy } from '../../test/helpers/fault-proxy.ts'
import { hashPassword, verifyPassword } from '../../src/auth/password.ts'
import { health, waitForHealth, type Account } from '../lib/api.ts'
import type { BenchContext } from '../lib/context.ts'
import { fmtMs, median, table } from '../lib/report.ts'
import { startBaseline, startServer } from '../lib/servers.ts'
import { remoteRoutes, type Answer, type RemoteRoute, type RoundTripTarget } from './remote-routes.ts'

const RT_MS = 30
/** the proxy delays each direction by this much */
const ONE_WAY_MS = RT_MS / 2
/** unmeasured samples per route first, without the delay: connections open, statements prepared */
const WARMUP = 3
/** the baseline must come out within this of one round trip, or the method is not trusted */
const BASELINE_TOLERANCE = 0.1
/** the server's BCRYPT_COST here: the cheapest, so that bcrypt does not add noise to the medians */
const BCRYPT_COST = 4
/** the server's default BCRYPT_COST, for the password check timed in this process */
const DEFAULT_BCRYPT_COST = 10

interface Outcome {
  label: string
  target: RoundTripTarget
  plainMs: number
  delayedMs: number
  roundTrips: number
}

async function sample(proxy: FaultProxy, route: RemoteRoute, delayed: boolean): Promise<number> {
  const send = await route.prepare()
  proxy.setMode(delayed ? { latencyMs: ONE_WAY_MS } : 'pass')
  let answer: Answer
  let ms: number
  try {
    const t = performance.now()
    answer = await send()
    ms = performance.now() - t
  } finally {
    proxy.setMode('pass')
  }
  if (answer.status !== route.status) throw new Error(`${route.label} answered ${answer.status}, not ${route.status}: ${JSON.stringify(answer.body).slice(0, 300)}`)
  return ms
}

async function measureRoute(ctx: BenchContext, proxy: FaultProxy, route: RemoteRoute, samples: number): Promise<Outcome> {
  for (let i = 0; i < WARMUP; i++) await sample(proxy, route, false)
  const plain: number[] = []
  const delayed: number[] = []
  for (let i = 0; i < samples; i++) {
    for (const d of i % 2 === 0 ? [false, true] : [true, false]) (d ? delayed : plain).push(await sample(proxy, route, d))
  }
  const [plainMs, delayedMs] = [median(plain), median(delayed)]
  const roundTrips = (delayedMs - plainMs) / RT_MS
  const spread = (xs: number[]) => `${fmtMs(Math.min(...xs))}–${fmtMs(Math.max(...xs))}`
  ctx.log(`  ${route.label}: ${fmtMs(plainMs)} → ${fmtMs(delayedMs)}: ${roundTrips.toFixed(2)} round trips (samples ${spread(plain)} / ${spread(delayed)})`)
  return { label: route.label, target: route.target, plainMs, delayedMs, roundTrips }
}

/** one bcrypt check at the default cost, as the server makes it (Bun.password on a worker thread), median of 5 */
async function passwordCheckMs(): Promise<number> {
  const password = `bench-${crypto.randomUUID()}`.slice(0, 40)
  const hash = await hashPassword(password, DEFAULT_BCRYPT_COST)
  const times: number[] = []
  for (let i = 0; i < 5; i++) {
    const t = performance.now()
    if (!(await verifyPassword(password, hash))) throw new Error('password check failed')
    times.push(performance.now() - t)
  }
  return median(times)
}

/**
 * Round trips in units of the baseline's: the proxy's timers fire a little late, so one real round
 * trip through it costs slightly more than RT_MS (the baseline, which makes exactly one, reads about
 * 1.05). A target is judged on this, which is what the server costs against the minimum.
 */
const inBaselineTrips = (o: Outcome, base: Outcome): number => o.roundTrips / base.roundTrips
/** Issue 16's "≤ 1.1" for one round trip: what a whole number of round trips may read over it, measured. */
const MEASUREMENT_SLACK = 0.1
const met = (o: Outcome, base: Outcome): boolean => inBaselineTrips(o, base) <= o.target.max + MEASUREMENT_SLACK
const trips = (o: Outcome, base?: Outcome): string =>
  `${o.target.passwordCheck ? 'password check + ' : ''}${o.roundTrips.toFixed(2)}${base ? ` (${inBaselineTrips(o, base).toFixed(2)} of the baseline's)` : ''}`
const targetText = (t: RoundTripTarget): string => `≤ ${t.passwordCheck ? 'password check + ' : ''}${t.max + MEASUREMENT_SLACK}`

export async function remoteDatabase(ctx: BenchContext, o: { databaseUrl: string; account: Account; jwtSecret: string; fallbackPath: string }): Promise<void> {
  const target = new URL(o.databaseUrl)
  const proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
  try {
    const databaseUrl = proxy.proxiedUrl(o.databaseUrl)
    // the background probe queries PostgreSQL every HEALTH_CHECK_INTERVAL_MS: out of the way (its maximum);
    // bcrypt at its cheapest (see the header)
    const server = await startServer(ctx.procs, ctx.settings.serverEntry, {
      name: 'remote',
      logLevel: 'info',
      databaseUrl,
      fallbackPath: o.fallbackPath,
      jwtSecret: o.jwtSecret,
      admin: o.account,
      extraEnv: { HEALTH_CHECK_INTERVAL_MS: '3600000', BCRYPT_COST: String(BCRYPT_COST) },
    })
    const baseline = await startBaseline(ctx.procs, ctx.settings.repoRoot, 'pg-select', { DATABASE_URL: databaseUrl })
    try {
      await waitForHealth(server.baseUrl, (h) => h.mode === 'primary' && h.primary?.status === 'up', 30_000)
      const n = ctx.settings.remoteSamples
      const raw: RemoteRoute = {
        label: 'raw baseline: one select (bench/baselines/pg-select.ts)',
        target: { max: 1 + BASELINE_TOLERANCE },
        status: 200,
        prepare: async () => async () => {
          const res = await fetch(`${baseline.baseUrl}/`)
          return { status: res.status, body: await res.json() }
        },
      }
      const base = await measureRoute(ctx, proxy, raw, n)
      const routes = await remoteRoutes(server.baseUrl, o.account)
      const outcomes: Outcome[] = []
      for (const route of routes) outcomes.push(await measureRoute(ctx, proxy, route, n))
      const checkMs = await passwordCheckMs()
      // a failover in the middle would have measured SQLite, not PostgreSQL
      const after = await health(server.baseUrl)
      if (after.mode !== 'primary') throw new Error(`the server left PostgreSQL during the run: ${JSON.stringify(after).slice(0, 300)}`)
      report(ctx, { base, outcomes, checkMs, samples: n })
    } finally {
      await Promise.all([server.spawned.stop(), baseline.spawned.stop()])
    }
  } finally {
    await proxy.close()
  }
}

function report(ctx: BenchContext, r: { base: Outcome; outcomes: Outcome[]; checkMs: number; samples: number }): void {
  const baseOk = Math.abs(r.base.roundTrips - 1) <= BASELINE_TOLERANCE
  ctx.results.add({
    label: `remote database: round trips of the raw baseline (one select, ${RT_MS} ms per round trip)`,
    server: r.base.roundTrips.toFixed(2),
    baseline: '—',
    ratio: '—',
    target: `1 ± ${BASELINE_TOLERANCE}: checks the method`,
    met: baseOk,
  })
  for (const o of r.outcomes) {
    ctx.results.add({
      label: `remote database: round trips of ${o.label}`,
      server: trips(o, r.base),
      baseline: r.base.roundTrips.toFixed(2),
      ratio: '—',
      target: targetText(o.target),
      met: met(o, r.base),
      ...(baseOk ? {} : { note: 'the baseline is off one round trip: the method did not hold in this run' }),
    })
  }
  const row = (o: Outcome, targetCell: string, metCell: string) => [o.label, fmtMs(o.plainMs), fmtMs(o.delayedMs), trips(o), (o.roundTrips / r.base.roundTrips).toFixed(2), targetCell, metCell]
  const rows = [
    row(r.base, `1 ± ${BASELINE_TOLERANCE} (checks the method)`, baseOk ? '✅ yes' : '❌ no'),
    ...r.outcomes.map((o) => row(o, targetText(o.target), met(o, r.base) ? '✅ yes' : '❌ no')),
  ]
  ctx.results.section(
    `Remote database: PostgreSQL round trips per request`,
    `What a request costs when PostgreSQL is ${RT_MS} ms away. The server (started as in the other scenarios, LOG_LEVEL=info,
\`HEALTH_CHECK_INTERVAL_MS=3600000\` so that the background probe stays out of the samples, \`BCRYPT_COST=${BCRYPT_COST}\`, below)
reaches PostgreSQL through the test suite's fault proxy (\`test/helpers/fault-proxy.ts\`). In \`{ latencyMs: ${ONE_WAY_MS} }\` mode the proxy holds every
chunk ${ONE_WAY_MS} ms in each direction: ${RT_MS} ms per round trip. Requests go one at a time; per route ${WARMUP} unmeasured
requests, then ${r.samples} with the delay and ${r.samples} without, alternating (the order swapped every pair), and
round trips = (median with the delay − median without) ÷ ${RT_MS} ms. Whatever a request does besides waiting for
PostgreSQL is in both medians and cancels out. Setup (a fresh note or user for each DELETE, a fresh login for each
logout, the refresh token the previous rotation returned) is made before each timed request, untimed and without
the delay; every timed request answered its 2xx. The raw baseline (\`bench/baselines/pg-select.ts\`: \`Bun.serve\` +
postgres.js, one \`select 1\` per request, through the same proxy) is the least a request can cost and must come out
at 1: it checks the proxy and the method. It reads a little over 1 (the proxy's timers fire late), so each route is
also given in the baseline's round trips, and its target is judged on that: N whole round trips, read as at most
N + ${MEASUREMENT_SLACK} (issue 16's "≤ 1.1" for one). bcrypt's time would cancel out too, but at the default cost it moves by
tens of ms from one request to the next on a shared machine (at cost 10 the password change's figure moved by more
than a round trip between two runs), which swamps a ${RT_MS} ms step; no query depends on the cost, so the server runs
with the cheapest, \`BCRYPT_COST=${BCRYPT_COST}\`. Login is "password check + N": the check at the default cost ${DEFAULT_BCRYPT_COST} takes ${fmtMs(r.checkMs)} here
(timed in the bench process with the server's \`verifyPassword\`), and N round trips come on top of it.

${table(['route', `median without delay`, `median with ${RT_MS} ms RT`, 'round trips', "in the baseline's round trips", 'target', 'met'], rows)}`,
  )
}
