// A Store over one executor: a change-sink view of a PostgresStore, or one of its transactions.
// ping, migrate and close belong to the PostgresStore that made the view.
import type { AuditRepo, MigrationReport, NoteRepo, SessionRepo, SettingsRepo, Store, UserRepo } from '../store.ts'
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

export class PgStoreView implements Store {
  readonly kind = 'postgresql' as const
  readonly users: UserRepo
  readonly sessions: SessionRepo
  readonly notes: NoteRepo
  readonly audit: AuditRepo
  readonly settings: SettingsRepo

  constructor(
    private readonly ex: PgExecutor,
    private readonly owner: Store,
  ) {
    ;({ users: this.users, sessions: this.sessions, notes: this.notes, audit: this.audit, settings: this.settings } =
      createRepos(ex))
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

  close(): Promise<void> {
    return this.owner.close()
  }
}
