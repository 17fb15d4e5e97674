// A Store over one executor: a change-sink view of a PostgresStore, or one of its transactions.
// ping, migrate and close belong to the PostgresStore that made the view.
import type { AuditRepo, Caller, MigrationReport, NoteRepo, SessionRepo, SettingsRepo, Store, UserRepo } from '../store.ts'
import { createAuditRepo } from './audit-repo.ts'
import type { PgExecutor } from './executor.ts'
import { createNoteRepo } from './notes-repo.ts'
import { createSessionRepo } from './sessions-repo.ts'
import { createSettingsRepo } from './settings-repo.ts'
import { createUserRepo } from './users-repo.ts'

export interface Repos {
  users: UserRepo
  sessions: SessionRepo
  notes: NoteRepo
  audit: AuditRepo
  settings: SettingsRepo
}

export const createRepos = (ex: PgExecutor): Repos => ({
  users: createUserRepo(ex),
  sessions: createSessionRepo(ex),
  notes: createNoteRepo(ex),
  audit: createAuditRepo(ex),
  settings: createSettingsRepo(ex),
})

/**
 * A view is made for every write (its sink is that write's), and a write uses one or two of the five
 * repositories: each is made on first use.
 */
export class PgStoreView implements Store {
  readonly kind = 'postgresql' as const
  #users: UserRepo | null = null
  #sessions: SessionRepo | null = null
  #notes: NoteRepo | null = null
  #audit: AuditRepo | null = null
  #settings: SettingsRepo | null = null

  constructor(
    private readonly ex: PgExecutor,
    private readonly owner: Store,
  ) {}

  get users(): UserRepo {
    return (this.#users ??= createUserRepo(this.ex))
  }

  get sessions(): SessionRepo {
    return (this.#sessions ??= createSessionRepo(this.ex))
  }

  get notes(): NoteRepo {
    return (this.#notes ??= createNoteRepo(this.ex))
  }

  get audit(): AuditRepo {
    return (this.#audit ??= createAuditRepo(this.ex))
  }

  get settings(): SettingsRepo {
    return (this.#settings ??= createSettingsRepo(this.ex))
  }

  ping(): Promise<void> {
    return this.owner.ping()
  }

  migrate(): Promise<MigrationReport> {
    return this.owner.migrate()
  }

  /** changes made inside go to the same sink, as they happen; the caller applies them after commit */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.ex.transaction((txEx) => fn(new PgStoreView(txEx, this.owner)))
  }

  as(caller: Caller): Store {
    return new PgStoreView(this.ex.as(caller), this.owner)
  }

  close(): Promise<void> {
    return this.owner.close()
  }
}
