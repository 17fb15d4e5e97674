// The one SQLite connection behind a SqliteStore and every view of it (change-sink views, transaction
// views): statement cache, locking, and the rule that a write, its sink calls and its outbox entries
// share one SQLite transaction.
import type { Database, Statement } from 'bun:sqlite'
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Params } from '../codec.ts'
import { newId, nowIso, StoreError, type Caller, type ChangeSink, type TableRow } from '../store.ts'
import type { SyncTables } from '../sync-tables.ts'
import { AsyncLock } from './async-lock.ts'
import { checkCaller } from './caller.ts'
import { mapErrors, toStoreError, type ErrorHints } from './errors.ts'

export type Stmt<R> = Statement<R, [Params] | []>
export type Emit = (change: TableRow) => void

/**
 * Where an operation runs. The store's scope waits for the store's lock; a transaction's scope has a
 * lock of its own (free unless a nested transaction holds it), so `tx` never waits for itself.
 */
export interface Scope {
  readonly lock: AsyncLock
  readonly sink: ChangeSink | null
  /** inside transaction(): changes held back until the transaction is about to commit */
  readonly pending: TableRow[] | null
  /** 0 for the store itself, n inside n nested transaction() calls */
  readonly depth: number
  ended: boolean
  /** a Store.as(caller) view: every operation first checks the caller, in the same synchronous step */
  readonly caller: Caller | null
}

export const rootScope = (lock: AsyncLock, sink: ChangeSink | null): Scope => ({ lock, sink, pending: null, depth: 0, ended: false, caller: null })

/** `scope` acting for `caller`: the same scope in all else (its `ended` is read through, not copied) */
export const callerScope = (scope: Scope, caller: Caller): Scope => Object.assign(Object.create(scope) as Scope, { caller })

/** the scopes whose lock the transaction(s) around the current async code hold */
interface HeldLock {
  scope: Scope
  open: boolean
  outer: HeldLock | null
}

export interface WriteOptions {
  /** false: never recorded in the outbox, even while recording is on (rows that came from PostgreSQL) */
  outbox?: boolean
}

/** the writers of one group commit: settled when its COMMIT is done or has failed */
interface Group {
  committed: Promise<void>
  resolve(): void
  reject(e: unknown): void
}

export class SqliteConnection {
  /** when true, every row a write produces is also appended to the outbox, in the same transaction */
  recordingOutbox = false
  private closed = false
  private readonly statements = new Map<string, Stmt<unknown>>()
  private readonly inTx: (fn: () => unknown) => unknown
  private readonly inImmediateTx: (fn: () => unknown) => unknown
  private inAsyncTransaction = false
  /**
   * seq of the first outbox entry the open transaction() appended: entries from there on are not
   * committed, so outbox readers outside the transaction must not see them
   */
  uncommittedOutboxFrom: number | null = null
  /** work that cannot run inside someone else's open transaction, run once it ends */
  private readonly afterTransaction: Array<() => void> = []
  private readonly heldLocks = new AsyncLocalStorage<HeldLock>()
  /** the open group commit, if any (see writeInGroup) */
  private group: Group | null = null
  /** true while a write of the group runs: its savepoint is open, so the group cannot commit */
  private groupWriteRunning = false

  constructor(
    readonly db: Database,
    /** the store's tables: an outbox entry records the key of its row */
    private readonly tables: SyncTables,
  ) {
    const tx = db.transaction((fn: () => unknown) => fn())
    this.inTx = tx
    this.inImmediateTx = tx.immediate
  }

  /**
   * A prepared statement, prepared once per connection. Not db.query: its cache keeps only
   * Database.MAX_QUERY_CACHE_SIZE (20) SQL strings and this store uses more.
   */
  stmt<R>(sql: string): Stmt<R> {
    let s = this.statements.get(sql)
    if (!s) {
      s = this.db.prepare<unknown, [Params] | []>(sql)
      this.statements.set(sql, s)
    }
    return s as Stmt<R>
  }

  get isClosed(): boolean {
    return this.closed
  }

  /**
   * For synchronous bookkeeping that must not join someone else's open transaction (it would be
   * undone by their rollback): runs now, or right after that transaction ends. A deferred failure
   * (disk full, I/O error) has no caller left to report to and is dropped.
   */
  whenIdle(fn: () => void): void {
    this.assertOpen()
    const task = () => void this.inImmediateTx(fn)
    if (this.db.inTransaction) this.afterTransaction.push(task)
    else mapErrors(task)
  }

  /** for the synchronous methods that cannot wait: fails instead of joining an open transaction */
  assertIdle(what: string): void {
    this.assertOpen()
    this.settle()
    if (this.db.inTransaction)
      throw new StoreError('unavailable', `SQLite store is inside a transaction; ${what} must wait until it ends`)
  }

