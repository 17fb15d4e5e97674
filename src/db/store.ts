// The one repository interface the routes see. Two implementations (PostgresStore, SqliteStore)
// behave the same, proven by test/store.contract.ts; FailoverStore routes between them.
//
// Conventions shared by every implementation:
// - Ids are UUIDv7 made by the caller (`newId()`), never by the database, so a write retried on the
//   other database or replayed later is idempotent.
// - Timestamps are ISO-8601 UTC strings with milliseconds (`2026-01-02T03:04:05.678Z`), made by the
//   application (`nowIso()`), so both dialects hold the very same value.
// - Every mutable row carries createdAt, updatedAt and version (+1 per update).
// - Emails are stored trimmed and lower-cased (`normalizeEmail`); lookups normalize too.

import type { FieldsOf, Owned, OwnedRepo, OwnedRepos, OwnedTable } from './owned.ts'
import { TABLES } from './tables.ts'

export type StoreKind = 'postgresql' | 'sqlite'
export type Role = 'admin' | 'user'

export interface User {
  id: string
  email: string
  name: string | null
  role: Role
  passwordHash: string
  disabled: boolean
  createdAt: string
  updatedAt: string
  version: number
  deletedAt: string | null
}

export interface Session {
  id: string
  userId: string
  tokenHash: string
  expiresAt: string
  revokedAt: string | null
  /** id of the session that replaced this one on rotation */
  replacedBy: string | null
  createdAt: string
  updatedAt: string
  version: number
}

export interface AuditEvent {
  id: string
  at: string
  action: string
  actorId: string | null
  targetId: string | null
  ip: string | null
  details: Record<string, unknown> | null
}

export interface Setting {
  key: string
  value: string
  updatedAt: string
  version: number
}

export interface SessionUser {
  user: User
  /** the live session: `sessionId` itself, or the session a refresh rotated it into */
  sessionId: string
}

export interface NewUser {
  id: string
  email: string
  name?: string | null
  role?: Role
  passwordHash: string
  disabled?: boolean
}

export interface UserPatch {
  name?: string | null
  role?: Role
  disabled?: boolean
}

export interface NewSession {
  id: string
  userId: string
  tokenHash: string
  expiresAt: string
}

export interface NewAuditEvent {
  id: string
  action: string
  actorId?: string | null
  targetId?: string | null
  ip?: string | null
  details?: Record<string, unknown> | null
}

export interface PageQuery {
  /** 1..100 */
  limit: number
  /** opaque: the `nextCursor` of the previous page */
  cursor?: string | null
}

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

/**
 * What a repository method does to the database, which decides how the failover layer routes it:
 * read: answered by whichever database is active, retried on SQLite when PostgreSQL fails.
 * write: takes the write gate; on PostgreSQL its rows are mirrored, on SQLite added to the outbox.
 * delete: a write that (soft-)deletes its row; when a retry finds the row gone (not_found), the
 *         first attempt deleted it before its connection died, and the delete asked for has happened.
 */
export type MethodKind = 'read' | 'write' | 'delete'

/**
 * The kind of every method of repository R, declared beside R with `satisfies RepoKinds<R>`: a
 * method missing from the declaration, or one R does not have, does not compile.
 */
export type RepoKinds<R> = { readonly [M in keyof R]-?: MethodKind }

