// What every handler finds on the Hono context. Dependencies are passed to createApp, never imported.
import type { Logger } from 'pino'
import type { Config } from './config-types.ts'
import type { Replicator } from './db/replica/replicator.ts'
import type { DatabaseRuntime } from './db/runtime.ts'
import type { Caller, Role, Store, User } from './db/store.ts'
import type { createAccessTokenVerifier } from './auth/tokens.ts'

export interface AppDeps {
  config: Config
  logger: Logger
  /** the routed store (FailoverStore): routes never know which database answers */
  store: Store
  db: DatabaseRuntime
  /** the continuous replica of the SQLite file (DESIGN §13); null or absent without REPLICA_URL */
  replica?: Pick<Replicator, 'status' | 'durable' | 'accepting' | 'syncNow' | 'snapshotNow'> | null
  /** the HS256 key for access tokens: JWT_SECRET, or the generated one kept in settings */
  jwtSecret: string
  startedAt: number
}

export type AuthUser = Pick<User, 'id' | 'email' | 'name' | 'role'>

export interface AppEnv {
  Variables: {
    deps: AppDeps
    requestId: string
    /** set by the auth guards: the bearer token's claims (and the role a route requires) */
    caller: Caller
    /** the role the bearer token was issued for (the store decides the role that counts) */
    claimedRole: Role
    /** set by the auth guard requireAuth */
    user: AuthUser
    /** the session id claim of the access token (sid), set by the auth guard */
    sessionId: string
    /** verifies access tokens with deps.jwtSecret, remembering verified ones (createAccessTokenVerifier) */
    verifyAccessToken: ReturnType<typeof createAccessTokenVerifier>
  }
}
