// req/s of one route: this server (LOG_LEVEL=warn), the raw baseline, and this server again at
// LOG_LEVEL=info (the default), measured back to back with the same wrk settings, in BENCH_ROUNDS
// interleaved rounds; each process's best round counts (the machine is shared: a round disturbed by
// someone else's work should not decide a ratio).
import { measure, type BenchContext, type LoadTarget, type Measured } from '../lib/context.ts'
import { fmtInt, fmtMs, fmtPct, table } from '../lib/report.ts'
import type { WrkResult } from '../lib/wrk.ts'

export interface ThroughputCase {
  label: string
  /** e.g. 0.85 */
  minRatio: number
  server: LoadTarget
  baseline: LoadTarget
  serverInfo: LoadTarget
  /** more processes, reported beside the others without a target */
  extra?: { label: string; target: LoadTarget }[]
}

export interface ThroughputOutcome {
  label: string
  server: Measured
  baseline: Measured
  serverInfo: Measured
  extra: { label: string; result: Measured }[]
}

const best = (a: Measured | null, b: Measured): Measured => (a === null || b.rps > a.rps ? b : a)

const flawed = (r: WrkResult): string | null =>
  r.non2xx > 0 || r.socketErrors > 0 ? `${r.non2xx} non-2xx, ${r.socketErrors} socket errors` : null

export async function throughput(ctx: BenchContext, c: ThroughputCase): Promise<ThroughputOutcome> {
  let server: Measured | null = null
  let baseline: Measured | null = null
  let serverInfo: Measured | null = null
  const extra: (Measured | null)[] = (c.extra ?? []).map(() => null)
  for (let round = 1; round <= ctx.settings.rounds; round++) {
    const first = round === 1
    ctx.log(`  ${c.label}: round ${round} of ${ctx.settings.rounds}`)
    server = best(server, await measure(ctx, c.server, { warmup: first }))
    baseline = best(baseline, await measure(ctx, c.baseline, { warmup: first }))
    serverInfo = best(serverInfo, await measure(ctx, c.serverInfo, { warmup: first }))
    for (const [i, e] of (c.extra ?? []).entries()) extra[i] = best(extra[i]!, await measure(ctx, e.target, { warmup: first }))
  }
  if (!server || !baseline || !serverInfo) throw new Error('no rounds')
  ctx.log(`    ${fmtInt(server.rps)} vs ${fmtInt(baseline.rps)} req/s (info: ${fmtInt(serverInfo.rps)})`)

  const ratio = server.rps / baseline.rps
  const problem = flawed(server) ?? flawed(baseline)
  ctx.results.add({
    label: `${c.label} req/s`,
    server: fmtInt(server.rps),
    baseline: fmtInt(baseline.rps),
    ratio: fmtPct(ratio),
    target: `≥ ${fmtPct(c.minRatio)} of baseline`,
    met: problem ? false : ratio >= c.minRatio,
    ...(problem ? { note: problem } : {}),
  })
  const infoProblem = flawed(serverInfo)
  ctx.results.add({
    label: `${c.label} req/s at LOG_LEVEL=info (the default)`,
    server: fmtInt(serverInfo.rps),
    baseline: fmtInt(baseline.rps),
    ratio: fmtPct(serverInfo.rps / baseline.rps),
    target: 'reported: the cost of one log line per request',
    met: null,
    ...(infoProblem ? { note: infoProblem } : {}),
  })
  return { label: c.label, server, baseline, serverInfo, extra: (c.extra ?? []).map((e, i) => ({ label: e.label, result: extra[i]! })) }
}

export function throughputTable(outcomes: ThroughputOutcome[]): string {
  const rows: string[][] = []
  for (const o of outcomes) {
    const processes: [string, Measured][] = [['this server (warn)', o.server], ['raw baseline', o.baseline], ['this server (info)', o.serverInfo], ...o.extra.map((e): [string, Measured] => [e.label, e.result])]
    for (const [who, r] of processes) {
      rows.push([
        o.label,
        who,
        fmtInt(r.rps),
        r.cpuUsPerRequest === null ? '—' : `${Math.round(r.cpuUsPerRequest)} µs`,
        fmtMs(r.p50Ms),
        fmtMs(r.p99Ms),
        fmtInt(r.requests),
        String(r.non2xx + r.socketErrors),
      ])
    }
  }
  return table(['route', 'process', 'req/s', 'CPU per request', 'p50', 'p99', 'requests', 'errors'], rows)
}
