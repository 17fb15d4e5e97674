// A private, throwaway PostgreSQL 15 cluster for tests that must crash the database itself (kill -9
// of the postmaster): initdb into a temp folder owned by the `postgres` OS user, trust auth, loopback
// only, a free port. The shared PostgreSQL service is never touched. Tests run as root, and
// PostgreSQL refuses to run as root, so its binaries are spawned with the postgres user's uid and gid
// (what `runuser -u postgres --` does, minus the watching parent runuser forks: the PID we hold is
// the postmaster's own, so kill -9 by PID hits the database, not a wrapper).
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import postgres from 'postgres'

export const PG_BIN = '/usr/lib/postgresql/15/bin'

export interface PgCluster {
  readonly port: number
  readonly dataDir: string
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string
  /** PID of the running postmaster (the process spawned), null when it is not running */
  postmasterPid(): number | null
  /** SIGKILL to the postmaster by PID; resolves once it is gone (its backends follow on their own) */
  kill9(): Promise<void>
  /** starts the postmaster again on the same port and data folder (crash recovery included) */
  start(): Promise<void>
  /** immediate shutdown, then the temp folder is removed */
  destroy(): Promise<void>
  /** the server's own log, for failure messages */
  log(): string
}

/** Why a private cluster cannot be made here, or null when it can. */
export function pgClusterUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'tests do not run as root (needed to run PostgreSQL as the postgres user)'
  for (const f of [join(PG_BIN, 'initdb'), join(PG_BIN, 'postgres')]) if (!existsSync(f)) return `${f} is missing`
  if (postgresIds() === null) return 'there is no postgres OS user'
  return null
}

export function postgresIds(): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
  if (!line) return null
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

/** A loopback port nothing listens on right now (PostgreSQL cannot be asked for port 0). */
export function freePort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = listener.port
  listener.stop(true)
  return port
}

type Ids = { uid: number; gid: number }

/** the environment of the postgres user's processes: nothing of ours (PG* variables) leaks in */
const pgEnv = (home: string) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C', LC_ALL: 'C' })

async function runAs(ids: Ids, home: string, cmd: string[], what: string): Promise<void> {
  const p = Bun.spawn(cmd, { ...ids, cwd: home, env: pgEnv(home), stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()])
  if (code !== 0) throw new Error(`${what} failed (exit ${code}): ${out}\n${err}`)
}

export interface PgClusterOptions {
  /** extra `-c name=value` server settings, e.g. ssl=on */
  settings?: string[]
  /** files written into the cluster's folder before it starts (owned by postgres, mode 0600), e.g. a TLS key */
  files?: Record<string, string>
  /** the whole pg_hba.conf, e.g. TLS-only rules; default: initdb's (trust) */
  hba?: string
}

export async function startPgCluster(opts: PgClusterOptions = {}): Promise<PgCluster> {
  const ids = postgresIds()
  if (!ids) throw new Error('there is no postgres OS user')
  const root = mkdtempSync(join(tmpdir(), 'pg-cluster-'))
  chownSync(root, ids.uid, ids.gid)
  const dataDir = join(root, 'data')
  const logFiles: string[] = []
  const port = freePort()
  /** the current postmaster */
  let proc: Subprocess | null = null
  /** every postmaster started, so destroy() can make sure none is left */
  const started: Subprocess[] = []

  const ready = async (timeoutMs: number): Promise<boolean> => {
    const end = Date.now() + timeoutMs
    while (Date.now() < end) {
      if (proc?.exitCode !== null && proc?.exitCode !== undefined) return false
      // 'prefer': a TLS-only cluster answers too
      const sql = postgres(cluster.url('postgres'), { max: 1, connect_timeout: 1, ssl: 'prefer', onnotice: () => {} })
      try {
        await sql`select 1`
        return true
      } catch {
        await Bun.sleep(50)
      } finally {
        await sql.end({ timeout: 0 }).catch(() => {})
      }
    }
    return false
  }

  const cluster: PgCluster = {
    port,
    dataDir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    postmasterPid: () => (proc && proc.exitCode === null ? proc.pid : null),

    async start() {
      // After a kill -9 the old backends may still hold the shared memory for a moment; then the new
      // postmaster refuses to start and is simply tried again.
      for (let attempt = 0; attempt < 20; attempt++) {
        const logFile = join(root, `server-${logFiles.length}.log`)
        logFiles.push(logFile)
        const p = Bun.spawn(
          [join(PG_BIN, 'postgres'), '-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1',
            '-c', `unix_socket_directories=${root}`, '-c', 'max_connections=50', '-c', 'shared_buffers=16MB',
            ...(opts.settings ?? []).flatMap((setting) => ['-c', setting])],
          { ...ids, cwd: root, env: pgEnv(root), stdin: 'ignore', stdout: 'ignore', stderr: Bun.file(logFile) },
        )
        started.push(p)
        proc = p
        if (await ready(10_000)) return
        if (p.exitCode === null) p.kill('SIGKILL')
        await p.exited
        await Bun.sleep(200)
      }
      throw new Error(`the private PostgreSQL cluster did not start:\n${cluster.log()}`)
    },

    async kill9() {
      if (!proc || proc.exitCode !== null) throw new Error('the private PostgreSQL cluster is not running')
      process.kill(proc.pid, 'SIGKILL')
      await proc.exited
      // Its backends notice the postmaster's death and exit on their own (start() retries meanwhile).
    },

    async destroy() {
      // SIGQUIT: immediate shutdown, the postmaster takes its backends down with it.
      if (proc && proc.exitCode === null) process.kill(proc.pid, 'SIGQUIT')
      const exited = Promise.all(started.map((p) => p.exited))
      if ((await Promise.race([exited.then(() => true), Bun.sleep(10_000).then(() => false)])) === false)
        for (const p of started) if (p.exitCode === null) process.kill(p.pid, 'SIGKILL')
      await exited
      rmSync(root, { recursive: true, force: true })
    },

    log: () => logFiles.filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8')).join('').slice(-4000),
  }

  try {
    await runAs(ids, root, [join(PG_BIN, 'initdb'), '-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], 'initdb')
    const owned = (path: string, text: string) => {
      writeFileSync(path, text)
      chownSync(path, ids.uid, ids.gid)
      chmodSync(path, 0o600)
    }
    for (const [name, text] of Object.entries(opts.files ?? {})) owned(join(root, name), text)
    if (opts.hba !== undefined) owned(join(dataDir, 'pg_hba.conf'), opts.hba)
    await cluster.start()
  } catch (e) {
    await cluster.destroy().catch(() => {})
    throw e
  }
  return cluster
}
