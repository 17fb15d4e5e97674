import { nowIso, StoreError, type NewSession, type Session, type SessionRepo } from '../store.ts'
import type { PgExecutor } from './executor.ts'
import { toSession, type SessionRow } from './rows.ts'
import { isUuid } from './uuid.ts'

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
    async create(input) {
      // Idempotent for its own id, like users.create: a retried create returns what it committed.
      const [row] = await ex.run((sql) => sql<SessionRow[]>`
        insert into sessions ${sql(newRow(input, nowIso()))}
        on conflict (id) do update set id = excluded.id where sessions.token_hash = excluded.token_hash
        returning *`)
      if (!row) throw new StoreError('conflict', 'a session with this id already exists')
      return written(row)
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

    async revokeAllForUser(userId, exceptId) {
      if (!isUuid(userId)) return 0
      const now = nowIso()
      const keep = exceptId && isUuid(exceptId) ? exceptId : null
      const rows = await ex.run((sql) => sql<SessionRow[]>`
        update sessions set revoked_at = ${now}, updated_at = ${now}, version = version + 1
        where user_id = ${userId} and revoked_at is null ${keep ? sql`and id <> ${keep}` : sql``}
        returning *`)
      rows.forEach(written)
      return rows.length
    },
  }
}
