// The SQLite Store: the fallback database, and the mirror of PostgreSQL while PostgreSQL is up.
//
// One connection serves everything. Single operations are synchronous SQLite calls, so they never
// interleave; an async transaction() holds the store's lock until it commits, so every other caller
// waits instead of running inside it. fn's `tx` runs without waiting; transaction() on `tx` nests as a
// SAVEPOINT, so a nested throw rolls back only the nested writes (and the outer fn may catch it).
// fn must use `tx`: the outer store waits for fn, so a call on it from inside fn fails 'invalid' at
// once rather than hanging.
import { Database } from 'bun:sqlite'
import { chmodSync, existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { MigrationFile } from '../migration-files.ts'
import { compileOwnedTables, defineOwnedRepos, type FieldsOf, type OwnedRepo, type OwnedRepos, type OwnedTable } from '../owned.ts'
import type { SyncConflict } from '../runtime.ts'
import {
  StoreError,
  type ApplyOutcome,
  type Caller,
  type AuditRepo,
  type ChangeSink,
  type MigrationReport,
  type OutboxEntry,
  type RepoName,
  type ReplicableStore,
  type RowChange,
  type SessionRepo,
  type SettingsRepo,
  type Store,
  type SyncTable,
  type TableRow,
  type UserRepo,
} from '../store.ts'
import { AsyncLock } from './async-lock.ts'
import { sqliteAuditRepo } from './audit-repo.ts'
import { callerScope, rootScope, SqliteConnection, type Scope } from './connection.ts'
import { migrateSqlite, pendingSqliteMigrations, SQLITE_MIGRATIONS_DIR } from './migrate.ts'
import { SqliteOutbox } from './outbox.ts'
import { compileOwned, sqliteOwnedRepo, type CompiledOwned } from './owned-repo.ts'
import { SqliteReplication } from './replication.ts'
import { sqliteSessionRepo } from './session-repo.ts'
import { sqliteSettingsRepo } from './settings-repo.ts'
import { sqliteUserRepo } from './user-repo.ts'
import { syncTables, type SyncTables } from '../sync-tables.ts'
import { TABLES, type TableDefinition } from '../tables.ts'
import { ViewRepos } from '../view-repos.ts'

export interface SqliteStoreOptions {
  /** file path or ':memory:' */
  path: string
  busyTimeoutS: number
  /** the tables it serves and replicates, parents first; default TABLES (a fork adds its own) */
  tables?: readonly TableDefinition[]
  /** the folder of the migration files; default the app's own */
  migrationsDir?: string
}

/** what every view of one store shares: its connection, its owned tables compiled, its migrations */
interface Opened {
  conn: SqliteConnection
  ownedOf: (table: OwnedTable) => CompiledOwned
  migrationsDir: string
}

const isMemory = (path: string) => path === ':memory:' || path === ''

const REPOS: { readonly [N in RepoName]: (conn: SqliteConnection, scope: Scope) => Store[N] } = {
  users: sqliteUserRepo,
  sessions: sqliteSessionRepo,
  audit: sqliteAuditRepo,
  settings: sqliteSettingsRepo,
}

/**
 * The Store a scope sees: the store itself, a change-sink view of it, a caller's view (one per
 * request) or a transaction's `tx`.
 */
class SqliteStoreView extends ViewRepos implements Store {
  readonly kind = 'sqlite' as const

  constructor(
    private readonly opened: Opened,
    private readonly scope: Scope,
    readonly close: () => Promise<void>,
  ) {
    super()
  }

  protected makeRepo<N extends RepoName>(name: N): Store[N] {
    return REPOS[name](this.opened.conn, this.scope)
  }

  protected makeOwned<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>> {
    return sqliteOwnedRepo<FieldsOf<T>>(this.opened.conn, this.scope, this.opened.ownedOf(table))
  }

  ping(): Promise<void> {
    const { conn } = this.opened
    return conn.read(this.scope, () => void conn.stmt('SELECT 1').get())
  }

  migrate(): Promise<MigrationReport> {
    const { conn, migrationsDir } = this.opened
    return conn.read(this.scope, () => migrateSqlite(conn.db, migrationsDir))
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.opened.conn.transaction(this.scope, (child) => fn(new SqliteStoreView(this.opened, child, notInTransaction)))
  }

  as(caller: Caller): Store {
    return new SqliteStoreView(this.opened, callerScope(this.scope, caller), this.close)
  }
}

const notInTransaction = () => Promise.reject(new StoreError('invalid', 'close the store, not a transaction of it'))

function open(path: string, busyTimeoutS: number): Database {
  const memory = isMemory(path)
  let db: Database | null = null
  try {
    if (!memory) mkdirSync(dirname(path), { recursive: true })
    db = new Database(memory ? ':memory:' : path, { create: true, readwrite: true, strict: true })
    db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.round(busyTimeoutS * 1000))}`)
    if (!memory) {
      db.run('PRAGMA journal_mode = WAL')
      // Rewriting the header proves the file is writable now, not at the first user's write.
      const { user_version } = db.query<{ user_version: number }, []>('PRAGMA user_version').get()!
      db.run(`PRAGMA user_version = ${user_version}`)
    }
    db.run('PRAGMA foreign_keys = ON')
    db.run('PRAGMA synchronous = NORMAL')
    // Every write of a group commit runs in a savepoint, and a savepoint keeps what it may have to
    // undo in a sub-journal: a temporary file by default, opened, written and deleted for each group.
    // In memory, a mirrored note in a group of 16 costs 12 µs of CPU instead of 22 (strace: 4.8
    // pwrite and an open/close per row before). A snapshot copy switches to a file while it stages
    // a whole database (beginSnapshot).
    db.run('PRAGMA temp_store = MEMORY')
    return db
  } catch (e) {
    db?.close()
    const reason = (e as { code?: string }).code ?? (e as Error).message
    throw new StoreError('unavailable', `cannot open the SQLite database at ${path} for writing (${reason})`, { cause: e })
  }
}

// Its owned repositories (one property per owned table of TABLES) are getters defined below the class.
export interface SqliteStore extends OwnedRepos {}

export class SqliteStore implements ReplicableStore {
  readonly kind = 'sqlite'
  readonly path: string
  readonly users: UserRepo
  readonly sessions: SessionRepo
  readonly audit: AuditRepo
  readonly settings: SettingsRepo
  /** the tables it replicates: the mirror's apply, the outbox, exports and the snapshot go by these */
  readonly syncTables: SyncTables

  private readonly opened: Opened
  /** the store's own repositories: a view without sink or caller */
  private readonly root: SqliteStoreView
  private readonly replication: SqliteReplication
  private readonly conn: SqliteConnection
  private readonly lock = new AsyncLock()
  private readonly scope: Scope
  private readonly outboxTable: SqliteOutbox

  /** safe while a transaction() is open: it sees committed entries only, acks wait for its end */
  readonly outbox: { count(): number; peek(limit: number): OutboxEntry[]; ack(uptoSeq: number): void }

  constructor(opts: SqliteStoreOptions) {
    this.path = opts.path
    const tables = opts.tables ?? TABLES
    this.syncTables = syncTables(tables)
    this.conn = new SqliteConnection(open(opts.path, opts.busyTimeoutS), this.syncTables)
    this.replication = new SqliteReplication(this.conn, this.syncTables)
    this.opened = {
      conn: this.conn,
      ownedOf: compileOwnedTables(tables, compileOwned),
      migrationsDir: opts.migrationsDir ?? SQLITE_MIGRATIONS_DIR,
    }
    this.scope = rootScope(this.lock, null)
    this.root = new SqliteStoreView(this.opened, this.scope, () => this.close())
    ;({ users: this.users, sessions: this.sessions, audit: this.audit, settings: this.settings } = this.root)
    const outbox = new SqliteOutbox(this.conn)
    this.outboxTable = outbox
    this.outbox = { count: () => outbox.count(), peek: (limit) => outbox.peek(limit), ack: (uptoSeq) => outbox.ack(uptoSeq) }
  }

  resource<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>> {
    return this.root.resource(table)
  }

  ping(): Promise<void> {
    return this.root.ping()
  }

  migrate(): Promise<MigrationReport> {
    return this.root.migrate()
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.root.transaction(fn)
  }

  withChangeSink(sink: ChangeSink): Store {
    return new SqliteStoreView(this.opened, rootScope(this.lock, sink), () => this.close())
  }

  as(caller: Caller): Store {
    return new SqliteStoreView(this.opened, callerScope(this.scope, caller), () => this.close())
  }

  applyChange(change: TableRow): Promise<ApplyOutcome> {
    return this.conn.write(this.scope, (emit) => this.replication.applyChangeNow(change, emit), {
      foreignKey: 'the row refers to a parent row that does not exist',
    })
  }

  /**
   * Rows PostgreSQL has committed (the mirror), applied like applyChange in one write: one savepoint,
   * one place in the group commit. Never recorded in the outbox, whatever the mode: PostgreSQL has them already.
   */
  applyMirrored(changes: TableRow[]): Promise<ApplyOutcome[]> {
    return this.conn.write(
      this.scope,
      (emit) => changes.map((change) => this.replication.applyChangeNow(change, emit)),
      { foreignKey: 'the row refers to a parent row that does not exist' },
      { outbox: false },
    )
  }

  /** throws StoreError('invalid') for a table the store was not opened with */
  exportRows(table: SyncTable, afterKey: string | null, limit: number): Promise<RowChange[]>
  exportRows(table: string, afterKey: string | null, limit: number): Promise<TableRow[]>
  exportRows(table: string, afterKey: string | null, limit: number): Promise<TableRow[]> {
    return this.conn.read(this.scope, () => this.replication.exportRowsNow(table, afterKey, limit))
  }

  /** replaceAll in one call: see beginSnapshot */
  replaceAll(changes: TableRow[]): void {
    const snapshot = this.beginSnapshot()
    try {
      snapshot.stage(changes)
      snapshot.finish()
    } catch (e) {
      snapshot.abort()
      throw e
    }
  }

  /**
   * Replaces every row with a snapshot given in pages, in any order: stage() keeps each page out of
   * sight (and out of memory), finish() swaps them all in at once — all or nothing, the foreign keys
   * checked — and abort() forgets them. The store keeps serving its current rows meanwhile.
   * finish() refuses while the outbox holds entries: the snapshot would erase writes PostgreSQL has
   * not received. Replay (and ack) them first.
   */
  beginSnapshot(): { stage(changes: TableRow[]): void; finish(): void; abort(): void } {
    // the staged pages go to a temporary file: a big database must not have to fit in memory
    this.conn.setTempStore('FILE')
    const end = () => {
      try {
        this.conn.setTempStore('MEMORY')
      } catch {
        // closed or busy: the next snapshot or the next open sets it again
      }
    }
    try {
      this.conn.writeSync('starting a snapshot', () => this.replication.beginSnapshotNow())
    } catch (e) {
      end()
      throw e
    }
    return {
      stage: (changes) => this.conn.writeSync('staging a snapshot', () => this.replication.stageSnapshotNow(changes)),
      finish: () => {
        try {
          this.conn.writeSync('replacing all rows', () => {
            if (this.outboxTable.count() > 0)
              throw new StoreError('conflict', 'the outbox holds writes PostgreSQL has not received; replay them before replacing the data')
            this.replication.swapInSnapshotNow()
            this.replication.dropSnapshotNow()
          })
        } finally {
          // also when it failed: switching back drops the staged tables, as abort() would
          end()
        }
      },
      abort: () => {
        try {
          this.conn.writeSync('dropping a snapshot', () => this.replication.dropSnapshotNow())
        } catch {
          // closed or busy: TEMP tables go with the connection anyway
        }
        end()
      },
    }
  }

  /** when on, every row a write produces is also appended to the outbox, in the write's transaction */
  setOutboxRecording(on: boolean): void {
    this.conn.recordingOutbox = on
  }

  /** applied at once, or when the open transaction ends (SQLite cannot change it inside one) */
  setSynchronous(mode: 'NORMAL' | 'FULL'): void {
    this.conn.setSynchronous(mode)
  }

  /** current PRAGMA synchronous, by name */
  synchronous(): 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA' {
    this.conn.assertOpen()
    const { synchronous } = this.conn.db.query<{ synchronous: number }, []>('PRAGMA synchronous').get()!
    return (['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const)[synchronous]!
  }

  journalMode(): string {
    this.conn.assertOpen()
    return this.conn.db.query<{ journal_mode: string }, []>('PRAGMA journal_mode').get()!.journal_mode
  }

  /** idempotent on id; while a transaction() is open it is written when that ends */
  recordConflict(c: SyncConflict): void {
    this.outboxTable.recordConflict(c)
  }

  listConflicts(): SyncConflict[] {
    return this.outboxTable.listConflicts()
  }

  pendingMigrations(): MigrationFile[] {
    this.conn.assertOpen()
    return pendingSqliteMigrations(this.conn.db, this.opened.migrationsDir)
  }

  checkpoint(): void {
    this.conn.assertIdle('a checkpoint')
    this.conn.db.run('PRAGMA wal_checkpoint(TRUNCATE)')
  }

  /** a consistent copy while the store keeps serving; the file must not exist yet */
  backupTo(file: string): void {
    this.conn.assertIdle('a backup')
    if (existsSync(file)) throw new StoreError('conflict', 'the backup file already exists')
    mkdirSync(dirname(file), { recursive: true })
    try {
      this.conn.db.run('VACUUM INTO ?', [file])
    } catch (e) {
      throw new StoreError('unavailable', `backup failed (${(e as { code?: string }).code ?? 'error'})`, { cause: e })
    }
    // It holds password hashes and session token hashes: owner-only.
    chmodSync(file, 0o600)
  }

  /**
   * Runs fn once no transaction is open and keeps others out while it runs: the way to call
   * replaceAll, checkpoint or backupTo from code that may race with a transaction().
   */
  exclusive<T>(fn: () => T): Promise<T> {
    return this.conn.locked(this.scope, fn)
  }

  /** waits for the open transaction, if any, then closes; later calls fail 'unavailable' */
  async close(): Promise<void> {
    if (this.conn.isClosed) return
    await this.lock.run(() => this.conn.close())
  }
}

defineOwnedRepos(SqliteStore.prototype)