export interface UserRepo {
  /** throws StoreError('conflict') when the email is taken by a live user */
  create(input: NewUser): Promise<User>
  /** race-safe insert-or-ignore on the email; returns the existing live user when there is one */
  createIfAbsent(input: NewUser): Promise<{ user: User; created: boolean }>
  /** live users only (not soft-deleted); disabled users are returned */
  getById(id: string): Promise<User | null>
  getByEmail(email: string): Promise<User | null>
  /**
   * What a bearer token may act as, in one statement (no round trip beyond the account check): the
   * live, enabled user `id` when their session `sessionId` is live (not revoked, not expired), or was
   * rotated by a refresh into a session that is. `sessionId` of the answer is that live session.
   * Null when the account is gone or disabled or the session was ended (logout, password change,
   * admin reset, refresh-token reuse, SEED_RESET_PASSWORDS) or expired.
   */
  getForSession(id: string, sessionId: string): Promise<SessionUser | null>
  /** live users, oldest first (by id) */
  list(query: PageQuery): Promise<Page<User>>
  /** throws StoreError('not_found') */
  update(id: string, patch: UserPatch): Promise<User>
  /** throws StoreError('not_found') */
  setPassword(id: string, passwordHash: string): Promise<User>
  /** throws StoreError('not_found') */
  softDelete(id: string): Promise<void>
  /**
   * An admin's change of the live user `id`, in one statement (PostgreSQL) or one write (SQLite): the
   * patch and the password, the user's sessions ended when `change.endSessions` (but `keepSessionId`
   * and the session a refresh replaced it with), `audit.updated` appended, and `audit.disabled` too
   * when the change disables an enabled user; both get `email` and `sessions_revoked` in their
   * details. Throws StoreError('not_found').
   */
  changeAccount(id: string, change: AccountChange, audit: { updated: NewAuditEvent; disabled: NewAuditEvent }): Promise<AccountWrite>
  /**
   * Disables the live user `id` and ends all its sessions, with `audit` appended (its details get
   * `email` and `sessions_revoked`), in one statement or write. Throws StoreError('not_found').
   */
  disableAccount(id: string, audit: NewAuditEvent): Promise<AccountWrite>
}

export const USER_REPO_KINDS = {
  create: 'write',
  createIfAbsent: 'write',
  getById: 'read',
  getByEmail: 'read',
  getForSession: 'read',
  list: 'read',
  update: 'write',
  setPassword: 'write',
  softDelete: 'delete',
  changeAccount: 'write',
  disableAccount: 'write',
} as const satisfies RepoKinds<UserRepo>

/** The user as an account change left it, and the audit events it appended. */
export interface AccountWrite {
  user: User
  audit: AuditEvent[]
}

/** What PATCH /admin/users/:id changes (UserRepo.changeAccount). */
export interface AccountChange {
  patch: UserPatch
  /** the new password's hash, or null */
  passwordHash: string | null
  endSessions: boolean
  /** a session of the user that stays (the caller's own, when admins change their own password) */
  keepSessionId: string | null
}

export interface SessionRepo {
  /** `audit`: appended with the session, in the same statement (PostgreSQL) or write (SQLite) */
  create(input: NewSession, audit?: NewAuditEvent): Promise<Session>
  /** any session with this hash, revoked or expired included (reuse detection needs them) */
  getByTokenHash(tokenHash: string): Promise<Session | null>
  /** getByTokenHash with the session's user (null when deleted) in the same statement: what a refresh needs */
  getWithUser(tokenHash: string): Promise<{ session: Session; user: User | null } | null>
  /**
   * Atomically revokes `oldId` (marking it replaced by `next.id`) and creates `next`.
   * Returns null, creating nothing, when `oldId` was already revoked (a concurrent rotation won).
   */
  rotate(oldId: string, next: NewSession): Promise<Session | null>
  /** idempotent */
  revoke(id: string): Promise<void>
  /**
   * revokes every active session of the user except `exceptId`; returns how many. `audit`: appended
   * in the same statement (PostgreSQL) or write (SQLite), with that count as `details.sessions_revoked`
   */
  revokeAllForUser(userId: string, exceptId?: string, audit?: NewAuditEvent): Promise<number>
  /**
   * Logout: ends the session `sessionId` of user `userId` (or the session a refresh replaced it with,
   * the one that is live) and the session of `alsoTokenHash` when it is the same user's, with `audit`
   * appended (actor and target that user, details given `session_ids`), in one statement or write.
   * Returns the ids ended; throws StoreError('unauthorized') when that session is not live.
   */
  endSessions(userId: string, sessionId: string, alsoTokenHash: string | null, audit: NewAuditEvent): Promise<string[]>
}

export const SESSION_REPO_KINDS = {
  create: 'write',
  getByTokenHash: 'read',
  getWithUser: 'read',
  rotate: 'write',
  revoke: 'write',
  revokeAllForUser: 'write',
  endSessions: 'write',
} as const satisfies RepoKinds<SessionRepo>

export interface AuditRepo {
  /** idempotent on id */
  append(input: NewAuditEvent): Promise<AuditEvent>
  /** newest first (by id) */
  list(query: PageQuery): Promise<Page<AuditEvent>>
}

