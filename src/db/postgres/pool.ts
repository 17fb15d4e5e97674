// The postgres.js pool behind one PostgresStore, created on first use. A pool whose call missed its
// deadline may hold a wedged socket, so it is discarded and the next call gets a fresh one. It also
// learns what a pooler in front of PostgreSQL allows (DESIGN §12) and is made anew to suit it.
import postgres from 'postgres'
import { StoreError } from '../store.ts'
import { connectionOptions, initialStyle, type ConnectionSettings, type PoolerStyle } from './connection-options.ts'
import { withDeadline } from './deadline.ts'
import { refusalReason, type PoolerRefusal } from './errors.ts'

export type Sql = postgres.Sql<{}>
/** What queries are built with: the pool's sql or a transaction's. */
export type QuerySql = postgres.ISql<{}>

export class PgPool {
  #sql: Sql | null = null
  #closed = false
  #style: PoolerStyle
  /** what the pooler taught us, in words (for /config/database and /health) */
  #learnt: string[] = []
  /** TLS is required and the server's last answer to the SSLRequest was no */
  #tlsRefused = false
  /** the current pool's check that the server applied our startup parameters (acquire) */
  #verification: { sql: Sql; done: Promise<boolean> } | null = null
  /** the pool that passed that check, or needs none: every query after the first takes it as is */
  #ready: Sql | null = null

  constructor(private readonly settings: ConnectionSettings) {
    this.#style = initialStyle(settings.url, settings.poolMode)
  }

  get statementTimeoutMs(): number {
    return this.settings.statementTimeoutMs
  }

  get style(): Readonly<PoolerStyle> {
    return this.#style
  }

  get learnt(): readonly string[] {
    return this.#learnt
  }

  /**
   * The pooler refused what this pool does (a startup parameter, named prepared statements): later
   * connections do without it. True when that changed something, so the caller's retry can succeed.
   */
  adapt(refusal: PoolerRefusal): boolean {
    const next = { ...this.#style }
    // A refused or ignored startup parameter is a pooler's way, most likely in transaction mode, so
    // prepared statements go too — unless session mode was asked for: the user knows the pooler keeps them.
    if (refusal.kind !== 'prepared_statements') next.startupParams = false
    if (this.settings.poolMode !== 'session') next.prepare = false
    if (next.startupParams === this.#style.startupParams && next.prepare === this.#style.prepare) return false
    this.#style = next
    this.#learnt.push(refusalReason(refusal))
    if (this.#sql) this.discard(this.#sql)
    return true
  }

  /**
   * The pool, once it is known to reach PostgreSQL as it believes: a pool that sends startup
   * parameters first checks that the server applied them. A pooler that silently drops them
   * (PgBouncer's ignore_startup_parameters, Supavisor) is a transaction pooler, and a named prepared
   * statement sent through one may run on another server connection — a missing statement at best,
   * rows of another statement at worst — so no query goes before that check. One round trip per new
   * pool; none when the pool already does without startup parameters.
   */
  async acquire(deadlineMs: number): Promise<Sql> {
    const sql = this.get()
    if (!this.#style.startupParams) return (this.#ready = sql)
    if (this.#verification?.sql !== sql) this.#verification = { sql, done: this.#verify(sql, deadlineMs) }
    if (await this.#verification.done) return sql
    return this.get()
  }

  /** true when the server has our statement_timeout; false, and the pool adapted, when a pooler dropped it */
  async #verify(sql: Sql, deadlineMs: number): Promise<boolean> {
    try {
      const [row] = await withDeadline(
        sql<{ setting: string }[]>`select setting from pg_settings where name = 'statement_timeout'`,
        deadlineMs,
        () => this.discard(sql),
      )
      if (row?.setting === String(this.settings.statementTimeoutMs)) {
        if (this.#sql === sql) this.#ready = sql
        return true
      }
      this.adapt({ kind: 'startup_parameters_ignored' })
      return false
    } catch (e) {
      // not known yet: the next query checks again
      if (this.#verification?.sql === sql) this.#verification = null
      throw e
    }
  }

  /** the pool without a wait when it is known ready (the hot path: no promise per query), else null */
  ready(): Sql | null {
    return this.#sql !== null && this.#sql === this.#ready ? this.#sql : null
  }

  get(): Sql {
    if (this.#closed) throw new StoreError('unavailable', 'the PostgreSQL store is closed')
    if (this.#sql) return this.#sql
    const { url, options, tlsRequired } = connectionOptions(this.settings, this.#style, (byte) => {
      // 'N' (78) or 'S' (83): the server's answer to the SSLRequest postgres.js sends first
      if (tlsRequired) this.#tlsRefused = byte === 78
    })
    try {
      this.#sql = postgres(url, options)
    } catch {
      // postgres.js parses the URL here; its error would quote it, password included
      throw new StoreError('unavailable', 'the PostgreSQL URL cannot be parsed')
    }
    return this.#sql
  }

  /**
   * The error a caller should see: a connection failure right after the server refused TLS is that
   * refusal (postgres.js reports it as a reset or a timeout of the TLS handshake).
   */
  explain(error: unknown): unknown {
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
    const fromServer = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
    if (this.#tlsRefused && !fromServer) return { code: 'TLS_REFUSED', message: 'the server does not support SSL' }
    return error
  }

  /** Drops `sql` if it is still the current pool; its connections are ended without waiting. */
  discard(sql: Sql): void {
    if (this.#sql !== sql) return
    this.#sql = null
    sql.end({ timeout: 0 }).catch(() => {})
  }

  async end(timeoutS: number): Promise<void> {
    this.#closed = true
    const sql = this.#sql
    this.#sql = null
    if (!sql) return
    // end() waits for the socket to close, which a half-open socket never does
    let timer: ReturnType<typeof setTimeout> | undefined
    const givenUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutS * 1000 + 100)))
    await Promise.race([sql.end({ timeout: timeoutS }).catch(() => {}), givenUp])
    clearTimeout(timer)
  }
}
