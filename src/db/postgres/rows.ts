// The PostgreSQL side of each table's codec (codec.ts), under the names the repositories read best
// with; and the rows of sync_conflicts, which no definition describes.
import { CODECS, type PostgresRow } from '../codec.ts'
import type { SyncConflict } from '../runtime.ts'
import type { audit, sessions, settings, users } from '../tables.ts'

export type UserRow = PostgresRow<typeof users>
export type SessionRow = PostgresRow<typeof sessions>
export type AuditRow = PostgresRow<typeof audit>
export type SettingRow = PostgresRow<typeof settings>

export const toUser = CODECS.users.fromPostgres
export const toSession = CODECS.sessions.fromPostgres
export const toAuditEvent = CODECS.audit.fromPostgres
export const toSetting = CODECS.settings.fromPostgres

/**
 * Rows that one statement wrote to several tables come back as `jsonb_agg(to_jsonb(cte))`, one array
 * per table (see users-repo.ts), or null for none.
 */
const fromJsonAgg =
  <R extends object>(fromJson: (row: object) => R) =>
  (rows: unknown): R[] =>
    ((rows ?? []) as object[]).map(fromJson)

export const usersFromJson = fromJsonAgg(CODECS.users.fromJson)
export const sessionsFromJson = fromJsonAgg(CODECS.sessions.fromJson)
export const auditFromJson = fromJsonAgg(CODECS.audit.fromJson)

export interface ConflictRow {
  id: string
  at: Date
  tbl: string
  row_id: string
  reason: string
  row_json: Record<string, unknown>
}

export const toConflict = (r: ConflictRow): SyncConflict => ({
  id: r.id,
  at: r.at.toISOString(),
  table: r.tbl,
  rowId: r.row_id,
  reason: r.reason,
  row: r.row_json,
})
