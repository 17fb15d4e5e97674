// The SQLite side of each table's codec (codec.ts), under the names the repositories read best with.
import { CODECS, type SqliteRow } from '../codec.ts'
import type { SyncTable } from '../store.ts'
import type { audit, sessions, settings, users } from '../tables.ts'

export type UserRow = SqliteRow<typeof users>
export type SessionRow = SqliteRow<typeof sessions>
export type AuditRow = SqliteRow<typeof audit>
export type SettingRow = SqliteRow<typeof settings>

export const toUser = CODECS.users.fromSqlite
export const userParams = CODECS.users.toSqlite
export const toSession = CODECS.sessions.fromSqlite
export const sessionParams = CODECS.sessions.toSqlite
export const toAudit = CODECS.audit.fromSqlite
export const auditParams = CODECS.audit.toSqlite
export const toSetting = CODECS.settings.fromSqlite

export const insertSql = (table: SyncTable): string => CODECS[table].insertSql()
