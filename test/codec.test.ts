// The codecs made from the table definitions (src/db/codec.ts), without a database: each record
// survives each dialect's round trip exactly, and each dialect's own forms (0/1, JSON text, Date,
// PostgreSQL's jsonb text timestamps) come out as the records store.ts promises.
import { describe, expect, test } from 'bun:test'
import { codecOf, CODECS, type Codec } from '../src/db/codec.ts'
import { syncTables } from '../src/db/sync-tables.ts'
import type { AuditEvent, RowChange, Session, Setting, User } from '../src/db/store.ts'
import { defineTable, insertOnly, searchText, TABLES } from '../src/db/tables.ts'
import type { Note } from './helpers/contract-fixtures.ts'

const user: User = {
  id: '0190f1a2-0000-7000-8000-000000000001',
  email: 'ada@example.com',
  name: null,
  role: 'admin',
  passwordHash: '$2b$10$hash',
  disabled: true,
  createdAt: '2026-01-02T03:04:05.000Z',
  updatedAt: '2026-01-02T03:04:05.678Z',
  version: 3,
  deletedAt: null,
}
const session: Session = {
  id: '0190f1a2-0000-7000-8000-000000000002',
  userId: user.id,
  tokenHash: 'th',
  expiresAt: '2026-02-02T03:04:05.001Z',
  revokedAt: '2026-01-03T00:00:00.999Z',
  replacedBy: null,
  createdAt: '2026-01-02T03:04:05.000Z',
  updatedAt: '2026-01-03T00:00:00.999Z',
  version: 2,
}
const note: Note = {
  id: '0190f1a2-0000-7000-8000-000000000003',
  ownerId: user.id,
  title: 'Über',
  body: 'Line\nTWO',
  createdAt: '2026-01-02T03:04:05.000Z',
  updatedAt: '2026-01-02T03:04:05.000Z',
  version: 1,
  deletedAt: '2026-01-04T00:00:00.000Z',
}
const event: AuditEvent = {
  id: '0190f1a2-0000-7000-8000-000000000004',
  at: '2026-01-02T03:04:05.010Z',
  action: 'user.updated',
  actorId: null,
  targetId: user.id,
  ip: '::1',
  details: { email: 'ada@example.com', sessions_revoked: 2, nested: { ok: true } },
}
const setting: Setting = { key: 'jwt_secret', value: 's3cret', updatedAt: '2026-01-02T03:04:05.000Z', version: 1 }

const changes: RowChange[] = [
  { table: 'users', row: user },
  { table: 'sessions', row: session },
  { table: 'notes', row: note },
  { table: 'audit', row: event },
  { table: 'audit', row: { ...event, details: null } },
  { table: 'settings', row: setting },
]

