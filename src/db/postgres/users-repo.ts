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
      const [row] = await ex.run((sql) => sql<UserRow[]>`select * from users where id = ${id} and deleted_at is null`)
      return row ? toUser(row) : null
    },

    async list({ limit, cursor }) {
      const after = checkCursor(cursor)
      const rows = await ex.run((sql) => sql<UserRow[]>`
        select * from users
        where deleted_at is null ${after ? sql`and id > ${after}` : sql``}
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
