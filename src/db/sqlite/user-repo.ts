import { newUserOf, normalizeEmail, nowIso, StoreError, type NewAuditEvent, type NewUser, type User, type UserPatch, type UserRepo } from '../store.ts'
import { appendAuditNow } from './audit-repo.ts'
import type { Emit, Scope, SqliteConnection } from './connection.ts'
import { LIVE_SESSION } from './caller.ts'
import { pageLimit, toPage } from './paging.ts'
import { insertSql, toSession, toUser, userParams, type SessionRow, type UserRow } from './rows.ts'

const LIVE_BY_ID = 'SELECT * FROM users WHERE id = $id AND deleted_at IS NULL'
const LIVE_BY_EMAIL = 'SELECT * FROM users WHERE email = $email AND deleted_at IS NULL'
const INSERT = `${insertSql('users')} RETURNING *`
// The session itself while it is live; once a refresh rotated it, the session that replaced it
// (tokens issued just before a refresh stay good until their own expiry, unless the chain is ended).
const FOR_SESSION = `SELECT u.*, CASE WHEN s.revoked_at IS NULL THEN s.id ELSE r.id END AS live_session_id ${LIVE_SESSION}`
const LIST_FIRST = 'SELECT * FROM users WHERE deleted_at IS NULL ORDER BY id LIMIT $n'
const LIST_AFTER = 'SELECT * FROM users WHERE deleted_at IS NULL AND id > $cursor ORDER BY id LIMIT $n'
const UPDATE = `UPDATE users SET name = $name, role = $role, disabled = $disabled, updated_at = $now, version = version + 1
  WHERE id = $id AND deleted_at IS NULL RETURNING *`
const SET_PASSWORD = `UPDATE users SET password_hash = $password_hash, updated_at = $now, version = version + 1
  WHERE id = $id AND deleted_at IS NULL RETURNING *`
const SOFT_DELETE = `UPDATE users SET deleted_at = $now, updated_at = $now, version = version + 1
  WHERE id = $id AND deleted_at IS NULL RETURNING *`

// The user's sessions but `keep` and the session a refresh replaced it with (IS NOT: NULL matches nothing).
const END_SESSIONS = `UPDATE sessions SET revoked_at = $now, updated_at = $now, version = version + 1
  WHERE user_id = $user_id AND revoked_at IS NULL
    AND id IS NOT $keep AND id IS NOT (SELECT replaced_by FROM sessions WHERE id = $keep) RETURNING *`

const notFound = () => new StoreError('not_found', 'user not found')

