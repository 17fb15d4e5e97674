// The caller check of Store.as(caller) on SQLite: run in the same synchronous step as the operation
// it guards (connection.ts), so nothing can change the account between the check and the statement.
import { callerForbidden, callerUnauthorized, nowIso, type Caller } from '../store.ts'
import type { SqliteConnection } from './connection.ts'

/** The session while live, else the session a refresh rotated it into; the user live and enabled. */
export const LIVE_SESSION = `FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN sessions r ON r.id = s.replaced_by
  WHERE s.id = $session_id AND u.id = $id AND u.deleted_at IS NULL AND u.disabled = 0
    AND ((s.revoked_at IS NULL AND s.expires_at > $now)
      OR (r.user_id = s.user_id AND r.revoked_at IS NULL AND r.expires_at > $now))`

const CALLER_ROLE = `SELECT u.role ${LIVE_SESSION}`

/** throws StoreError('unauthorized' | 'forbidden') unless `caller` may act now */
export function checkCaller(conn: SqliteConnection, caller: Caller): void {
  const row = conn.stmt<{ role: string }>(CALLER_ROLE).get({ id: caller.userId, session_id: caller.sessionId, now: nowIso() })
  if (!row) throw callerUnauthorized()
  if (caller.role && row.role !== caller.role) throw callerForbidden(caller.role)
}
