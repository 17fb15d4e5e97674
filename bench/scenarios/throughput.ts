// req/s of one route: this server (LOG_LEVEL=warn), the raw baseline, and this server again at
// LOG_LEVEL=info (the default), measured back to back with the same wrk settings, in BENCH_ROUNDS
// interleaved rounds. On a shared 2-vCPU machine the same process moves by 20-40% from one run to the
// next, so a ratio is the median of the per-round ratios (each server run against the baseline run
// right next to it, the order swapped every round), and req/s is each process's median round.
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
  /** what the LOG_LEVEL=info row shows; default: the cost of the per-request log line */
  infoNote?: string
  /** more processes, reported beside the others without a target */
  extra?: { label: string; target: LoadTarget }[]
  /** wrk settings of this figure when they differ from the run's (BENCH_THREADS, BENCH_CONNECTIONS) */
  wrk?: { threads: number; connections: number }
}

export interface ThroughputOutcome {
  label: string
  /** the wrk settings it was measured with */
  wrk: { threads: number; connections: number }
  server: Measured
  baseline: Measured
  serverInfo: Measured
  extra: { label: string; result: Measured }[]
  /** req/s of every round: server, baseline, serverInfo, then the extras */
  rounds: number[][]
}

/** the round with the median req/s (the lower middle one of an even number) */
function median(rounds: Measured[]): Measured {
  if (rounds.length === 0) throw new Error('no rounds')
  return [...rounds].sort((a, b) => a.rps - b.rps)[Math.floor((rounds.length - 1) / 2)]!
}

/** the median of round-by-round ratios a[i] / b[i] */
function pairedRatio(a: Measured[], b: Measured[]): number {
  const ratios = a.map((m, i) => m.rps / b[i]!.rps).sort((x, y) => x - y)
  const mid = Math.floor(ratios.length / 2)
  return ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2
}

const flawed = (r: WrkResult): string | null =>
  r.non2xx > 0 || r.socketErrors > 0 ? `${r.non2xx} non-2xx, ${r.socketErrors} socket errors` : null

export async function throughput(ctx: BenchContext, c: ThroughputCase): Promise<ThroughputOutcome> {
  const wrk = c.wrk ?? { threads: ctx.settings.threads, connections: ctx.settings.connections }
  const rounds = { server: [] as Measured[], baseline: [] as Measured[], serverInfo: [] as Measured[], extra: (c.extra ?? []).map((): Measured[] => []) }
  for (let round = 1; round <= ctx.settings.rounds; round++) {
    const first = round === 1
    ctx.log(`  ${c.label}: round ${round} of ${ctx.settings.rounds}`)
    // server, baseline, info; then info, baseline, server: a drift of the machine favours neither
    const order = round % 2 === 1 ? (['server', 'baseline', 'serverInfo'] as const) : (['serverInfo', 'baseline', 'server'] as const)
    for (const who of order) rounds[who].push(await measure(ctx, c[who], { ...wrk, warmup: first }))
    for (const [i, e] of (c.extra ?? []).entries()) rounds.extra[i]!.push(await measure(ctx, e.target, { ...wrk, warmup: first }))
  }
  const [server, baseline, serverInfo] = [median(rounds.server), median(rounds.baseline), median(rounds.serverInfo)]
  const extra = rounds.extra.map(median)
  const ratio = pairedRatio(rounds.server, rounds.baseline)
  const perRound = (ms: Measured[]) => ms.map((m, i) => fmtPct(m.rps / rounds.baseline[i]!.rps)).join(' · ')
  ctx.log(`    ${fmtInt(server.rps)} vs ${fmtInt(baseline.rps)} req/s (info: ${fmtInt(serverInfo.rps)}), wrk -t${wrk.threads} -c${wrk.connections}`)
  ctx.log(`    ratio ${fmtPct(ratio)}, target ≥ ${fmtPct(c.minRatio)}: ${ratio >= c.minRatio ? 'met' : 'missed'} (rounds: ${perRound(rounds.server)})`)
  const cpu = (m: Measured) => (m.cpuUsPerRequest === null ? '—' : `${m.cpuUsPerRequest.toFixed(1)} µs`)
  ctx.log(`    CPU per request: server ${cpu(server)}, baseline ${cpu(baseline)}`)

  const problem = flawed(server) ?? flawed(baseline)
  ctx.results.add({
    label: `${c.label} req/s`,
    server: fmtInt(server.rps),
    baseline: fmtInt(baseline.rps),
    ratio: fmtPct(ratio),
    target: `≥ ${fmtPct(c.minRatio)} of baseline${c.wrk ? `, wrk -t${wrk.threads} -c${wrk.connections}` : ''}`,
    met: problem ? false : ratio >= c.minRatio,
    ...(problem ? { note: problem } : {}),
  })
  const infoProblem = flawed(serverInfo)
  ctx.results.add({
    label: `${c.label} req/s at LOG_LEVEL=info (the default)`,
    server: fmtInt(serverInfo.rps),
    baseline: fmtInt(baseline.rps),
    ratio: fmtPct(pairedRatio(rounds.serverInfo, rounds.baseline)),
    target: c.infoNote ?? 'reported: the cost of one log line per request',
    met: null,
    ...(infoProblem ? { note: infoProblem } : {}),
  })
  return { label: c.label, wrk, server, baseline, serverInfo, extra: (c.extra ?? []).map((e, i) => ({ label: e.label, result: extra[i]! })), rounds: [rounds.server, rounds.baseline, rounds.serverInfo, ...rounds.extra].map((r) => r.map((m) => m.rps)) }
}

export function throughputTable(outcomes: ThroughputOutcome[]): string {
  const rows: string[][] = []
  for (const o of outcomes) {
    const processes: [string, Measured][] = [['this server (warn)', o.server], ['raw baseline', o.baseline], ['this server (info)', o.serverInfo], ...o.extra.map((e): [string, Measured] => [e.label, e.result])]
    for (const [i, [who, r]] of processes.entries()) {
      rows.push([
        o.label,
        `-t${o.wrk.threads} -c${o.wrk.connections}`,
        who,
        fmtInt(r.rps),
        r.cpuUsPerRequest === null ? '—' : `${Math.round(r.cpuUsPerRequest)} µs`,
        fmtMs(r.p50Ms),
        fmtMs(r.p99Ms),
        fmtInt(r.requests),
        String(r.non2xx + r.socketErrors),
        [...o.rounds[i]!].sort((a, b) => a - b).map((rps) => fmtInt(rps)).join(' · '),
      ])
    }
  }
  return table(['route', 'wrk', 'process', 'req/s (median round)', 'CPU per request', 'p50', 'p99', 'requests', 'errors', 'every round, req/s'], rows)
}
