// A Store over one executor: a change-sink view of a PostgresStore, or one of its transactions.
// ping, migrate and close belong to the PostgresStore that made the view.
import { defineOwnedRepos, type FieldsOf, type OwnedRepo, type OwnedRepos, type OwnedTable } from '../owned.ts'
import type { AuditRepo, Caller, MigrationReport, SessionRepo, SettingsRepo, Store, UserRepo } from '../store.ts'
import { createAuditRepo } from './audit-repo.ts'
import type { PgExecutor } from './executor.ts'
import { createOwnedRepo, type CompiledOwned } from './owned-repo.ts'
import { createSessionRepo } from './sessions-repo.ts'
import { createSettingsRepo } from './settings-repo.ts'
import { createUserRepo } from './users-repo.ts'

/** the compiled owned tables of the store that made the view (compileOwnedTables) */
export type OwnedOf = (table: OwnedTable) => CompiledOwned

// Its owned repositories (one property per owned table of TABLES) are getters defined below the class.
export interface PgStoreView extends OwnedRepos {}

/**
 * A view is made for every write (its sink is that write's), and a write uses one or two of its
 * repositories: each is made on first use.
 */
export class PgStoreView implements Store {
  readonly kind = 'postgresql' as const
  #users: UserRepo | null = null
  #sessions: SessionRepo | null = null
  #audit: AuditRepo | null = null
  #settings: SettingsRepo | null = null
  #owned: Map<string, unknown> | null = null

  constructor(
    private readonly ex: PgExecutor,
    private readonly owner: Store,
    private readonly ownedOf: OwnedOf,
  ) {}

  get users(): UserRepo {
    return (this.#users ??= createUserRepo(this.ex))
  }

  get sessions(): SessionRepo {
    return (this.#sessions ??= createSessionRepo(this.ex))
  }

  get audit(): AuditRepo {
    return (this.#audit ??= createAuditRepo(this.ex))
  }

  get settings(): SettingsRepo {
    return (this.#settings ??= createSettingsRepo(this.ex))
  }

  resource<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>> {
    const made = (this.#owned ??= new Map())
    let repo = made.get(table.name) as OwnedRepo<FieldsOf<T>> | undefined
    if (!repo) made.set(table.name, (repo = createOwnedRepo<FieldsOf<T>>(this.ex, this.ownedOf(table))))
    return repo
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

defineOwnedRepos(PgStoreView.prototype)
