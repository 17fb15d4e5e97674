// How repositories reach PostgreSQL: every query under our deadline with errors mapped to
// StoreError, inside a transaction when there is one, and every written row reported to the sink.
import type postgres from 'postgres'
import type { ChangeSink, RowChange } from '../store.ts'
import { Deadline, withDeadline, type Deadlined } from './deadline.ts'
import { toStoreError } from './errors.ts'
import type { PgPool, QuerySql, Sql } from './pool.ts'

type TxSql = postgres.TransactionSql<{}>

export class PgExecutor {
  constructor(
    private readonly pool: PgPool,
    readonly deadlineMs: number,
    private readonly sink: ChangeSink | null = null,
    /** set inside a transaction: the transaction's connection and the pool it came from */
    private readonly tx: { sql: TxSql; root: Sql } | null = null,
  ) {}

  withSink(sink: ChangeSink): PgExecutor {
    return new PgExecutor(this.pool, this.deadlineMs, sink, this.tx)
  }

  /** Runs one query. `build` gets the transaction's sql inside a transaction, else the pool. */
  async run<T>(build: (sql: QuerySql) => Deadlined<T>, deadlineMs = this.deadlineMs): Promise<T> {
    try {
      return await this.runRaw(build, deadlineMs)
    } catch (e) {
      throw toStoreError(e)
    }
  }

  /** Like `run`, but the driver's errors come out as they are, for callers that branch on SQLSTATE. */
  async runRaw<T>(build: (sql: QuerySql) => Deadlined<T>, deadlineMs = this.deadlineMs): Promise<T> {
    const root = this.tx?.root ?? this.pool.get()
    return await withDeadline(build(this.tx?.sql ?? root), deadlineMs, () => this.pool.discard(root))
  }

  /**
   * Runs fn's queries inside a savepoint of the current transaction, driver errors as they are.
   * postgres.js rolls back to the savepoint when any of fn's queries failed, even a caught one.
   */
  async savepointRaw<T>(fn: (sql: TxSql) => Promise<T>): Promise<T> {
    if (!this.tx) throw new Error('savepointRaw needs a transaction')
    const { sql, root } = this.tx
    return await withDeadline(sql.savepoint(fn) as Promise<T>, this.deadlineMs, () => this.pool.discard(root))
  }

  emit(change: RowChange): void {
    this.sink?.(change)
  }

  /**
   * Runs fn in a transaction (a savepoint when already in one). The deadline covers BEGIN and
   * COMMIT, not fn's own time: fn's queries carry their own deadlines.
   */
  async transaction<T>(fn: (tx: PgExecutor) => Promise<T>): Promise<T> {
    const root = this.tx?.root ?? this.pool.get()
    const deadline = new Deadline(this.deadlineMs, () => this.pool.discard(root))
    let fnError: { error: unknown } | null = null
    const body = async (sql: TxSql): Promise<T> => {
      deadline.pause()
      try {
        return await fn(new PgExecutor(this.pool, this.deadlineMs, this.sink, { sql, root }))
      } catch (error) {
        fnError = { error }
        throw error
      } finally {
        deadline.resume()
      }
    }
    const work = this.tx ? this.tx.sql.savepoint(body) : root.begin(body)
    try {
      return (await deadline.race(work)) as T
    } catch (e) {
      // fn's own error (a StoreError, or the caller's) wins over what the rollback may have hit
      if (fnError !== null) throw (fnError as { error: unknown }).error
      throw toStoreError(e)
    }
  }
}