export function sqliteUserRepo(conn: SqliteConnection, scope: Scope): UserRepo {
  const liveById = (id: string) => conn.stmt<UserRow>(LIVE_BY_ID).get({ id })
  const insert = (input: NewUser): User => {
    const user = newUserOf(input, nowIso())
    return toUser(conn.stmt<UserRow>(INSERT).get(userParams(user))!)
  }

  /** in a running write: ends the user's sessions but `keep`; how many */
  const endSessions = (userId: string, keep: string | null, now: string, emit: Emit): number => {
    const rows = conn.stmt<SessionRow>(END_SESSIONS).all({ user_id: userId, keep, now })
    for (const row of rows) emit({ table: 'sessions', row: toSession(row) })
    return rows.length
  }
  /** in a running write: `event` for the user as it was, its details given email and sessions_revoked */
  const audited = (event: NewAuditEvent, before: UserRow, revoked: number, emit: Emit) =>
    appendAuditNow(conn, { ...event, targetId: before.id, details: { ...event.details, email: before.email, sessions_revoked: revoked } }, emit)
  const updateNow = (current: UserRow, patch: UserPatch, now: string): UserRow =>
    conn.stmt<UserRow>(UPDATE).get({
      id: current.id,
      name: patch.name !== undefined ? patch.name : current.name,
      role: patch.role ?? current.role,
      disabled: patch.disabled === undefined ? current.disabled : patch.disabled ? 1 : 0,
      now,
    })!

  return {
    changeAccount: (id, change, audit) =>
      conn.write(scope, (emit) => {
        const before = liveById(id)
        if (!before) throw notFound()
        const now = nowIso()
        const { patch, passwordHash } = change
        let row = before
        if (Object.values(patch).some((v) => v !== undefined)) row = updateNow(row, patch, now)
        if (passwordHash) row = conn.stmt<UserRow>(SET_PASSWORD).get({ id, password_hash: passwordHash, now })!
        const user = toUser(row)
        emit({ table: 'users', row: user })
        const revoked = change.endSessions ? endSessions(id, change.keepSessionId, now, emit) : 0
        const events = patch.disabled === true && !before.disabled ? [audited(audit.disabled, before, revoked, emit)] : []
        events.push(audited(audit.updated, before, revoked, emit))
        return { user, audit: events }
      }),

    disableAccount: (id, audit) =>
      conn.write(scope, (emit) => {
        const before = liveById(id)
        if (!before) throw notFound()
        const now = nowIso()
        const user = toUser(updateNow(before, { disabled: true }, now))
        emit({ table: 'users', row: user })
        return { user, audit: [audited(audit, before, endSessions(id, null, now, emit), emit)] }
      }),

    create: (input) =>
      conn.write(scope, (emit) => {
        const user = insert(input)
        emit({ table: 'users', row: user })
        return user
      }),

    // The IMMEDIATE transaction holds SQLite's write lock from the check to the insert: race-safe.
    createIfAbsent: (input) =>
      conn.write(scope, (emit) => {
        const existing = conn.stmt<UserRow>(LIVE_BY_EMAIL).get({ email: normalizeEmail(input.email) })
        if (existing) return { user: toUser(existing), created: false }
        const user = insert(input)
        emit({ table: 'users', row: user })
        return { user, created: true }
      }),

    getById: (id) =>
      conn.read(scope, () => {
        const row = liveById(id)
        return row ? toUser(row) : null
      }),

    getByEmail: (email) =>
      conn.read(scope, () => {
        const row = conn.stmt<UserRow>(LIVE_BY_EMAIL).get({ email: normalizeEmail(email) })
        return row ? toUser(row) : null
      }),

    getForSession: (id, sessionId) =>
      conn.read(scope, () => {
        const row = conn.stmt<UserRow & { live_session_id: string }>(FOR_SESSION).get({ id, session_id: sessionId, now: nowIso() })
        return row ? { user: toUser(row), sessionId: row.live_session_id } : null
      }),

    list: (query) =>
      conn.read(scope, () => {
        const limit = pageLimit(query)
        const rows = query.cursor
          ? conn.stmt<UserRow>(LIST_AFTER).all({ cursor: query.cursor, n: limit + 1 })
          : conn.stmt<UserRow>(LIST_FIRST).all({ n: limit + 1 })
        return toPage(rows.map(toUser), limit)
      }),

    update: (id, patch) =>
      conn.write(scope, (emit) => {
        const current = liveById(id)
        if (!current) throw notFound()
        const user = toUser(updateNow(current, patch, nowIso()))
        emit({ table: 'users', row: user })
        return user
      }),

    setPassword: (id, passwordHash) =>
      conn.write(scope, (emit) => {
        const row = conn.stmt<UserRow>(SET_PASSWORD).get({ id, password_hash: passwordHash, now: nowIso() })
        if (!row) throw notFound()
        const user = toUser(row)
        emit({ table: 'users', row: user })
        return user
      }),

    softDelete: (id) =>
      conn.write(scope, (emit) => {
        const row = conn.stmt<UserRow>(SOFT_DELETE).get({ id, now: nowIso() })
        if (!row) throw notFound()
        emit({ table: 'users', row: toUser(row) })
      }),
  }
}
