// A Store over one executor: a change-sink view of a PostgresStore, a caller's view, or one of its transactions.
// ping, migrate and close belong to the PostgresStore that made the view.
import type { FieldsOf, OwnedRepo, OwnedTable } from '../owned.ts'
import type { Caller, MigrationReport, RepoName, Store } from '../store.ts'
import { ViewRepos } from '../view-repos.ts'
import { createAuditRepo } from './audit-repo.ts'
import type { PgExecutor } from './executor.ts'
import { createOwnedRepo, type CompiledOwned } from './owned-repo.ts'
import { createSessionRepo } from './sessions-repo.ts'
import { createSettingsRepo } from './settings-repo.ts'
import { createUserRepo } from './users-repo.ts'

/** the compiled owned tables of the store that made the view (compileOwnedTables) */
export type OwnedOf = (table: OwnedTable) => CompiledOwned

const REPOS: { readonly [N in RepoName]: (ex: PgExecutor) => Store[N] } = {
  users: createUserRepo,
  sessions: createSessionRepo,
  audit: createAuditRepo,
  settings: createSettingsRepo,
}

/** A view is made for every write (its sink is that write's) and every caller's request. */
export class PgStoreView extends ViewRepos implements Store {
  readonly kind = 'postgresql' as const

  constructor(
    private readonly ex: PgExecutor,
    private readonly owner: Store,
    private readonly ownedOf: OwnedOf,
  ) {
    super()
  }

  protected makeRepo<N extends RepoName>(name: N): Store[N] {
    return REPOS[name](this.ex)
  }

  protected makeOwned<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>> {
    return createOwnedRepo<FieldsOf<T>>(this.ex, this.ownedOf(table))
  }

  ping(): Promise<void> {
    return this.owner.ping()
  }

  migrate(): Promise<MigrationReport> {
    return this.owner.migrate()
  }

  /** changes made inside go to the same sink, as they happen; the caller applies them after commit */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.ex.transaction((txEx) => fn(new PgStoreView(txEx, this.owner, this.ownedOf)))
  }

  as(caller: Caller): Store {
    return new PgStoreView(this.ex.as(caller), this.owner, this.ownedOf)
  }

  close(): Promise<void> {
    return this.owner.close()
  }
}
