import type postgres from 'postgres'
import { CODECS } from '../codec.ts'
import { auditEventOf, nowIso, type AuditEvent, type AuditRepo, type NewAuditEvent } from '../store.ts'
import type { PgExecutor } from './executor.ts'
import type { QuerySql } from './pool.ts'
import { toAuditEvent, type AuditRow } from './rows.ts'
import { checkCursor, pageOf } from './uuid.ts'

/** The audit row of `input` as a statement's own CTE inserts it: its columns, for a select from a one-row source. */
export const auditValues = (sql: QuerySql, input: NewAuditEvent, now: string) => sql`
  ${input.id}::uuid, ${now}::timestamptz, ${input.action}::text, ${input.actorId ?? null}::uuid, ${input.targetId ?? null}::uuid,
  ${input.ip ?? null}::text, ${input.details ? sql.json(input.details as postgres.JSONValue) : null}::jsonb`

/** The columns of an audit CTE `name`, prefixed `audit_` so they can sit beside another table's row. */
export const auditColumnsOf = (sql: QuerySql, name: string) => sql.unsafe(CODECS.audit.columns.map((c) => `${name}.${c} as audit_${c}`).join(', '))

const prefixedAudit = CODECS.audit.fromPostgresPrefixed('audit_')

/** The audit event in a row that auditColumnsOf put there, if its CTE inserted one. */
export const auditFrom = (row: Record<string, unknown>): AuditEvent | null => (row.audit_id == null ? null : prefixedAudit(row))

export function createAuditRepo(ex: PgExecutor): AuditRepo {
  return {
    async append(input) {
      const event = auditEventOf(input, nowIso())
      const [row] = await ex.run((sql) => sql<AuditRow[]>`
        insert into audit ${sql(CODECS.audit.toPostgres(event))}
        on conflict (id) do nothing
        returning *`)
      // Else appended before: by a retried request, or by this call's first attempt, which committed
      // before its connection died and whose rows were never mirrored. The stored event stands, and
      // is reported again so that it reaches SQLite (applying it there twice changes nothing).
      const [stored] = row ? [row] : await ex.run((sql) => sql<AuditRow[]>`select * from audit where id = ${input.id}`)
      const appended = toAuditEvent(stored!)
      ex.emit({ table: 'audit', row: appended })
      return appended
    },

    async list({ limit, cursor }) {
      const before = checkCursor(cursor)
      const rows = await ex.run((sql) => sql<AuditRow[]>`
        select * from audit
        where true ${before ? sql`and id < ${before}` : sql``} ${ex.callerCheck(sql)}
        order by id desc
        limit ${limit + 1}`)
      return pageOf(rows.map(toAuditEvent), limit)
    },
  }
}