export const AUDIT_REPO_KINDS = {
  append: 'write',
  list: 'read',
} as const satisfies RepoKinds<AuditRepo>

export interface SettingsRepo {
  get(key: string): Promise<string | null>
  set(key: string, value: string): Promise<void>
  /** stores `value` unless the key exists; returns the value now stored (race-safe) */
  setIfAbsent(key: string, value: string): Promise<string>
}

export const SETTINGS_REPO_KINDS = {
  get: 'read',
  set: 'write',
  setIfAbsent: 'write',
} as const satisfies RepoKinds<SettingsRepo>

export interface MigrationReport {
  applied: string[]
  /** already applied before this run */
  current: string[]
}

/**
 * Who a request acts as: the claims of its bearer token. A `Store.as(caller)` view checks them in
 * every statement it sends (no round trip of its own), as `users.getForSession` does: the user live
 * and enabled, the session live or rotated by a refresh into one that is, and `role` when given.
 */
export interface Caller {
  userId: string
  sessionId: string
  role?: Role
}

export const CALLER_UNAUTHORIZED =
  'the session has ended (signed out, password changed or revoked), or the account is disabled or no longer exists'
export const callerUnauthorized = (): StoreError => new StoreError('unauthorized', CALLER_UNAUTHORIZED)
export const callerForbidden = (role: Role): StoreError => new StoreError('forbidden', `this route requires the ${role} role`)

/** The built-in owned resources (src/db/owned.ts) are properties too, one per owned table of TABLES. */
export interface Store extends OwnedRepos {
  readonly kind: StoreKind
  readonly users: UserRepo
  readonly sessions: SessionRepo
  readonly audit: AuditRepo
  readonly settings: SettingsRepo
  /** the repository of an owned table this store was opened with (the built-in ones, or a fork's) */
  resource<T extends OwnedTable>(table: T): OwnedRepo<FieldsOf<T>>
  /** cheap round trip; throws StoreError('unavailable') when the database does not answer */
  ping(): Promise<void>
  migrate(): Promise<MigrationReport>
  /** fn's store runs inside one transaction; a throw rolls every write of fn back */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>
  /**
   * The same store acting for `caller`: each of its operations first checks the caller, in the same
   * statement (PostgreSQL) or the same synchronous step (SQLite), and throws
   * StoreError('unauthorized' | 'forbidden') having read and written nothing.
   */
  as(caller: Caller): Store
  close(): Promise<void>
}

/**
 * The hand-written repositories of a Store: its properties that are neither methods nor its kind, nor
 * an owned resource's (those all share OwnedRepo's kinds: OWNED_REPO_KINDS in owned.ts).
 */
export type RepoName = Exclude<
  { [K in keyof Store]: Store[K] extends (...args: never[]) => unknown ? never : Store[K] extends object ? K : never }[keyof Store],
  keyof OwnedRepos
>

/** Every repository's method kinds: a repository added to Store without its kinds does not compile. */
export const REPO_KINDS = {
  users: USER_REPO_KINDS,
  sessions: SESSION_REPO_KINDS,
  audit: AUDIT_REPO_KINDS,
  settings: SETTINGS_REPO_KINDS,
} as const satisfies { readonly [N in RepoName]-?: RepoKinds<Store[N]> }

// ---- replication: what the failover layer moves between the two databases ----

export type SyncTable = (typeof TABLES)[number]['name']
/** the built-in tables' names in TABLES' order (src/db/tables.ts); a store replicates the tables it was opened with (sync-tables.ts) */
export const SYNC_TABLES: readonly SyncTable[] = TABLES.map((t) => t.name)

/** One row as it stands after a write: the unit of the mirror, the outbox and the snapshot. */
export type RowChange =
  | { table: 'users'; row: User }
  | { table: 'sessions'; row: Session }
  | OwnedChange
  | { table: 'audit'; row: AuditEvent }
  | { table: 'settings'; row: Setting }

type BuiltInOwnedTable = Extract<(typeof TABLES)[number], OwnedTable>
/** a row of a built-in owned table (src/db/owned.ts) */
type OwnedChange = { [T in BuiltInOwnedTable as T['name']]: { table: T['name']; row: Owned<FieldsOf<T>> } }[BuiltInOwnedTable['name']]

