// The repositories of a store view: PostgreSQL's and SQLite's views of one scope (a change sink, a
// caller, a transaction) and FailoverStore's view for a caller. A view is made for every request or
// write, which uses one or two of its repositories: each is made on first use, by the view's makers.
import { defineOwnedRepos, type FieldsOf, type OwnedRepo, type OwnedRepos, type OwnedTable } from './owned.ts'
import type { AuditRepo, RepoName, SessionRepo, SettingsRepo, Store, UserRepo } from './store.ts'

// Its owned repositories (one property per owned table of TABLES) are getters defined below the class.
export interface ViewRepos extends OwnedRepos {}

export abstract class ViewRepos {
  /** made so far, by repository name or owned table name (the registry keeps table names unique) */
  #made: Map<string, unknown> | null = null

  protected abstract makeRepo<N extends RepoName>(name: N): Store[N]
  protected abstract makeOwned<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>>

  get users(): UserRepo {
    return this.repo('users')
  }

  get sessions(): SessionRepo {
    return this.repo('sessions')
  }

  get audit(): AuditRepo {
    return this.repo('audit')
  }

  get settings(): SettingsRepo {
    return this.repo('settings')
  }

  resource<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>> {
    const made = (this.#made ??= new Map())
    let repo = made.get(table.name) as OwnedRepo<FieldsOf<T>> | undefined
    if (repo === undefined) made.set(table.name, (repo = this.makeOwned(table)))
    return repo
  }

  private repo<N extends RepoName>(name: N): Store[N] {
    const made = (this.#made ??= new Map())
    let repo = made.get(name) as Store[N] | undefined
    if (repo === undefined) made.set(name, (repo = this.makeRepo(name)))
    return repo
  }
}

defineOwnedRepos(ViewRepos.prototype)
