import { normalizeEmail, nowIso, StoreError, type NewUser, type User, type UserPatch, type UserRepo } from '../store.ts'
import type { PgExecutor } from './executor.ts'
import { toUser, type UserRow } from './rows.ts'
import { checkCursor, isUuid, pageOf } from './uuid.ts'

const notFound = () => new StoreError('not_found', 'user not found')

export function createUserRepo(ex: PgExecutor): UserRepo {
  const written = (row: UserRow): User => {
    const user = toUser(row)
    ex.emit({ table: 'users', row: user })
    return user
  }

  const newRow = (input: NewUser) => {
    const now = nowIso()
    return {
      id: input.id,
      email: normalizeEmail(input.email),
      name: input.name ?? null,
      role: input.role ?? 'user',
      password_hash: input.passwordHash,
      disabled: input.disabled ?? false,
      created_at: now,
      updated_at: now,
      version: 1,
    }
  }

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
  }
}
