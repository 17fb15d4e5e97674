// How repositories reach PostgreSQL: every query under our deadline with errors mapped to
// StoreError, inside a transaction when there is one, and every written row reported to the sink.
import type postgres from 'postgres'
import { nowIso, type Caller, type ChangeSink, type TableRow } from '../store.ts'
import { Deadline, withDeadline, type Deadlined } from './deadline.ts'
import { isConnectionLost, poolerRefusal, toStoreError } from './errors.ts'
import type { PgPool, QuerySql, Sql } from './pool.ts'

type TxSql = postgres.TransactionSql<{}>

export class PgExecutor {
  /** set while a statement for the caller is built: whether it carries the caller check */
  #checked = false

  constructor(
    private readonly pool: PgPool,
    readonly deadlineMs: number,
    private readonly sink: ChangeSink | null = null,
    /** set inside a transaction: the transaction's connection and the pool it came from */
    private readonly tx: { sql: TxSql; root: Sql } | null = null,
    /** set in a Store.as(caller) view: every statement must carry callerCheck */
    private readonly caller: Caller | null = null,
  ) {}

  withSink(sink: ChangeSink): PgExecutor {
    return new PgExecutor(this.pool, this.deadlineMs, sink, this.tx, this.caller)
  }

  as(caller: Caller): PgExecutor {
    return new PgExecutor(this.pool, this.deadlineMs, this.sink, this.tx, caller)
  }

  /**
   * `and app_caller(...)` (migration 0002) for the WHERE of a statement, in a Store.as(caller) view:
   * the statement then reads and writes nothing unless the caller may act, and fails with AU401 or
   * AU403 instead. Outside such a view, nothing.
   */
  callerCheck(sql: QuerySql): postgres.PendingQuery<postgres.Row[]> {
    if (!this.caller) return sql``
    this.#checked = true
    const { userId, sessionId, role } = this.caller
    return sql`and app_caller(${userId}::uuid, ${sessionId}::uuid, ${role ?? null}::text, ${nowIso()}::timestamptz)`
  }

  /** Runs one query. `build` gets the transaction's sql inside a transaction, else the pool. */
  async run<T>(build: (sql: QuerySql) => Deadlined<T>, deadlineMs = this.deadlineMs): Promise<T> {
    try {
      return await this.runRaw(build, deadlineMs)
    } catch (e) {
      if (e instanceof MissingCallerCheck) throw e
      throw toStoreError(this.pool.explain(e))
    }
  }

  /** Like `run`, but the driver's errors come out as they are, for callers that branch on SQLSTATE. */
  async runRaw<T>(build: (sql: QuerySql) => Deadlined<T>, deadlineMs = this.deadlineMs): Promise<T> {
    try {
      return await this.once(build, deadlineMs)
    } catch (e) {
      // A pooler refused what the pool did (DESIGN §12): the pool does without it and the query,
      // which the server never ran, goes again. In a transaction the whole transaction must go
      // again, which its caller does (FailoverStore retries on the primary).
      if (this.learnFrom(e) && !this.tx) return await this.once(build, deadlineMs)
      throw e
    }
  }

  /**
   * `select 1` for the monitor's quick probe. Its deadline is shorter than a connect may take (a
   * database waking from a nap), so a miss does not discard the pool, which requests and the
   * reconnect may be waiting on; the decisive probe that follows runs under the connect deadline.
   */
  async quickPing(deadlineMs: number): Promise<void> {
    let root: Sql | null = null
    try {
      root = await this.pool.acquire(deadlineMs)
      // Never cancelled on a miss (a bare promise has no canceller): on a busy connection the probe is
      // pipelined behind calls already sent, and postgres.js, asked to cancel a query that is sent but
      // not yet running, skips it while the server still runs it — every later answer on that
      // connection then goes to the query after its own (a create answered with another's row). A
      // call's missed deadline discards the pool, connection and all; a probe's leaves it in use.
      await withDeadline(root`select 1`.then(() => undefined), deadlineMs)
    } catch (e) {
      if (root) this.dropIfLost(e, root)
      this.learnFrom(e)
      throw toStoreError(this.pool.explain(e))
    }
  }

