import { auditEventOf, nowIso, type AuditEvent, type AuditRepo, type NewAuditEvent } from '../store.ts'
import type { Emit, Scope, SqliteConnection } from './connection.ts'
import { pageLimit, toPage } from './paging.ts'
import { auditParams, insertSql, toAudit, type AuditRow } from './rows.ts'

const INSERT = `${insertSql('audit')} ON CONFLICT (id) DO NOTHING RETURNING *`
const BY_ID = 'SELECT * FROM audit WHERE id = $id'
const LIST = 'SELECT * FROM audit WHERE ($cursor IS NULL OR id < $cursor) ORDER BY id DESC LIMIT $n'

/** Appends `input` inside a write that is running (idempotent on id: a repeat returns the stored event). */
export function appendAuditNow(conn: SqliteConnection, input: NewAuditEvent, emit: Emit): AuditEvent {
  const event = auditEventOf(input, nowIso())
  const inserted = conn.stmt<AuditRow>(INSERT).get(auditParams(event))
  if (!inserted) return toAudit(conn.stmt<AuditRow>(BY_ID).get({ id: input.id })!)
  const stored = toAudit(inserted)
  emit({ table: 'audit', row: stored })
  return stored
}

export function sqliteAuditRepo(conn: SqliteConnection, scope: Scope): AuditRepo {
  return {
    append: (input) => conn.write(scope, (emit) => appendAuditNow(conn, input, emit)),

    list: (query) =>
      conn.read(scope, () => {
        const limit = pageLimit(query)
        const rows = conn.stmt<AuditRow>(LIST).all({ cursor: query.cursor || null, n: limit + 1 })
        return toPage(rows.map(toAudit), limit)
      }),
  }
}