describe('codecs from the table definitions', () => {
  test('SQLite: params in its own forms, and back to the very record', () => {
    expect(CODECS.users.toSqlite(user)).toEqual({
      id: user.id,
      email: 'ada@example.com',
      name: null,
      role: 'admin',
      password_hash: '$2b$10$hash',
      disabled: 1,
      created_at: user.createdAt,
      updated_at: user.updatedAt,
      version: 3,
      deleted_at: null,
    })
    expect(CODECS.audit.toSqlite(event).details).toBe(JSON.stringify(event.details))
    expect(CODECS.notes.toSqlite(note).search_text).toBe('über\nline\ntwo')
    for (const { table, row } of changes) {
      const codec = CODECS[table] as Codec<RowChange['row']>
      expect(codec.fromSqlite(codec.toSqlite(row))).toEqual(row)
    }
    expect(CODECS.users.fromSqlite({ ...CODECS.users.toSqlite(user), disabled: 0 }).disabled).toBe(false)
  })

  test('a read leaves derived columns out of the record, and every other column in', () => {
    const read = CODECS.notes.fromSqlite(CODECS.notes.toSqlite(note))
    expect(Object.keys(read).sort()).toEqual(Object.keys(note).sort())
  })

  test('PostgreSQL: Dates become ISO strings with milliseconds; values for sql(object) keep records\' forms', () => {
    const row = { ...CODECS.sessions.toPostgres(session) } as Record<string, unknown>
    for (const c of ['expires_at', 'revoked_at', 'created_at', 'updated_at']) row[c] = new Date(row[c] as string)
    expect(CODECS.sessions.fromPostgres(row)).toEqual(session)
    expect(CODECS.users.toPostgres(user).disabled).toBe(true)
    expect(CODECS.audit.toPostgres(event).details).toEqual(event.details)
    expect(CODECS.notes.toPostgres(note).search_text).toBe('über\nline\ntwo')
  })

  test('PostgreSQL jsonb rows: timestamps in its text form (offset, no zero fraction) come out exact', () => {
    const json = {
      ...CODECS.users.toPostgres(user),
      created_at: '2026-01-02T03:04:05+00:00',
      updated_at: '2026-01-02T05:04:05.678+02:00',
      deleted_at: null,
    }
    expect(CODECS.users.fromJson(json)).toEqual(user)
  })

  test('a joined row whose columns carry a prefix', () => {
    const joined = Object.fromEntries(Object.entries(CODECS.users.toPostgres(user)).map(([c, v]) => [`u_${c}`, v]))
    for (const c of ['u_created_at', 'u_updated_at']) joined[c] = new Date(joined[c] as string)
    expect(CODECS.users.fromPostgresPrefixed('u_')({ ...joined, id: 'not the user' })).toEqual(user)
  })

  test('keys, column lists and the SQLite insert', () => {
    expect(changes.map(syncTables(TABLES).keyOf)).toEqual([user.id, session.id, note.id, event.id, event.id, 'jwt_secret'])
    expect(CODECS.settings.insertSql()).toBe('INSERT INTO settings (key, value, updated_at, version) VALUES ($key, $value, $updated_at, $version)')
    expect(CODECS.settings.insertSql('temp.x')).toStartWith('INSERT INTO temp.x (key, ')
    expect(CODECS.notes.columns).toContain('search_text')
    expect(CODECS.notes.readColumns).toEqual(CODECS.notes.columns.filter((c) => c !== 'search_text'))
  })

  test('the secret columns as the record fields conflict listings mask (the same as before definitions named them)', () => {
    const secret = Object.fromEntries(Object.entries(CODECS).map(([table, codec]) => [table, codec.secretFields]))
    expect(secret).toEqual({ users: ['passwordHash'], sessions: ['tokenHash'], notes: [], audit: [], settings: ['value'] })
  })

  test('a table defined elsewhere gets a codec too: field names camelCase unless given, derived columns checked', () => {
    const tags = defineTable({
      name: 'tags',
      key: 'id',
      columns: { id: { kind: 'id' }, note_id: { kind: 'id', references: 'notes' }, label_text: { kind: 'text', field: 'label' }, tag_search: { kind: 'text' } },
      derived: { tag_search: searchText('label_text') },
      merge: insertOnly,
    })
    const codec = codecOf<{ id: string; noteId: string; label: string }>(tags)
    expect(codec.toSqlite({ id: 'a', noteId: 'b', label: 'X' })).toEqual({ id: 'a', note_id: 'b', label_text: 'X', tag_search: 'x' })
    expect(codec.fromSqlite({ id: 'a', note_id: 'b', label_text: 'X', tag_search: 'x' })).toEqual({ id: 'a', noteId: 'b', label: 'X' })
    expect(() => defineTable({ name: 'bad', key: 'id', columns: { id: { kind: 'id' } }, derived: { id: searchText('nope') }, merge: insertOnly })).toThrow(
      'table bad: id is made of nope, which is not one of its columns',
    )
  })

  test('a table wider than one copy step keeps every column, in order', () => {
    const columns = Object.fromEntries(Array.from({ length: 27 }, (_, i) => [`col_${i}`, { kind: 'integer' as const }]))
    const codec = codecOf<Record<string, number>>(defineTable({ name: 'wide', key: 'col_0', columns, merge: insertOnly }))
    const row = Object.fromEntries(Object.keys(columns).map((c, i) => [c, i]))
    const record = codec.fromSqlite(row)
    expect(Object.entries(record)).toEqual(Object.keys(columns).map((c, i) => [c.replace('_', ''), i]))
    expect(codec.toSqlite(record)).toEqual(row)
  })
})