  private async once<T>(build: (sql: QuerySql) => Deadlined<T>, deadlineMs: number): Promise<T> {
    const root = this.tx?.root ?? this.pool.ready() ?? (await this.pool.acquire(deadlineMs))
    try {
      return await withDeadline(this.built(build, this.tx?.sql ?? root), deadlineMs, () => this.pool.discard(root))
    } catch (e) {
      this.dropIfLost(e, root)
      throw e
    }
  }

  /** build(sql); for a caller, only a statement that carries the caller check may go */
  private built<T>(build: (sql: QuerySql) => Deadlined<T>, sql: QuerySql): Deadlined<T> {
    if (!this.caller) return build(sql)
    this.#checked = false
    const query = build(sql)
    // postgres.js sends a query only once it is awaited: this one never is
    if (!this.#checked) throw new MissingCallerCheck()
    return query
  }

  /**
   * A connection the server ended (a nap, a restart, a pooler that dropped it) says little about the
   * pool's other connections except that they may be ended too, unnoticed: the pool is replaced, so
   * the reconnect that follows (FailoverStore) opens fresh connections instead of trying stale ones.
   */
  private dropIfLost(error: unknown, root: Sql): void {
    if (isConnectionLost(error)) this.pool.discard(root)
  }

  /** true when the error was a pooler's refusal that the pool has now adapted to */
  private learnFrom(error: unknown): boolean {
    const refusal = poolerRefusal(error)
    return refusal !== null && this.pool.adapt(refusal)
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

  emit(change: TableRow): void {
    this.sink?.(change)
  }

  /**
   * Runs fn in a transaction (a savepoint when already in one). The deadline covers BEGIN and
   * COMMIT, not fn's own time: fn's queries carry their own deadlines.
   */
  async transaction<T>(fn: (tx: PgExecutor) => Promise<T>): Promise<T> {
    let started = false
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transactionOnce(fn, () => (started = true))
      } catch (e) {
        // fn's own error (a StoreError, or the caller's) wins over what the rollback may have hit
        if (e instanceof FnFailed) throw e.error
        // Refused while connecting, before fn ran: nothing happened, so it goes again on the adapted pool.
        if (this.learnFrom(e) && !started && !this.tx && attempt === 1) continue
        throw toStoreError(this.pool.explain(e))
      }
    }
  }

  /** One transaction; rejects with fn's error wrapped in FnFailed, or with the driver's error as it is. */
  private async transactionOnce<T>(fn: (tx: PgExecutor) => Promise<T>, onStart: () => void): Promise<T> {
    const root = this.tx?.root ?? (await this.pool.acquire(this.deadlineMs))
    const deadline = new Deadline(this.deadlineMs, () => this.pool.discard(root))
    let fnError: { error: unknown } | null = null
    // Rows written in here reach the sink only once this transaction (or savepoint) has succeeded:
    // a savepoint rolled back, its error caught by the outer transaction, must not reach the mirror.
    const written: TableRow[] = []
    const sink = this.sink ? (change: TableRow) => void written.push(change) : null
    const body = async (sql: TxSql): Promise<T> => {
      // Without startup parameters (a transaction-mode pooler) the statement timeout is set per
      // transaction, sent ahead of fn's first query on the same connection: no round trip of its own.
      if (!this.tx && !this.pool.style.startupParams)
        sql.unsafe(`set local statement_timeout = ${Math.trunc(this.pool.statementTimeoutMs)}`).execute().catch(() => {})
      deadline.pause()
      onStart()
      try {
        return await fn(new PgExecutor(this.pool, this.deadlineMs, sink, { sql, root }, this.caller))
      } catch (error) {
        fnError = { error }
        throw error
      } finally {
        deadline.resume()
      }
    }
    const work = this.tx ? this.tx.sql.savepoint(body) : root.begin(body)
    try {
      const result = (await deadline.race(work)) as T
      for (const change of written) this.sink?.(change)
      return result
    } catch (e) {
      if (fnError !== null) throw new FnFailed((fnError as { error: unknown }).error)
      this.dropIfLost(e, root)
      throw e
    }
  }
}

/** fn's own error, told apart from the driver's on its way out of transactionOnce */
class FnFailed {
  constructor(readonly error: unknown) {}
}

/** A programming error, never a database's: a repository method used for a caller lacks the check. */
class MissingCallerCheck extends Error {
  constructor() {
    super('a statement made for a caller (Store.as) lacks callerCheck: it would skip the account check')
  }
}
