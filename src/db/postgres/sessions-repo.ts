import { CODECS } from '../codec.ts'
import { callerUnauthorized, nowIso, StoreError, type NewSession, type Session, type SessionRepo } from '../store.ts'
import type postgres from 'postgres'
import { auditColumnsOf, auditFrom, auditValues } from './audit-repo.ts'
import type { PgExecutor } from './executor.ts'
import type { QuerySql } from './pool.ts'
import { auditFromJson, sessionsFromJson, toSession, type SessionRow } from './rows.ts'
import { isUuid } from './uuid.ts'

// getWithUser: the session's row with its user's beside it, the user's columns prefixed u_
const USER_AS_U = CODECS.users.columns.map((c) => `u.${c} as u_${c}`).join(', ')
const prefixedUser = CODECS.users.fromPostgresPrefixed('u_')

export function createSessionRepo(ex: PgExecutor): SessionRepo {
  const written = (row: SessionRow): Session => {
    const session = toSession(row)
    ex.emit({ table: 'sessions', row: session })
    return session
  }

  const newRow = (input: NewSession, now: string) => ({
    id: input.id,
    user_id: input.userId,
    token_hash: input.tokenHash,
    expires_at: input.expiresAt,
    created_at: now,
    updated_at: now,
    version: 1,
  })

  return {
    async create(input, audit) {
      const now = nowIso()
      // Idempotent for its own id, like users.create: a retried create returns what it committed.
      // The audit row rides along in the same statement, inserted only with a session.
      const [row] = await ex.run((sql) => sql<SessionRow[]>`
        with created as (
          insert into sessions ${sql(newRow(input, now))}
          on conflict (id) do update set id = excluded.id where sessions.token_hash = excluded.token_hash
          returning *
        ), logged as (
          insert into audit (id, at, action, actor_id, target_id, ip, details)
          select ${audit ? auditValues(sql, audit, now) : sql`null::uuid, null, null, null, null, null, null`} from created
          where ${audit !== undefined}
          on conflict (id) do nothing
          returning *
        )
        select created.*, ${auditColumnsOf(sql, 'logged')} from created left join logged on true`)
      if (!row) throw new StoreError('conflict', 'a session with this id already exists')
      const event = auditFrom(row as unknown as Record<string, unknown>)
      const session = written(row)
      if (event) ex.emit({ table: 'audit', row: event })
      return session
    },

    async getWithUser(tokenHash) {
      const [row] = await ex.run((sql) => sql<(SessionRow & Record<string, unknown>)[]>`
        select s.*, ${sql.unsafe(USER_AS_U)}
        from sessions s left join users u on u.id = s.user_id and u.deleted_at is null
        where s.token_hash = ${tokenHash}`)
      if (!row) return null
      const user = row.u_email === null ? null : prefixedUser(row)
      return { session: toSession(row), user }
    },

    async getByTokenHash(tokenHash) {
      const [row] = await ex.run((sql) => sql<SessionRow[]>`select * from sessions where token_hash = ${tokenHash}`)
      return row ? toSession(row) : null
    },

    async rotate(oldId, next) {
      if (!isUuid(oldId)) return null
      const now = nowIso()
      // One statement, so revoke-and-replace is atomic without a transaction: the insert only
      // happens when the update found the old session still unrevoked — or already replaced by this
      // very `next` (a retry after a lost connection whose first attempt committed: not a reuse).
      const rows = await ex.run((sql) => sql<SessionRow[]>`
        with old as (
          update sessions
          set revoked_at = coalesce(revoked_at, ${now}), replaced_by = ${next.id},
              updated_at = case when revoked_at is null then ${now}::timestamptz else updated_at end,
              version = case when revoked_at is null then version + 1 else version end
          where id = ${oldId} and (revoked_at is null or replaced_by = ${next.id})
          returning *
        ), created as (
          insert into sessions (id, user_id, token_hash, expires_at, created_at, updated_at, version)
          select ${next.id}::uuid, ${next.userId}::uuid, ${next.tokenHash}::text, ${next.expiresAt}::timestamptz,
                 ${now}::timestamptz, ${now}::timestamptz, 1
          from old
          on conflict (id) do update set id = excluded.id where sessions.token_hash = excluded.token_hash
          returning *
        )
        select * from old union all select * from created`)
      const replaced = rows.find((r) => r.id === oldId.toLowerCase())
      const created = rows.find((r) => r.id !== oldId.toLowerCase())
      if (!replaced || !created) return null
      written(replaced)
      return written(created)
    },

    async revoke(id) {
      if (!isUuid(id)) return
      const now = nowIso()
      const rows = await ex.run((sql) => sql<SessionRow[]>`
        update sessions set revoked_at = ${now}, updated_at = ${now}, version = version + 1
        where id = ${id} and revoked_at is null
        returning *`)
      rows.forEach(written)
    },

    async endSessions(userId, sessionId, alsoTokenHash, audit) {
      if (!isUuid(userId) || !isUuid(sessionId)) throw callerUnauthorized()
      const now = nowIso()
      const [row] = await ex.run((sql) => sql<{ ended: string[] | null; sessions: unknown; audit: unknown }[]>`
        with me as (
          select case when s.revoked_at is null then s.id else r.id end as live_id, s.user_id
          from sessions s join users u on u.id = s.user_id left join sessions r on r.id = s.replaced_by
          where s.id = ${sessionId} and u.id = ${userId} and u.deleted_at is null and not u.disabled ${ex.callerCheck(sql)}
            and ((s.revoked_at is null and s.expires_at > ${now})
              or (r.user_id = s.user_id and r.revoked_at is null and r.expires_at > ${now}))
        ), ended as (
          select live_id as id, 0 as n from me
          union all
          select t.id, 1 from sessions t join me on t.user_id = me.user_id
          where t.token_hash = ${alsoTokenHash} and t.id <> me.live_id
        ), revoked as (
          update sessions set revoked_at = ${now}, updated_at = ${now}, version = version + 1
          where id in (select id from ended) and revoked_at is null
          returning *
        ), logged as (
          insert into audit (id, at, action, actor_id, target_id, ip, details)
          select ${audit.id}::uuid, ${now}::timestamptz, ${audit.action}::text, me.user_id::text, me.user_id::text, ${audit.ip ?? null}::text,
                 ${sql.json((audit.details ?? {}) as postgres.JSONValue)}::jsonb
                   || jsonb_build_object('session_ids', (select jsonb_agg(id order by n) from ended))
          from me
          on conflict (id) do nothing
          returning *
        )
        select (select jsonb_agg(id order by n) from ended) as ended,
               (select jsonb_agg(to_jsonb(revoked)) from revoked) as sessions,
               (select jsonb_agg(to_jsonb(logged)) from logged) as audit`)
      if (!row?.ended) throw callerUnauthorized()
      for (const session of sessionsFromJson(row.sessions)) ex.emit({ table: 'sessions', row: session })
      for (const event of auditFromJson(row.audit)) ex.emit({ table: 'audit', row: event })
      return row.ended
    },

    async revokeAllForUser(userId, exceptId, audit) {
      if (!isUuid(userId)) return 0
      const now = nowIso()
      const keep = exceptId && isUuid(exceptId) ? exceptId : null
      const revoked = (sql: QuerySql) => sql`
        update sessions set revoked_at = ${now}, updated_at = ${now}, version = version + 1
        where user_id = ${userId} and revoked_at is null ${keep ? sql`and id <> ${keep}` : sql``}
        returning *`
      if (!audit) {
        const rows = await ex.run((sql) => sql<SessionRow[]>`${revoked(sql)}`)
        rows.forEach(written)
        return rows.length
      }
      // The audit row rides along, with the count of what the same statement revoked.
      const rows = await ex.run((sql) => sql<(SessionRow & Record<string, unknown>)[]>`
        with revoked as (${revoked(sql)}), logged as (
          insert into audit (id, at, action, actor_id, target_id, ip, details)
          select ${audit.id}::uuid, ${now}::timestamptz, ${audit.action}::text, ${audit.actorId ?? null}::uuid,
                 ${audit.targetId ?? null}::uuid, ${audit.ip ?? null}::text,
                 ${sql.json((audit.details ?? {}) as postgres.JSONValue)}::jsonb || jsonb_build_object('sessions_revoked', (select count(*) from revoked))
          on conflict (id) do nothing
          returning *
        )
        select revoked.*, ${auditColumnsOf(sql, 'logged')} from (select 1) as one left join revoked on true left join logged on true`)
      const sessions = rows.filter((r) => r.id !== null)
      sessions.forEach(written)
      const event = rows[0] ? auditFrom(rows[0]) : null
      if (event) ex.emit({ table: 'audit', row: event })
      return sessions.length
    },
  }
}
