// What every scenario gets: the settings, the process registry, the results being collected, a
// scratch folder, and the measured wrk run (warm-up first, then the run that counts).
import type { Processes } from './processes.ts'
import type { Results } from './report.ts'
import type { BenchSettings } from './settings.ts'
import { cpuMs } from './proc-fs.ts'
import { runWrk, type WrkResult } from './wrk.ts'

export interface BenchContext {
  settings: BenchSettings
  procs: Processes
  results: Results
  /** scratch folder (wrk scripts), removed at the end */
  dir: string
  log(message: string): void
}

export interface LoadTarget {
  url: string
  headers?: Record<string, string>
  script?: string
  /** the process serving it: its CPU time per request is reported */
  pid?: number
}

export interface Measured extends WrkResult {
  /** CPU time (user + system) of the serving process per request, in µs; null when unknown */
  cpuUsPerRequest: number | null
}

/** An unmeasured warm-up, then the measured run, both with the run's wrk settings unless overridden. */
export async function measure(
  ctx: BenchContext,
  target: LoadTarget,
  o: { threads?: number; connections?: number; durationS?: number; warmup?: boolean } = {},
): Promise<Measured> {
  const s = ctx.settings
  const { pid, ...load } = target
  const run = {
    ...load,
    dir: ctx.dir,
    threads: o.threads ?? s.threads,
    connections: o.connections ?? s.connections,
  }
  if (s.warmupS > 0 && o.warmup !== false) await runWrk({ ...run, durationS: s.warmupS })
  const before = pid === undefined ? null : cpuMs(pid)
  const result = await runWrk({ ...run, durationS: o.durationS ?? s.durationS })
  const after = pid === undefined ? null : cpuMs(pid)
  const cpuUsPerRequest = before === null || after === null || result.requests === 0 ? null : ((after - before) * 1000) / result.requests
  return { ...result, cpuUsPerRequest }
}