  assertOpen(): void {
    if (this.closed) throw new StoreError('unavailable', 'SQLite store is closed')
  }

  /** fn runs in `scope` once no other operation or transaction of that scope is running */
  async locked<T>(scope: Scope, fn: () => T | Promise<T>): Promise<T> {
    const check = () => {
      this.assertOpen()
      if (scope.ended) throw new StoreError('invalid', 'the transaction this store belongs to has already ended')
    }
    check()
    // Inside transaction(fn), the store outside `tx` waits for fn, so fn waiting for it would hang
    // forever (and every caller behind it): say so instead.
    for (let held: HeldLock | null | undefined = this.heldLocks.getStore(); held; held = held.outer)
      if (held.open && held.scope === scope)
        throw new StoreError('invalid', 'inside transaction(fn) use the store fn receives, not the store outside it')
    return scope.lock.run(() => {
      check()
      return fn()
    })
  }

  read<T>(scope: Scope, fn: () => T): Promise<T> {
    return this.locked(scope, () => mapErrors(this.checked(scope, fn)))
  }

  /** fn, preceded by the caller check when the scope acts for a caller */
  private checked<A extends unknown[], T>(scope: Scope, fn: (...args: A) => T): (...args: A) => T {
    const caller = scope.caller
    if (!caller) return fn
    return (...args) => {
      checkCaller(this, caller)
      return fn(...args)
    }
  }

  /**
   * One savepoint holding the write, the outbox entry of every row it emits, and the sink calls, so
   * a throwing sink undoes the write. Inside transaction() the sink calls wait for its commit, so
   * rolled-back rows never reach a sink. Outside one, the write joins the group commit and resolves
   * once that COMMIT is done: acknowledged means committed, as before.
   */
  async write<T>(scope: Scope, write: (emit: Emit) => T, hints?: ErrorHints, opts: WriteOptions = {}): Promise<T> {
    const toOutbox = opts.outbox ?? true
    const body = this.checked(scope, write)
    if (scope.depth > 0) return this.locked(scope, () => mapErrors(() => this.inTx(() => this.runWrite(scope, body, toOutbox)) as T, hints))
    // The lock is held only while the write runs, not until its COMMIT, so the next write can join.
    const { result, committed } = await this.locked(scope, () => mapErrors(() => this.writeInGroup(scope, body, toOutbox), hints))
    await committed
    return result
  }

  private runWrite<T>(scope: Scope, body: (emit: Emit) => T, toOutbox: boolean): T {
    const changes: TableRow[] = []
    const result = body((change) => {
      changes.push(change)
      if (toOutbox && this.recordingOutbox) this.appendOutbox(change)
    })
    if (scope.pending) scope.pending.push(...changes)
    else if (scope.sink) for (const c of changes) scope.sink(c)
    return result
  }

  /**
   * Group commit. A COMMIT is the expensive part of a small write (it appends the changed pages to
   * the WAL, and fsyncs under synchronous=FULL), so the writes of one event-loop turn share one
   * transaction, each in its own savepoint (a failing write undoes only itself), and one COMMIT on
   * the next turn. Reads made meanwhile on this connection see the group's writes; only a failed
   * COMMIT (disk full, I/O error) could then take back what they saw, and every writer of the group
   * gets that error.
   */
  private writeInGroup<T>(scope: Scope, body: (emit: Emit) => T, toOutbox: boolean): { result: T; committed: Promise<void> } {
    const group = this.group ?? this.openGroup()
    this.groupWriteRunning = true
    try {
      return { result: this.inTx(() => this.runWrite(scope, body, toOutbox)) as T, committed: group.committed }
    } catch (e) {
      // Some errors make SQLite roll back the whole transaction: the group's earlier writes are gone too.
      if (!this.db.inTransaction && this.group === group) this.endGroup(group, e)
      throw e
    } finally {
      this.groupWriteRunning = false
    }
  }

  private openGroup(): Group {
    this.db.run('BEGIN IMMEDIATE')
    let settled!: Pick<Group, 'resolve' | 'reject'>
    const committed = new Promise<void>((resolve, reject) => (settled = { resolve, reject }))
    // awaited by every writer of the group; this only keeps a group nobody awaits from being "unhandled"
    committed.catch(() => {})
    this.group = { committed, ...settled }
    setImmediate(() => this.settle())
    return this.group
  }

  /**
   * Commits the open group now, if there is one. Anything that needs the connection idle calls this
   * first. Not from inside a write (a sink reading the outbox): that write is not done yet.
   */
  settle(): void {
    const group = this.group
    if (!group || this.groupWriteRunning) return
    try {
      mapErrors(() => this.db.run('COMMIT'))
      this.endGroup(group, null)
    } catch (e) {
      this.rollback(true, '')
      this.endGroup(group, e)
    }
  }

