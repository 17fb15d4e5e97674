// Every knob of a bench run, read once from the environment. BENCH_QUICK=1 is a smoke run: every
// figure is measured, briefly, and nothing is written unless BENCH_OUTPUT names a file.
import { resolve } from 'node:path'

export interface BenchSettings {
  quick: boolean
  /** seconds of each measured wrk run (wrk takes whole seconds) */
  durationS: number
  /** rounds of each throughput trio (server, baseline, server at info), interleaved; ratios are the median of the rounds' */
  rounds: number
  /** seconds of the unmeasured wrk run before each measured one */
  warmupS: number
  threads: number
  connections: number
  /** seconds of mixed load before the "after load" RSS reading */
  loadS: number
  /** notes written on SQLite and replayed into PostgreSQL */
  replayN: number
  /** trials per fault kind */
  failoverTrials: number
  coldStartTrials: number
  /** requests per route with the delay, and as many without, in the remote-database round trips */
  remoteSamples: number
  databaseUrl: string
  /** null: print only */
  output: string | null
  repoRoot: string
  /** the server's entry file: src/index.ts, or BENCH_SERVER_ENTRY (to measure another checkout) */
  serverEntry: string
  /** BENCH_ONLY: run only these groups (postgres, pooled, sqlite, failover, cold-start, memory, replica, big-notes, remote); null = all */
  only: Set<string> | null
}

export const GROUPS = ['postgres', 'pooled', 'sqlite', 'failover', 'cold-start', 'memory', 'replica', 'big-notes', 'remote'] as const

const number = (env: Record<string, string | undefined>, name: string, fallback: number, min: number): number => {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min}, got ${JSON.stringify(raw)}`)
  return n
}

export function readSettings(env: Record<string, string | undefined> = process.env): BenchSettings {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true'
  const repoRoot = resolve(import.meta.dir, '../..')
  const only = env.BENCH_ONLY ? new Set(env.BENCH_ONLY.split(',').map((g) => g.trim()).filter(Boolean)) : null
  for (const g of only ?? []) if (!(GROUPS as readonly string[]).includes(g)) throw new Error(`BENCH_ONLY: unknown group ${g}; groups: ${GROUPS.join(', ')}`)
  // a partial or quick run does not overwrite the results of a full one unless asked to
  const output = env.BENCH_OUTPUT ? resolve(env.BENCH_OUTPUT) : quick || only ? null : resolve(repoRoot, 'bench/RESULTS.md')
  return {
    quick,
    durationS: Math.round(number(env, 'BENCH_DURATION_S', quick ? 1 : 2, 1)),
    rounds: Math.round(number(env, 'BENCH_ROUNDS', quick ? 1 : 7, 1)),
    warmupS: Math.round(number(env, 'BENCH_WARMUP_S', 1, 0)),
    threads: number(env, 'BENCH_THREADS', 2, 1),
    connections: number(env, 'BENCH_CONNECTIONS', 32, 1),
    loadS: Math.round(number(env, 'BENCH_LOAD_S', quick ? 3 : 60, 1)),
    replayN: number(env, 'BENCH_REPLAY_N', quick ? 1_000 : 10_000, 10),
    failoverTrials: number(env, 'BENCH_FAILOVER_TRIALS', quick ? 1 : 3, 1),
    coldStartTrials: number(env, 'BENCH_COLD_START_TRIALS', quick ? 2 : 5, 1),
    remoteSamples: Math.round(number(env, 'BENCH_REMOTE_SAMPLES', quick ? 6 : 20, 2)),
    databaseUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    output,
    repoRoot,
    serverEntry: resolve(env.BENCH_SERVER_ENTRY || resolve(repoRoot, 'src/index.ts')),
    only,
  }
}
