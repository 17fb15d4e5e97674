// A private PgBouncer in transaction mode, as Neon and Supabase pool (DESIGN §12), in front of the
// shared PostgreSQL: its own temp folder and port, run as the postgres OS user (PgBouncer refuses to
// run as root), stopped by PID. The shared service is never reconfigured.
//
// Two styles, the two that users meet:
//   refuses-startup-parameters  PgBouncer's default: a startup parameter it does not track (such as
//                               statement_timeout) ends the connection with 08P01 (Neon's pooler)
//   ignores-startup-parameters  told to ignore them, so they are silently dropped (Supavisor-like)
// Both lose named prepared statements between transactions (PgBouncer 1.18 does not track them), and
// both have few server connections, so consecutive transactions really do move between them.
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import postgres from 'postgres'
import { freePort, postgresIds } from './pg-cluster.ts'

export const PGBOUNCER_BIN = '/usr/sbin/pgbouncer'

export type PgBouncerStyle = 'refuses-startup-parameters' | 'ignores-startup-parameters'

export interface PgBouncer {
  readonly port: number
  readonly style: PgBouncerStyle
  /** `url` (a database of the target server) with its host and port replaced by the pooler's */
  pooledUrl(url: string): string
  /** the pooler's own log, for failure messages */
  log(): string
  stop(): Promise<void>
}

/** Why a private PgBouncer cannot be started here, or null when it can. */
export function pgBouncerUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'tests do not run as root (needed to run PgBouncer as the postgres user)'
  if (!existsSync(PGBOUNCER_BIN)) return `${PGBOUNCER_BIN} is missing (apt-get install pgbouncer; .ci/run does it)`
  if (postgresIds() === null) return 'there is no postgres OS user'
  return null
}

export async function startPgBouncer(opts: { targetHost: string; targetPort: number; style: PgBouncerStyle; user?: string }): Promise<PgBouncer> {
  const ids = postgresIds()
  if (!ids) throw new Error('there is no postgres OS user')
  const user = opts.user ?? 'postgres'
  const dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'))
  chownSync(dir, ids.uid, ids.gid)
  const port = freePort()
  const logFile = join(dir, 'pgbouncer.log')
  const config = [
    '[databases]',
    `* = host=${opts.targetHost} port=${opts.targetPort}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = transaction',
    'max_client_conn = 200',
    'default_pool_size = 4',
    `logfile = ${logFile}`,
    ...(opts.style === 'ignores-startup-parameters' ? ['ignore_startup_parameters = statement_timeout,options,extra_float_digits'] : []),
  ].join('\n')
  writeFileSync(join(dir, 'pgbouncer.ini'), `${config}\n`)
  writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`)
  for (const f of ['pgbouncer.ini', 'users.txt']) chownSync(join(dir, f), ids.uid, ids.gid)

  const proc: Subprocess = Bun.spawn([PGBOUNCER_BIN, join(dir, 'pgbouncer.ini')], {
    ...ids,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
  })
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : '(no log)')
  const pooledUrl = (url: string) => {
    const u = new URL(url)
    u.hostname = '127.0.0.1'
    u.port = String(port)
    return u.toString()
  }
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
    const gone = await Promise.race([proc.exited.then(() => true), Bun.sleep(5_000).then(() => false)])
    if (!gone) proc.kill('SIGKILL')
    await proc.exited
    rmSync(dir, { recursive: true, force: true })
  }

  // Ready once it answers a query through itself (no startup parameters, no prepared statement).
  const deadline = Date.now() + 15_000
  for (;;) {
    if (proc.exitCode !== null) {
      const why = log()
      await stop()
      throw new Error(`pgbouncer exited (${proc.exitCode}) before it served:\n${why}`)
    }
    const sql = postgres(pooledUrl(`postgres://${user}@127.0.0.1/postgres`), { max: 1, connect_timeout: 1, prepare: false, onnotice: () => {} })
    try {
      await sql`select 1`
      break
    } catch (e) {
      if (Date.now() > deadline) {
        await stop()
        throw new Error(`pgbouncer did not serve within 15 s (${(e as Error).message}):\n${log()}`)
      }
      await Bun.sleep(50)
    } finally {
      await sql.end({ timeout: 0 }).catch(() => {})
    }
  }
  return { port, style: opts.style, pooledUrl, log, stop }
}
