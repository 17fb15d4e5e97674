import { callerUnauthorized, nowIso, type NewSession, type Session, type SessionRepo } from '../store.ts'
import { LIVE_SESSION } from './caller.ts'
import { appendAuditNow } from './audit-repo.ts'
import type { Emit, Scope, SqliteConnection } from './connection.ts'
import { insertSql, sessionParams, toSession, toUser, type SessionRow, type UserRow } from './rows.ts'

const INSERT = `${insertSql('sessions')} RETURNING *`
const BY_TOKEN_HASH = 'SELECT * FROM sessions WHERE token_hash = $token_hash'
const LIVE_USER = 'SELECT * FROM users WHERE id = $id AND deleted_at IS NULL'
const LIVE_ID = `SELECT CASE WHEN s.revoked_at IS NULL THEN s.id ELSE r.id END AS live_id ${LIVE_SESSION}`
const REVOKE = `UPDATE sessions SET revoked_at = $now, replaced_by = coalesce($replaced_by, replaced_by), updated_at = $now,
  version = version + 1 WHERE id = $id AND revoked_at IS NULL RETURNING *`
const REVOKE_ALL = `UPDATE sessions SET revoked_at = $now, updated_at = $now, version = version + 1
  WHERE user_id = $user_id AND revoked_at IS NULL AND id IS NOT $except_id RETURNING *`

const USER_MISSING = { foreignKey: 'user does not exist' }

export function sqliteSessionRepo(conn: SqliteConnection, scope: Scope): SessionRepo {
  const insert = (input: NewSession, now: string, emit: Emit): Session => {
    const session: Session = { ...input, revokedAt: null, replacedBy: null, createdAt: now, updatedAt: now, version: 1 }
    const stored = toSession(conn.stmt<SessionRow>(INSERT).get(sessionParams(session))!)
    emit({ table: 'sessions', row: stored })
    return stored
  }
  const revoke = (id: string, replacedBy: string | null, now: string, emit: Emit): Session | null => {
    const row = conn.stmt<SessionRow>(REVOKE).get({ id, replaced_by: replacedBy, now })
    if (!row) return null
    const session = toSession(row)
    emit({ table: 'sessions', row: session })
    return session
  }

  return {
    create: (input, audit) =>
      conn.write(
        scope,
        (emit) => {
          const session = insert(input, nowIso(), emit)
          if (audit) appendAuditNow(conn, audit, emit)
          return session
        },
        USER_MISSING,
      ),

    getWithUser: (tokenHash) =>
      conn.read(scope, () => {
        const row = conn.stmt<SessionRow>(BY_TOKEN_HASH).get({ token_hash: tokenHash })
        if (!row) return null
        const user = conn.stmt<UserRow>(LIVE_USER).get({ id: row.user_id })
        return { session: toSession(row), user: user ? toUser(user) : null }
      }),

    getByTokenHash: (tokenHash) =>
      conn.read(scope, () => {
        const row = conn.stmt<SessionRow>(BY_TOKEN_HASH).get({ token_hash: tokenHash })
        return row ? toSession(row) : null
      }),

    // Revoke-then-insert in one IMMEDIATE transaction: of two concurrent rotations exactly one finds
    // the old session unrevoked.
    rotate: (oldId, next) =>
      conn.write(
        scope,
        (emit) => {
          const now = nowIso()
          if (!revoke(oldId, next.id, now, emit)) return null
          return insert(next, now, emit)
        },
        USER_MISSING,
      ),

    revoke: (id) =>
      conn.write(scope, (emit) => {
        revoke(id, null, nowIso(), emit)
      }),

    endSessions: (userId, sessionId, alsoTokenHash, audit) =>
      conn.write(scope, (emit) => {
        const now = nowIso()
        const me = conn.stmt<{ live_id: string }>(LIVE_ID).get({ id: userId, session_id: sessionId, now })
        if (!me) throw callerUnauthorized()
        const ended = [me.live_id]
        const other = alsoTokenHash ? conn.stmt<SessionRow>(BY_TOKEN_HASH).get({ token_hash: alsoTokenHash }) : null
        if (other && other.user_id === userId && other.id !== me.live_id) ended.push(other.id)
        for (const id of ended) revoke(id, null, now, emit)
        appendAuditNow(conn, { ...audit, actorId: userId, targetId: userId, details: { ...audit.details, session_ids: ended } }, emit)
        return ended
      }),

    revokeAllForUser: (userId, exceptId, audit) =>
      conn.write(scope, (emit) => {
        const rows = conn.stmt<SessionRow>(REVOKE_ALL).all({ user_id: userId, except_id: exceptId ?? null, now: nowIso() })
        for (const row of rows) emit({ table: 'sessions', row: toSession(row) })
        if (audit) appendAuditNow(conn, { ...audit, details: { ...audit.details, sessions_revoked: rows.length } }, emit)
        return rows.length
      }),
  }
}
