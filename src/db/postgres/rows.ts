// Row ↔ record mapping at the store boundary: snake_case columns, timestamptz as Date (postgres.js
// parses them) ↔ camelCase records with ISO strings.
import type { SyncConflict } from '../runtime.ts'
import { searchTextOf } from '../owned.ts'
import type { AuditEvent, Role, RowChange, Session, Setting, User } from '../store.ts'

type Note = Extract<RowChange, { table: 'notes' }>['row']

export interface UserRow {
  id: string
  email: string
  name: string | null
  role: Role
  password_hash: string
  disabled: boolean
  created_at: Date
  updated_at: Date
  version: number
  deleted_at: Date | null
}

export interface SessionRow {
  id: string
  user_id: string
  token_hash: string
  expires_at: Date
  revoked_at: Date | null
  replaced_by: string | null
  created_at: Date
  updated_at: Date
  version: number
}

export interface NoteRow {
  id: string
  owner_id: string
  title: string
  body: string
  search_text: string
  created_at: Date
  updated_at: Date
  version: number
  deleted_at: Date | null
}

export interface AuditRow {
  id: string
  at: Date
  action: string
  actor_id: string | null
  target_id: string | null
  ip: string | null
  details: Record<string, unknown> | null
}

export interface SettingRow {
  key: string
  value: string
  updated_at: Date
  version: number
}

export interface ConflictRow {
  id: string
  at: Date
  tbl: string
  row_id: string
  reason: string
  row_json: Record<string, unknown>
}

const iso = (d: Date): string => d.toISOString()
const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString())

export const toUser = (r: UserRow): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  role: r.role,
  passwordHash: r.password_hash,
  disabled: r.disabled,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  version: r.version,
  deletedAt: isoOrNull(r.deleted_at),
})

export const toSession = (r: SessionRow): Session => ({
  id: r.id,
  userId: r.user_id,
  tokenHash: r.token_hash,
  expiresAt: iso(r.expires_at),
  revokedAt: isoOrNull(r.revoked_at),
  replacedBy: r.replaced_by,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  version: r.version,
})

export const toNote = (r: Omit<NoteRow, 'search_text'>): Note => ({
  id: r.id,
  ownerId: r.owner_id,
  title: r.title,
  body: r.body,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  version: r.version,
  deletedAt: isoOrNull(r.deleted_at),
})

export const toAuditEvent = (r: AuditRow): AuditEvent => ({
  id: r.id,
  at: iso(r.at),
  action: r.action,
  actorId: r.actor_id,
  targetId: r.target_id,
  ip: r.ip,
  details: r.details,
})

export const toSetting = (r: SettingRow): Setting => ({
  key: r.key,
  value: r.value,
  updatedAt: iso(r.updated_at),
  version: r.version,
})

export const toConflict = (r: ConflictRow): SyncConflict => ({
  id: r.id,
  at: iso(r.at),
  table: r.tbl,
  rowId: r.row_id,
  reason: r.reason,
  row: r.row_json,
})

// Records → column values for inserts. Timestamps stay ISO strings: the server parses them into
// timestamptz(3) without loss, since the app makes them at millisecond precision.

export const userColumns = (u: User) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  password_hash: u.passwordHash,
  disabled: u.disabled,
  created_at: u.createdAt,
  updated_at: u.updatedAt,
  version: u.version,
  deleted_at: u.deletedAt,
})

export const sessionColumns = (s: Session) => ({
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

export const noteColumns = (n: Note) => ({
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

export const auditColumns = (a: AuditEvent) => ({
  id: a.id,
  at: a.at,
  action: a.action,
  actor_id: a.actorId,
  target_id: a.targetId,
  ip: a.ip,
  details: a.details,
})

export const settingColumns = (s: Setting) => ({
  key: s.key,
  value: s.value,
  updated_at: s.updatedAt,
  version: s.version,
})

/** The key a row is identified by in its table: `id`, or `key` for settings. */
export const rowKey = (change: RowChange): string => (change.table === 'settings' ? change.row.key : change.row.id)

/**
 * Rows that one statement wrote to several tables come back as `jsonb_agg(to_jsonb(cte))`, one array
 * per table (see account-writes.ts): timestamps are then ISO text with an offset, made Dates here.
 */
const TIMESTAMPS = ['created_at', 'updated_at', 'deleted_at', 'expires_at', 'revoked_at', 'at'] as const

function datesIn<R>(json: Record<string, unknown>): R {
  const row: Record<string, unknown> = { ...json }
  for (const c of TIMESTAMPS) if (typeof row[c] === 'string') row[c] = new Date(row[c] as string)
  return row as R
}

export const usersFromJson = (rows: unknown): User[] => ((rows ?? []) as Record<string, unknown>[]).map((r) => toUser(datesIn<UserRow>(r)))
export const sessionsFromJson = (rows: unknown): Session[] =>
  ((rows ?? []) as Record<string, unknown>[]).map((r) => toSession(datesIn<SessionRow>(r)))
export const auditFromJson = (rows: unknown): AuditEvent[] =>
  ((rows ?? []) as Record<string, unknown>[]).map((r) => toAuditEvent(datesIn<AuditRow>(r)))
