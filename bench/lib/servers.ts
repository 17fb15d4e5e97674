// Starting what is measured: the real server (`bun src/index.ts`) and the raw baselines
// (`bun bench/baselines/<name>.ts`), each in its own process on a loopback port of its own.
import { join } from 'node:path'
import { listeningPorts } from './proc-fs.ts'
import type { Processes, Spawned } from './processes.ts'

export interface Running {
  spawned: Spawned
  port: number
  baseUrl: string
  /** ms from spawn until the port answered HTTP */
  readyMs: number
}

const sleep = (ms: number) => Bun.sleep(ms)

/** The environment every spawned process starts from: nothing of the bench's own environment leaks in. */
export function baseEnv(): Record<string, string | undefined> {
  return { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, NODE_ENV: 'production' }
}

/** Waits until the process listens and answers `path` with any HTTP status; throws with its output if it exits. */
export async function waitForServer(spawned: Spawned, path: string, timeoutMs = 30_000): Promise<Running> {
  const deadline = performance.now() + timeoutMs
  let port: number | null = null
  while (performance.now() < deadline) {
    if (spawned.proc.exitCode !== null || spawned.proc.signalCode !== null) {
      throw new Error(`${spawned.name} exited (code ${spawned.proc.exitCode}, signal ${spawned.proc.signalCode}) before it listened:\n${spawned.output().slice(-4000)}`)
    }
    port ??= listeningPorts(spawned.pid)[0] ?? null
    if (port !== null) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`)
        await res.arrayBuffer()
        return { spawned, port, baseUrl: `http://127.0.0.1:${port}`, readyMs: performance.now() - spawned.spawnedAt }
      } catch {
        // listening, not yet serving
      }
    }
    await sleep(10)
  }
  throw new Error(`${spawned.name} did not answer within ${timeoutMs} ms:\n${spawned.output().slice(-4000)}`)
}

export interface ServerOptions {
  name: string
  logLevel: 'info' | 'warn'
  /** PostgreSQL URL, or null for SQLite only */
  databaseUrl: string | null
  /** SQLite file path */
  fallbackPath: string
  jwtSecret: string
  admin: { email: string; password: string }
  extraEnv?: Record<string, string | undefined>
}

export function serverEnv(o: ServerOptions): Record<string, string | undefined> {
  return {
    ...baseEnv(),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: o.logLevel,
    DATABASE_URL: o.databaseUrl ?? undefined,
    FALLBACK_DATABASE_URL: `sqlite:///${o.fallbackPath}`,
    JWT_SECRET: o.jwtSecret,
    SEED_ADMIN_EMAIL: o.admin.email,
    SEED_ADMIN_PASSWORD: o.admin.password,
    // The throughput runs write tens of thousands of notes as one user: past the default limit.
    NOTES_MAX_PER_USER: '100000000',
    NOTES_MAX_BYTES_PER_USER: '1048576mb',
    ...o.extraEnv,
  }
}

/** Starts `bun <entry>` (src/index.ts) and waits until it serves. */
export async function startServer(procs: Processes, entry: string, o: ServerOptions): Promise<Running> {
  const spawned = procs.spawn(o.name, ['bun', entry], { env: serverEnv(o) })
  return waitForServer(spawned, '/health/live')
}

export async function startBaseline(
  procs: Processes,
  repoRoot: string,
  name: string,
  env: Record<string, string | undefined>,
): Promise<Running> {
  const spawned = procs.spawn(`baseline-${name}`, ['bun', join(repoRoot, `bench/baselines/${name}.ts`)], {
    env: { ...baseEnv(), PORT: '0', ...env },
  })
  return waitForServer(spawned, '/')
}
