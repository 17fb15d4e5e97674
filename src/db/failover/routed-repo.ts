// A repository whose every call is handed to a route, which picks the database: the failover layer's
// one seam between the routes' typed calls and the two stores.
import { OWNED_REPO_KINDS, type FieldsOf, type OwnedRepo, type OwnedTable } from '../owned.ts'
import { REPO_KINDS, type MethodKind, type RepoKinds, type RepoName, type Store } from '../store.ts'

type Method = (...args: never[]) => Promise<unknown>

/** Runs `call` on the repository of the database it picks; `kind` says how (see MethodKind). */
export type Route<R> = <T>(kind: MethodKind, call: (repo: R) => Promise<T>) => Promise<T>

/** Runs `run` on the store it picks; `kind` is that of the repository method `run` calls. */
export type StoreRoute = <T>(kind: MethodKind, run: (store: Store) => Promise<T>) => Promise<T>

/**
 * R with each method sent through `route` with its kind from `kinds`. R is inferred from where the
 * repository goes (a Store's), not from `kinds`: kinds declared for another repository do not compile.
 */
export function routedRepo<R extends { [M in keyof R]: Method }>(kindsOfR: RepoKinds<NoInfer<R>>, route: Route<R>): R {
  const kinds: RepoKinds<R> = kindsOfR
  const repo: Partial<R> = {}
  for (const method in kinds) {
    const kind = kinds[method]
    const routed = (...args: Parameters<R[typeof method]>) => route(kind, (target) => target[method](...args))
    // TypeScript cannot see that a function forwarding R[M]'s parameters to R[M] is an R[M].
    repo[method] = routed as R[typeof method]
  }
  // `kinds` names every method of R (RepoKinds has no optional keys), so every one is set.
  return repo as R
}

/** Each repository of a Store, its calls sent through `route` with their kinds (REPO_KINDS). */
export const ROUTED_REPOS: { readonly [N in RepoName]: (route: StoreRoute) => Store[N] } = {
  users: (route) => routedRepo(REPO_KINDS.users, (kind, call) => route(kind, (s) => call(s.users))),
  sessions: (route) => routedRepo(REPO_KINDS.sessions, (kind, call) => route(kind, (s) => call(s.sessions))),
  audit: (route) => routedRepo(REPO_KINDS.audit, (kind, call) => route(kind, (s) => call(s.audit))),
  settings: (route) => routedRepo(REPO_KINDS.settings, (kind, call) => route(kind, (s) => call(s.settings))),
}

/** The repository of the owned table `table`, its calls sent through `route` (OWNED_REPO_KINDS). */
export const routedOwnedRepo = <T extends OwnedTable>(table: T, route: StoreRoute): OwnedRepo<FieldsOf<T>> =>
  routedRepo<OwnedRepo<FieldsOf<T>>>(OWNED_REPO_KINDS, (kind, call) => route(kind, (s) => call(s.resource(table))))