/**
 * A row of any table a store replicates: a RowChange for a built-in table; a fork's table (opened
 * with the store, not in TABLES) is known by its name only.
 */
export interface TableRow {
  readonly table: string
  readonly row: object
}

/** Told every row a write wrote: a built-in table's RowChange, or a row of a fork's table. */
export type ChangeSink = (change: TableRow) => void

/**
 * applied: the row now stands as given.
 * stale: the target already holds this version or a newer one (newer version/updatedAt wins,
 *        a delete wins); nothing changed.
 * conflict: a unique key (email, token hash) belongs to another row; nothing changed.
 */
export type ApplyOutcome = 'applied' | 'stale' | 'conflict'

/** What both implementations offer the failover layer beyond `Store`. */
export interface ReplicableStore extends Store {
  /** the same store, calling `sink` with every row it writes (inside transactions too) */
  withChangeSink(sink: ChangeSink): Store
  /** last-writer-wins upsert of one row (see ApplyOutcome); never throws 'conflict' */
  applyChange(change: TableRow): Promise<ApplyOutcome>
  /**
   * rows of a table in key order after `afterKey` (exclusive), soft-deleted and revoked included.
   * PostgresStore and SqliteStore also export a fork's table they were opened with, as TableRows.
   */
  exportRows(table: SyncTable, afterKey: string | null, limit: number): Promise<RowChange[]>
}

// ---- errors ----

/**
 * unavailable: connection-level (the only kind that may trigger failover); conflict: a unique key is
 * taken; not_found; invalid: the database refused the data or the query; too_many / too_large: a
 * per-user limit (count, bytes) would be exceeded; unauthorized / forbidden: the caller of a
 * `Store.as(caller)` view is no longer signed in, or lacks the role (nothing was read or written).
 */
export type StoreErrorKind = 'unavailable' | 'conflict' | 'not_found' | 'invalid' | 'too_many' | 'too_large' | 'unauthorized' | 'forbidden'

/**
 * How a connection failed, where the driver says (kind 'unavailable'): `lost` — the server or the
 * network ended a connection that was open (a nap, a restart: a fresh connection may work at once);
 * `refused` — no connection could be made at all (nothing listens, the host name is unknown: a fresh
 * one is refused too).
 */
export type ConnectionFailure = 'lost' | 'refused'

export class StoreError extends Error {
  override readonly name = 'StoreError'
  readonly connection: ConnectionFailure | null
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    options?: { cause?: unknown; connection?: ConnectionFailure },
  ) {
    super(message, options)
    this.connection = options?.connection ?? null
  }
}

export const isStoreError = (e: unknown, kind?: StoreErrorKind): e is StoreError =>
  e instanceof StoreError && (kind === undefined || e.kind === kind)

// ---- small shared helpers ----

export const newId = (): string => Bun.randomUUIDv7()
export const nowIso = (): string => new Date().toISOString()
export const normalizeEmail = (email: string): string => email.trim().toLowerCase()

/** The user a create of `input` stores, made at `at`. */
export const newUserOf = (input: NewUser, at: string): User => ({
  id: input.id,
  email: normalizeEmail(input.email),
  name: input.name ?? null,
  role: input.role ?? 'user',
  passwordHash: input.passwordHash,
  disabled: input.disabled ?? false,
  createdAt: at,
  updatedAt: at,
  version: 1,
  deletedAt: null,
})

/** The event an append of `input` stores, made at `at`. */
export const auditEventOf = (input: NewAuditEvent, at: string): AuditEvent => ({
  id: input.id,
  at,
  action: input.action,
  actorId: input.actorId ?? null,
  targetId: input.targetId ?? null,
  ip: input.ip ?? null,
  details: input.details ?? null,
})

// ---- the outbox: writes made on SQLite while PostgreSQL was away, replayed in order ----

export interface OutboxEntry {
  seq: number
  /** UUIDv7; PostgreSQL records it in applied_ops so a repeated replay changes nothing */
  opId: string
  change: TableRow
  at: string
}

/** applied/stale/conflict as in ApplyOutcome; duplicate: this op_id was already applied */
export type ReplayOutcome = ApplyOutcome | 'duplicate'
