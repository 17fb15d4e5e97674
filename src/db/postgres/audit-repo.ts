import type postgres from 'postgres'
import { nowIso, type AuditRepo } from '../store.ts'
import type { PgExecutor } from './executor.ts'
import { toAuditEvent, type AuditRow } from './rows.ts'
import { checkCursor, pageOf } from './uuid.ts'

export function createAuditRepo(ex: PgExecutor): AuditRepo {
  return {
    async append(input) {
      const [row] = await ex.run((sql) => sql<AuditRow[]>`
        insert into audit ${sql({
          id: input.id,
          at: nowIso(),
          action: input.action,
          actor_id: input.actorId ?? null,
          target_id: input.targetId ?? null,
          ip: input.ip ?? null,
          details: input.details ? sql.json(input.details as postgres.JSONValue) : null,
        })}
        on conflict (id) do nothing
        returning *`)
      if (row) {
        const event = toAuditEvent(row)
        ex.emit({ table: 'audit', row: event })
        return event
      }
      // appended before (a retried request): the stored event stands
      const [existing] = await ex.run((sql) => sql<AuditRow[]>`select * from audit where id = ${input.id}`)
      return toAuditEvent(existing!)
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
