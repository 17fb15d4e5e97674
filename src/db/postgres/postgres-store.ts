// The PostgreSQL Store (postgres.js). Lazy: the pool connects on the first query. Every call runs
// under our own deadline; a call that misses it discards the pool, so a hung socket cannot wedge
// the store (porsager/postgres#1089, #1193).
import type postgres from 'postgres'
import type { PoolMode, SslMode } from '../../config-types.ts'
import type { MigrationFile } from '../migration-files.ts'
import type { SyncConflict } from '../runtime.ts'
import { compileOwnedTables, defineOwnedRepos, type FieldsOf, type OwnedRepo, type OwnedRepos, type OwnedTable } from '../owned.ts'
import type {
  Caller, ApplyOutcome, AuditRepo, ChangeSink, ReplayOutcome, MigrationReport, OutboxEntry,
  ReplicableStore, RowChange, SessionRepo, SettingsRepo, Store, SyncTable, TableRow, UserRepo,
} from '../store.ts'
import { syncTables, type SyncTables } from '../sync-tables.ts'
import { TABLES, type TableDefinition } from '../tables.ts'
import { upsertOf } from './apply-change.ts'
import { pingFailure, toStoreError } from './errors.ts'
import { PgExecutor } from './executor.ts'
import { replayEntriesIn, conflictReason, type ReplayTables } from './replay-entries.ts'
import { migratePostgres, pendingPostgresMigrations, POSTGRES_MIGRATIONS_DIR } from './migrate.ts'
import { compileOwned } from './owned-repo.ts'
import { PgPool } from './pool.ts'
import { toConflict, type ConflictRow } from './rows.ts'
import { readMigrations } from '../migration-files.ts'
import { PgStoreView, type OwnedOf } from './store-view.ts'

export interface PostgresStoreOptions {
  url: string
  poolSize: number
  connectTimeoutS: number
  statementTimeoutMs: number
  /** an explicit sslmode in the URL wins */
  sslmode: SslMode
  /** DATABASE_POOL_MODE; default auto */
  poolMode?: PoolMode
  /** seconds an unused connection stays open; default 30 */
  idleTimeoutS?: number
  /** our client deadline per call; default statementTimeoutMs + 1000 */
  deadlineMs?: number
  /** the tables it serves and replicates, parents first; default TABLES (a fork adds its own) */
  tables?: readonly TableDefinition[]
  /** the folder of the migration files; default the app's own */
  migrationsDir?: string
}

/** Seconds close() gives open queries before it cuts the connections. */
const CLOSE_TIMEOUT_S = 2

// Its owned repositories (one property per owned table of TABLES) are getters defined below the class.
export interface PostgresStore extends OwnedRepos {}

export class PostgresStore implements ReplicableStore {
  readonly kind = 'postgresql' as const
  readonly users: UserRepo
  readonly sessions: SessionRepo
  readonly audit: AuditRepo
  readonly settings: SettingsRepo
  /** the tables it replicates: exports, the mirror's upserts and the replay go by these */
  readonly syncTables: SyncTables
  private readonly replay: ReplayTables
  private readonly pool: PgPool
  private readonly ex: PgExecutor
  private readonly ownedOf: OwnedOf
  /** the store's own repositories: a view without sink or caller */
  private readonly root: PgStoreView

  constructor(private readonly opts: PostgresStoreOptions) {
    this.pool = new PgPool(opts)
    this.ex = new PgExecutor(this.pool, opts.deadlineMs ?? opts.statementTimeoutMs + 1000)
    const tables = opts.tables ?? TABLES
    this.syncTables = syncTables(tables)
    this.replay = { upsert: upsertOf(this.syncTables), tables: this.syncTables }
    this.ownedOf = compileOwnedTables(tables, compileOwned)
    this.root = new PgStoreView(this.ex, this, this.ownedOf)
    ;({ users: this.users, sessions: this.sessions, audit: this.audit, settings: this.settings } = this.root)
  }

  resource<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>> {
    return this.root.resource(table)
  }

  /** What was learnt about a pooler in front of the server, in words; the style the pool uses. */
  poolerNotes(): readonly string[] {
    return this.pool.learnt
  }

  /** `select 1` whose missed deadline leaves the pool as it is (the monitor's first probe) */
  async quickPing(deadlineMs: number): Promise<void> {
    try {
      await this.ex.quickPing(deadlineMs)
    } catch (e) {
      throw pingFailure(e)
    }
  }

  /** `select 1` under a deadline: default, the connect timeout. */
  async ping(deadlineMs = this.opts.connectTimeoutS * 1000): Promise<void> {
    try {
      await this.ex.run((sql) => sql`select 1`, deadlineMs)
    } catch (e) {
      throw pingFailure(e)
    }
  }

  migrate(): Promise<MigrationReport> {
    return migratePostgres(this.ex, readMigrations(this.opts.migrationsDir ?? POSTGRES_MIGRATIONS_DIR))
  }

  pendingMigrations(): Promise<MigrationFile[]> {
    return pendingPostgresMigrations(this.ex, readMigrations(this.opts.migrationsDir ?? POSTGRES_MIGRATIONS_DIR))
  }

  /** this store has no sink: withChangeSink(sink).transaction(fn) reports the writes of fn */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.ex.transaction((txEx) => fn(new PgStoreView(txEx, this, this.ownedOf)))
  }

  withChangeSink(sink: ChangeSink): Store {
    return new PgStoreView(this.ex.withSink(sink), this, this.ownedOf)
  }

  as(caller: Caller): Store {
    return new PgStoreView(this.ex.as(caller), this, this.ownedOf)
  }

  async applyChange(change: TableRow): Promise<ApplyOutcome> {
    try {
      const rows = await this.ex.runRaw((sql) => this.replay.upsert(sql, change))
      return rows.length > 0 ? 'applied' : 'stale'
    } catch (e) {
      if (conflictReason(e) !== null) return 'conflict'
      throw toStoreError(e)
    }
  }

  async replayEntries(entries: OutboxEntry[]): Promise<ReplayOutcome[]> {
    if (entries.length === 0) return []
    return this.ex.transaction((tx) => replayEntriesIn(tx, entries, this.replay))
  }

  /** throws StoreError('invalid') for a table the store was not opened with */
  exportRows(table: SyncTable, afterKey: string | null, limit: number): Promise<RowChange[]>
  exportRows(table: string, afterKey: string | null, limit: number): Promise<TableRow[]>
  async exportRows(table: string, afterKey: string | null, limit: number): Promise<TableRow[]> {
    // derived columns (an owned table's search_text) are not read: the row they are made from remakes them
    const { codec } = this.syncTables.of(table)
    const { key, readColumns } = codec
    const rows = await this.ex.run((sql) => sql<postgres.Row[]>`
      select ${sql(readColumns)} from ${sql(table)}
      ${afterKey === null ? sql`` : sql`where ${sql(key)} > ${afterKey}`}
      order by ${sql(key)}
      limit ${limit}`)
    return rows.map((row) => ({ table, row: codec.fromPostgres(row) }))
  }

  async listConflicts(): Promise<SyncConflict[]> {
    const rows = await this.ex.run((sql) => sql<ConflictRow[]>`select * from sync_conflicts order by at, id`)
    return rows.map(toConflict)
  }

  async close(): Promise<void> {
    await this.pool.end(CLOSE_TIMEOUT_S)
  }
}

defineOwnedRepos(PostgresStore.prototype)
