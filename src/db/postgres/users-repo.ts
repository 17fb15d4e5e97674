import type postgres from 'postgres'
import { CODECS } from '../codec.ts'
import { newUserOf, normalizeEmail, nowIso, StoreError, type AccountWrite, type NewAuditEvent, type NewUser, type User, type UserPatch, type UserRepo } from '../store.ts'
import type { PgExecutor } from './executor.ts'
import type { QuerySql } from './pool.ts'
import { auditFromJson, sessionsFromJson, toUser, usersFromJson, type UserRow } from './rows.ts'
import { checkCursor, isUuid, pageOf } from './uuid.ts'

const notFound = () => new StoreError('not_found', 'user not found')

export function createUserRepo(ex: PgExecutor): UserRepo {
  const written = (row: UserRow): User => {
    const user = toUser(row)
    ex.emit({ table: 'users', row: user })
    return user
  }

  const newRow = (input: NewUser) => CODECS.users.toPostgres(newUserOf(input, nowIso()))

  /** Sets `cols` on the live user, bumping version; not_found when there is none. */
  const updateLive = async (id: string, cols: Record<string, string | boolean | null>, now = nowIso()): Promise<User> => {
    if (!isUuid(id)) throw notFound()
    const [row] = await ex.run((sql) => sql<UserRow[]>`
      update users set ${sql({ ...cols, updated_at: now })}, version = version + 1
      where id = ${id} and deleted_at is null
      returning *`)
    if (!row) throw notFound()
    return written(row)
  }

  const getByEmail = async (email: string): Promise<User | null> => {
    const [row] = await ex.run((sql) => sql<UserRow[]>`
      select * from users where email = ${normalizeEmail(email)} and deleted_at is null`)
    return row ? toUser(row) : null
  }

  return {
    getByEmail,

    async create(input) {
      // Idempotent for its own id: a create retried after a lost connection finds the row its first
      // attempt committed and returns it (the no-op update makes RETURNING yield it), never a 409.
      const [row] = await ex.run((sql) => sql<UserRow[]>`
        insert into users ${sql(newRow(input))}
        on conflict (id) do update set id = excluded.id
          where users.email = excluded.email and users.password_hash = excluded.password_hash
        returning *`)
      if (!row) throw new StoreError('conflict', 'a user with this id already exists')
      return written(row)
    },

    async createIfAbsent(input) {
      // Two starts seeding the same account race here: the partial unique index decides.
      const [row] = await ex.run((sql) => sql<UserRow[]>`
        insert into users ${sql(newRow(input))}
        on conflict (email) where deleted_at is null do nothing
        returning *`)
      if (row) return { user: written(row), created: true }
      const existing = await getByEmail(input.email)
      if (!existing) throw new StoreError('conflict', 'the email was taken and released concurrently; retry')
      return { user: existing, created: false }
    },

    async getById(id) {
      if (!isUuid(id)) return null
      const [row] = await ex.run((sql) => sql<UserRow[]>`select * from users where id = ${id} and deleted_at is null ${ex.callerCheck(sql)}`)
      return row ? toUser(row) : null
    },

    async getForSession(id, sessionId) {
      if (!isUuid(id) || !isUuid(sessionId)) return null
      const now = nowIso()
      // As in SQLite: the session while live, else the session a refresh rotated it into.
      const [row] = await ex.run((sql) => sql<(UserRow & { live_session_id: string })[]>`
        select u.*, case when s.revoked_at is null then s.id else r.id end as live_session_id
        from sessions s join users u on u.id = s.user_id left join sessions r on r.id = s.replaced_by
        where s.id = ${sessionId} and u.id = ${id} and u.deleted_at is null and not u.disabled
          and ((s.revoked_at is null and s.expires_at > ${now})
            or (r.user_id = s.user_id and r.revoked_at is null and r.expires_at > ${now}))`)
      return row ? { user: toUser(row), sessionId: row.live_session_id } : null
    },

    async list({ limit, cursor }) {
      const after = checkCursor(cursor)
      const rows = await ex.run((sql) => sql<UserRow[]>`
        select * from users
        where deleted_at is null ${after ? sql`and id > ${after}` : sql``} ${ex.callerCheck(sql)}
        order by id asc
        limit ${limit + 1}`)
      return pageOf(rows.map(toUser), limit)
    },

    update(id, patch: UserPatch) {
      const cols: Record<string, string | boolean | null> = {}
      if (patch.name !== undefined) cols.name = patch.name
      if (patch.role !== undefined) cols.role = patch.role
      if (patch.disabled !== undefined) cols.disabled = patch.disabled
      return updateLive(id, cols)
    },

    setPassword(id, passwordHash) {
      return updateLive(id, { password_hash: passwordHash })
    },

    async softDelete(id) {
      const now = nowIso()
      await updateLive(id, { deleted_at: now }, now)
    },

    async changeAccount(id, change, audit) {
      if (!isUuid(id)) throw notFound()
      const now = nowIso()
      const { patch, passwordHash, keepSessionId } = change
      // as update() then setPassword() did: a version for each
      const bump = (Object.values(patch).some((v) => v !== undefined) ? 1 : 0) + (passwordHash ? 1 : 0)
      const keep = keepSessionId && isUuid(keepSessionId) ? keepSessionId : null
      const [row] = await ex.run((sql) => sql<AccountRows[]>`
        with before as (
          select * from users where id = ${id} and deleted_at is null ${ex.callerCheck(sql)}
        ), updated as (
          update users u
          set name = ${patch.name !== undefined ? sql`${patch.name}::text` : sql`u.name`},
              role = coalesce(${patch.role ?? null}::text, u.role),
              disabled = coalesce(${patch.disabled ?? null}::boolean, u.disabled),
              password_hash = coalesce(${passwordHash}::text, u.password_hash),
              updated_at = ${now}, version = u.version + ${bump}
          from before where u.id = before.id
          returning u.*
        ), ${endSessionsOf(sql, change.endSessions, keep, now)},
        logged as (
          insert into audit (id, at, action, actor_id, target_id, ip, details)
          select e.* from (
            ${auditOf(sql, audit.disabled, now)} from before where ${patch.disabled === true} and not before.disabled
            union all
            ${auditOf(sql, audit.updated, now)} from before
          ) as e
          on conflict (id) do nothing
          returning *
        )
        ${accountRowsSelect(sql)}`)
      const written = emitAccountRows(ex, row!)
      if (!written) throw notFound()
      return written
    },

    async disableAccount(id, audit) {
      if (!isUuid(id)) throw notFound()
      const now = nowIso()
      const [row] = await ex.run((sql) => sql<AccountRows[]>`
        with before as (
          select * from users where id = ${id} and deleted_at is null ${ex.callerCheck(sql)}
        ), updated as (
          update users u set disabled = true, updated_at = ${now}, version = u.version + 1
          from before where u.id = before.id
          returning u.*
        ), ${endSessionsOf(sql, true, null, now)},
        logged as (
          insert into audit (id, at, action, actor_id, target_id, ip, details)
          ${auditOf(sql, audit, now)} from before
          on conflict (id) do nothing
          returning *
        )
        ${accountRowsSelect(sql)}`)
      const written = emitAccountRows(ex, row!)
      if (!written) throw notFound()
      return written
    },
  }
}