  private endGroup(group: Group, error: unknown): void {
    this.group = null
    if (error === null) group.resolve()
    else group.reject(toStoreError(error))
    this.transactionEnded()
  }

  /** a synchronous write outside any store scope (snapshot, bookkeeping): no sink, no outbox */
  writeSync<T>(what: string, fn: () => T): T {
    this.assertIdle(what)
    return mapErrors(() => this.inImmediateTx(fn) as T)
  }

  private appendOutbox(change: TableRow): void {
    const { lastInsertRowid } = this.stmt('INSERT INTO outbox (op_id, tbl, row_id, row_json, at) VALUES ($op_id, $tbl, $row_id, $row_json, $at)').run({
      op_id: newId(),
      tbl: change.table,
      row_id: this.tables.keyOf(change),
      row_json: JSON.stringify(change.row),
      at: nowIso(),
    })
    if (this.inAsyncTransaction && this.uncommittedOutboxFrom === null) this.uncommittedOutboxFrom = Number(lastInsertRowid)
  }

  /**
   * BEGIN IMMEDIATE (a SAVEPOINT when nested) around an async fn. The scope's lock is held
   * throughout, so no other caller's statement lands inside; fn's own store runs in the child scope.
   */
  transaction<T>(scope: Scope, fn: (child: Scope) => Promise<T>): Promise<T> {
    return this.locked(scope, async () => {
      const pending: TableRow[] = []
      const child: Scope = { lock: new AsyncLock(), sink: scope.sink, pending, depth: scope.depth + 1, ended: false, caller: scope.caller }
      const outermost = scope.depth === 0
      const savepoint = `tx_${child.depth}`
      if (outermost) this.settle()
      mapErrors(() => this.db.run(outermost ? 'BEGIN IMMEDIATE' : `SAVEPOINT ${savepoint}`))
      if (outermost) this.inAsyncTransaction = true
      const held: HeldLock = { scope, open: true, outer: this.heldLocks.getStore() ?? null }
      try {
        const result = await this.heldLocks.run(held, () => fn(child))
        // Operations fn started without awaiting them still belong to this transaction.
        await child.lock.run(() => undefined)
        child.ended = true
        if (scope.pending) scope.pending.push(...pending)
        else if (scope.sink) for (const c of pending) scope.sink(c)
        mapErrors(() => this.db.run(outermost ? 'COMMIT' : `RELEASE ${savepoint}`))
        return result
      } catch (e) {
        child.ended = true
        this.rollback(outermost, savepoint)
        throw e
      } finally {
        held.open = false
        if (outermost) this.transactionEnded()
      }
    })
  }

  private rollback(outermost: boolean, savepoint: string): void {
    // SQLite may have rolled back already (e.g. SQLITE_FULL); then there is nothing left to undo.
    if (!this.db.inTransaction) return
    try {
      this.db.run(outermost ? 'ROLLBACK' : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`)
    } catch {
      // The error that made us roll back is the one worth reporting.
    }
  }

  private transactionEnded(): void {
    this.inAsyncTransaction = false
    this.uncommittedOutboxFrom = null
    for (const fn of this.afterTransaction.splice(0)) {
      try {
        if (!this.closed) fn()
      } catch {
        // See whenIdle: nobody is waiting for this result any more.
      }
    }
  }

  /** PRAGMA synchronous cannot change inside a transaction, so an open one defers it */
  setSynchronous(mode: 'NORMAL' | 'FULL'): void {
    if (mode !== 'NORMAL' && mode !== 'FULL') throw new StoreError('invalid', 'synchronous must be NORMAL or FULL')
    this.assertOpen()
    // The group's writes commit under the old setting; those that come after get the new one.
    this.settle()
    if (this.db.inTransaction) this.afterTransaction.push(() => this.db.run(`PRAGMA synchronous = ${mode}`))
    else this.db.run(`PRAGMA synchronous = ${mode}`)
  }

  /** PRAGMA temp_store drops every TEMP table and cannot change inside a transaction: only when idle */
  setTempStore(mode: 'MEMORY' | 'FILE'): void {
    this.assertIdle('changing where temporary data is kept')
    this.db.run(`PRAGMA temp_store = ${mode === 'MEMORY' ? 'MEMORY' : 'FILE'}`)
  }

  close(): void {
    if (this.closed) return
    this.settle()
    this.closed = true
    for (const s of this.statements.values()) s.finalize()
    this.statements.clear()
    this.db.close()
  }
}
