// Row ↔ record mapping: snake_case columns, INTEGER 0/1 booleans and JSON text in SQLite;
// camelCase records (store.ts) everywhere else.
import { searchTextOf } from '../owned.ts'
import {
  type AuditEvent,
  type Role,
  type RowChange,
  type Session,
  type Setting,
  type SyncTable,
  type User,
} from '../store.ts'

export type Params = Record<string, string | number | null>

type Note = Extract<RowChange, { table: 'notes' }>['row']

export interface UserRow {
  id: string
  email: string
  name: string | null
  role: string
  password_hash: string
  disabled: number
  created_at: string
  updated_at: string
  version: number
  deleted_at: string | null
}

export interface SessionRow {
  id: string
  user_id: string
  token_hash: string
  expires_at: string
  revoked_at: string | null
  replaced_by: string | null
  created_at: string
  updated_at: string
  version: number
}

export interface NoteRow {
  id: string
  owner_id: string
  title: string
  body: string
  search_text: string
  created_at: string
  updated_at: string
  version: number
  deleted_at: string | null
}

export interface AuditRow {
  id: string
  at: string
  action: string
  actor_id: string | null
  target_id: string | null
  ip: string | null
  details: string | null
}

export interface SettingRow {
  key: string
  value: string
  updated_at: string
  version: number
}

export const toUser = (r: UserRow): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  role: r.role as Role,
  passwordHash: r.password_hash,
  disabled: r.disabled === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  version: r.version,
  deletedAt: r.deleted_at,
})

export const userParams = (u: User): Params => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  password_hash: u.passwordHash,
  disabled: u.disabled ? 1 : 0,
  created_at: u.createdAt,
  updated_at: u.updatedAt,
  version: u.version,
  deleted_at: u.deletedAt,
})

export const toSession = (r: SessionRow): Session => ({
  id: r.id,
  userId: r.user_id,
  tokenHash: r.token_hash,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  replacedBy: r.replaced_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  version: r.version,
})

export const sessionParams = (s: Session): Params => ({
  id: s.id,
  user_id: s.userId,
  token_hash: s.tokenHash,
  expires_at: s.expiresAt,
  revoked_at: s.revokedAt,
  replaced_by: s.replacedBy,
  created_at: s.createdAt,
  updated_at: s.updatedAt,
  version: s.version,
})

export const toNote = (r: Omit<NoteRow, 'search_text'>): Note => ({
  id: r.id,
  ownerId: r.owner_id,
  title: r.title,
  body: r.body,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  version: r.version,
  deletedAt: r.deleted_at,
})

export const noteParams = (n: Note): Params => ({
  id: n.id,
  owner_id: n.ownerId,
  title: n.title,
  body: n.body,
  search_text: searchTextOf([n.title, n.body]),
  created_at: n.createdAt,
  updated_at: n.updatedAt,
  version: n.version,
  deleted_at: n.deletedAt,
})

export const toAudit = (r: AuditRow): AuditEvent => ({
  id: r.id,
  at: r.at,
  action: r.action,
  actorId: r.actor_id,
  targetId: r.target_id,
  ip: r.ip,
  details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
})

export const auditParams = (a: AuditEvent): Params => ({
  id: a.id,
  at: a.at,
  action: a.action,
  actor_id: a.actorId,
  target_id: a.targetId,
  ip: a.ip,
  details: a.details === null ? null : JSON.stringify(a.details),
})

export const toSetting = (r: SettingRow): Setting => ({ key: r.key, value: r.value, updatedAt: r.updated_at, version: r.version })

export const settingParams = (s: Setting): Params => ({ key: s.key, value: s.value, updated_at: s.updatedAt, version: s.version })

// ---- the tables as the replication code sees them ----

export const COLUMNS: Record<SyncTable, readonly string[]> = {
  users: ['id', 'email', 'name', 'role', 'password_hash', 'disabled', 'created_at', 'updated_at', 'version', 'deleted_at'],
  sessions: ['id', 'user_id', 'token_hash', 'expires_at', 'revoked_at', 'replaced_by', 'created_at', 'updated_at', 'version'],
  notes: ['id', 'owner_id', 'title', 'body', 'search_text', 'created_at', 'updated_at', 'version', 'deleted_at'],
  audit: ['id', 'at', 'action', 'actor_id', 'target_id', 'ip', 'details'],
  settings: ['key', 'value', 'updated_at', 'version'],
}

export const keyColumn = (table: SyncTable): 'id' | 'key' => (table === 'settings' ? 'key' : 'id')

export const changeKey = (change: RowChange): string => (change.table === 'settings' ? change.row.key : change.row.id)

const INSERT_SQL = Object.fromEntries(
  Object.entries(COLUMNS).map(([table, columns]) => [table, `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `$${c}`).join(', ')})`]),
) as Record<SyncTable, string>

export const insertSql = (table: SyncTable): string => INSERT_SQL[table]

export function changeParams(change: RowChange): Params {
  switch (change.table) {
    case 'users':
      return userParams(change.row)
    case 'sessions':
      return sessionParams(change.row)
    case 'notes':
      return noteParams(change.row)
    case 'audit':
      return auditParams(change.row)
    case 'settings':
      return settingParams(change.row)
  }
}

/** a database row of `table` as the RowChange the rest of the system moves around */
export function rowToChange(table: SyncTable, row: unknown): RowChange {
  switch (table) {
    case 'users':
      return { table, row: toUser(row as UserRow) }
    case 'sessions':
      return { table, row: toSession(row as SessionRow) }
    case 'notes':
      return { table, row: toNote(row as NoteRow) }
    case 'audit':
      return { table, row: toAudit(row as AuditRow) }
    case 'settings':
      return { table, row: toSetting(row as SettingRow) }
  }
}
