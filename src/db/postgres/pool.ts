// The postgres.js pool behind one PostgresStore, created on first use. A pool whose call missed its
// deadline may hold a wedged socket, so it is discarded and the next call gets a fresh one.
import postgres from 'postgres'
import { StoreError } from '../store.ts'
import { connectionOptions, type ConnectionSettings } from './connection-options.ts'

export type Sql = postgres.Sql<{}>
/** What queries are built with: the pool's sql or a transaction's. */
export type QuerySql = postgres.ISql<{}>

export class PgPool {
  #sql: Sql | null = null
  #closed = false

  constructor(private readonly settings: ConnectionSettings) {}

  get(): Sql {
    if (this.#closed) throw new StoreError('unavailable', 'the PostgreSQL store is closed')
    if (this.#sql) return this.#sql
    const { url, options } = connectionOptions(this.settings)
    try {
      this.#sql = postgres(url, options)
    } catch {
      // postgres.js parses the URL here; its error would quote it, password included
      throw new StoreError('unavailable', 'the PostgreSQL URL cannot be parsed')
    }
    return this.#sql
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