/** What an account change wrote, one JSON array per table (see rows.ts). */
interface AccountRows {
  users: unknown
  sessions: unknown
  audit: unknown
}

/** `revoked`: the sessions of the updated user ended (when `end`), but `keep` and its replacement. */
const endSessionsOf = (sql: QuerySql, end: boolean, keep: string | null, now: string) => sql`
  revoked as (
    update sessions s set revoked_at = ${now}, updated_at = ${now}, version = s.version + 1
    from updated
    where ${end} and s.user_id = updated.id and s.revoked_at is null
      and s.id is distinct from ${keep}::uuid
      and s.id is distinct from (select replaced_by from sessions where id = ${keep}::uuid)
    returning s.*
  )`

/** The audit row of `event` selected from `before` (the user as it was), its details completed. */
const auditOf = (sql: QuerySql, event: NewAuditEvent, now: string) => sql`
  select ${event.id}::uuid, ${now}::timestamptz, ${event.action}::text, ${event.actorId ?? null}::text, before.id::text,
         ${event.ip ?? null}::text,
         ${sql.json((event.details ?? {}) as postgres.JSONValue)}::jsonb
           || jsonb_build_object('email', before.email, 'sessions_revoked', (select count(*) from revoked))`

const accountRowsSelect = (sql: QuerySql) => sql`
  select (select jsonb_agg(to_jsonb(updated)) from updated) as users,
         (select jsonb_agg(to_jsonb(revoked)) from revoked) as sessions,
         (select jsonb_agg(to_jsonb(logged)) from logged) as audit`

/** Reports what the statement wrote to the mirror; the user as it now stands, or null when there was none. */
function emitAccountRows(ex: PgExecutor, row: AccountRows): AccountWrite | null {
  const [user] = usersFromJson(row.users)
  if (!user) return null
  ex.emit({ table: 'users', row: user })
  for (const session of sessionsFromJson(row.sessions)) ex.emit({ table: 'sessions', row: session })
  const audit = auditFromJson(row.audit)
  for (const event of audit) ex.emit({ table: 'audit', row: event })
  return { user, audit }
}
