import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { newId } from '../src/db/store.ts'
import { ADMIN, appVariants, call, createUser, login, withAdmin, type LoggedIn, type TestApp } from './helpers/test-app.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

for (const variant of await appVariants('admin-users')) {
  describe(`admin user management on ${variant.name}`, () => {
    let t: TestApp
    let admin: LoggedIn
    let n = 0
    const email = () => `member${++n}@example.test`

    beforeAll(async () => {
      t = await variant.build(withAdmin())
      admin = await login(t.app, ADMIN.email, ADMIN.password)
    })
    afterAll(async () => {
      await t?.close()
    })

    const auditFor = async (targetId: string) =>
      (await t.store.audit.list({ limit: 100 })).items.filter((e) => e.targetId === targetId)

    test('create: 201 {user}, role user by default, the user can log in; duplicate email 409', async () => {
      const address = email()
      const res = await call(t.app, 'POST', '/api/v1/admin/users', { token: admin.access, body: { email: address.toUpperCase(), password: 'member-pass-1', name: ' Mo ' } })
      expect(res.status).toBe(201)
      expect(res.body.user).toMatchObject({ email: address, name: 'Mo', role: 'user', disabled: false })
      expect(Object.keys(res.body.user).sort()).toEqual(['created_at', 'disabled', 'email', 'id', 'name', 'role', 'updated_at'])
      await login(t.app, address, 'member-pass-1')
      const dup = await call(t.app, 'POST', '/api/v1/admin/users', { token: admin.access, body: { email: address, password: 'member-pass-2' } })
      expect(dup.status).toBe(409)
      const created = (await auditFor(res.body.user.id)).find((e) => e.action === 'admin.user_created')
      expect(created).toMatchObject({ action: 'admin.user_created', actorId: admin.userId })
      expect(JSON.stringify(created)).not.toContain('member-pass-1')
    })

    test('create with role admin gives an admin', async () => {
      const address = email()
      const res = await call(t.app, 'POST', '/api/v1/admin/users', { token: admin.access, body: { email: address, password: 'admin-two-pass', role: 'admin' } })
      expect(res.body.user.role).toBe('admin')
      const second = await login(t.app, address, 'admin-two-pass')
      expect((await call(t.app, 'GET', '/api/v1/admin/users', { token: second.access })).status).toBe(200)
    })

    test('GET /users/:id; unknown id 404', async () => {
      const u = await createUser(t.app, admin.access, { email: email(), password: 'member-pass-1' })
      const res = await call(t.app, 'GET', `/api/v1/admin/users/${u.userId}`, { token: admin.access })
      expect(res.status).toBe(200)
      expect(res.body.user.id).toBe(u.userId)
      expect((await call(t.app, 'GET', `/api/v1/admin/users/${newId()}`, { token: admin.access })).status).toBe(404)
      expect((await call(t.app, 'PATCH', `/api/v1/admin/users/${newId()}`, { token: admin.access, body: { name: 'x' } })).status).toBe(404)
      expect((await call(t.app, 'DELETE', `/api/v1/admin/users/${newId()}`, { token: admin.access })).status).toBe(404)
    })

    test('list: oldest first, paged by cursor, every user once', async () => {
      for (let i = 0; i < 4; i++) await createUser(t.app, admin.access, { email: email(), password: 'member-pass-1' })
      const ids: string[] = []
      let cursor: string | null = null
      do {
        const res: Awaited<ReturnType<typeof call>> = await call(t.app, 'GET', `/api/v1/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: admin.access })
        expect(res.status).toBe(200)
        expect(res.body.items.length).toBeLessThanOrEqual(2)
        ids.push(...res.body.items.map((u: { id: string }) => u.id))
        cursor = res.body.next_cursor
      } while (cursor)
      expect(ids).toEqual([...ids].sort())
      expect(new Set(ids).size).toBe(ids.length)
      expect(ids[0]).toBe(admin.userId)
      const all = await t.store.users.list({ limit: 100 })
      expect(ids).toEqual(all.items.map((u) => u.id))
      for (const u of (await call(t.app, 'GET', '/api/v1/admin/users?limit=100', { token: admin.access })).body.items) {
        expect(u.password_hash).toBeUndefined()
        expect(u.passwordHash).toBeUndefined()
      }
    })

    test('PATCH name and role; the change is audited with its fields', async () => {
      const u = await createUser(t.app, admin.access, { email: email(), password: 'member-pass-1' })
      const res = await call(t.app, 'PATCH', `/api/v1/admin/users/${u.userId}`, { token: admin.access, body: { name: 'Renamed', role: 'admin' } })
      expect(res.status).toBe(200)
      expect(res.body.user).toMatchObject({ name: 'Renamed', role: 'admin' })
      const cleared = await call(t.app, 'PATCH', `/api/v1/admin/users/${u.userId}`, { token: admin.access, body: { name: null } })
      expect(cleared.body.user.name).toBeNull()
      const updates = (await auditFor(u.userId)).filter((e) => e.action === 'admin.user_updated')
      expect(updates.map((e) => e.details?.fields)).toContainEqual(['name', 'role'])
    })

    test('PATCH password: the new one works, the old not, and old sessions end', async () => {
      const address = email()
      const u = await createUser(t.app, admin.access, { email: address, password: 'member-pass-1' })
      const res = await call(t.app, 'PATCH', `/api/v1/admin/users/${u.userId}`, { token: admin.access, body: { password: 'set-by-admin-1' } })
      expect(res.status).toBe(200)
      expect((await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: address, password: 'member-pass-1' } })).status).toBe(401)
      await login(t.app, address, 'set-by-admin-1')
      expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: u.refresh } })).status).toBe(401)
      const audit = JSON.stringify(await auditFor(u.userId))
      expect(audit).toContain('"password"')
      expect(audit).not.toContain('set-by-admin-1')
      expect(t.logLines.join('\n')).not.toContain('set-by-admin-1')
    })

    test('DELETE disables: 204, login refused, sessions ended, audited; PATCH disabled:false re-enables', async () => {
      const address = email()
      const u = await createUser(t.app, admin.access, { email: address, password: 'member-pass-1' })
      const note = await call(t.app, 'POST', '/api/v1/notes', { token: u.access, body: { title: 'kept', body: '' } })
      expect((await call(t.app, 'DELETE', `/api/v1/admin/users/${u.userId}`, { token: admin.access })).status).toBe(204)
      expect((await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: address, password: 'member-pass-1' } })).status).toBe(401)
      expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: u.refresh } })).status).toBe(401)
      expect((await call(t.app, 'GET', '/api/v1/auth/me', { token: u.access })).status).toBe(401)
      const shown = await call(t.app, 'GET', `/api/v1/admin/users/${u.userId}`, { token: admin.access })
      expect(shown.body.user.disabled).toBe(true)
      expect((await auditFor(u.userId)).map((e) => e.action)).toContain('admin.user_disabled')

      const back = await call(t.app, 'PATCH', `/api/v1/admin/users/${u.userId}`, { token: admin.access, body: { disabled: false } })
      expect(back.body.user.disabled).toBe(false)
      const again = await login(t.app, address, 'member-pass-1')
      // Disabling never erased anything: the note is still there.
      expect((await call(t.app, 'GET', `/api/v1/notes/${note.body.id}`, { token: again.access })).status).toBe(200)
    })

    test('PATCH disabled:true is audited as admin.user_disabled too', async () => {
      const u = await createUser(t.app, admin.access, { email: email(), password: 'member-pass-1' })
      await call(t.app, 'PATCH', `/api/v1/admin/users/${u.userId}`, { token: admin.access, body: { disabled: true } })
      expect((await auditFor(u.userId)).map((e) => e.action)).toEqual(expect.arrayContaining(['admin.user_disabled', 'admin.user_updated']))
      expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: u.refresh } })).status).toBe(401)
    })

    test('an admin cannot disable or demote themselves (409); renaming themselves is fine', async () => {
      for (const [method, body] of [['DELETE', undefined], ['PATCH', { disabled: true }], ['PATCH', { role: 'user' }]] as const) {
        const res = await call(t.app, method, `/api/v1/admin/users/${admin.userId}`, { token: admin.access, ...(body ? { body } : {}) })
        expect(res.status).toBe(409)
        expect(res.body.error.code).toBe('conflict')
      }
      const me = await call(t.app, 'GET', '/api/v1/auth/me', { token: admin.access })
      expect(me.body.user).toMatchObject({ role: 'admin', disabled: false })
      expect((await call(t.app, 'PATCH', `/api/v1/admin/users/${admin.userId}`, { token: admin.access, body: { name: 'Root' } })).status).toBe(200)
    })

    test('audit: newest first, paged, snake_case, covering auth and admin actions', async () => {
      const u = await createUser(t.app, admin.access, { email: email(), password: 'member-pass-1' })
      await call(t.app, 'POST', '/api/v1/auth/logout', { token: u.access })
      const first = await call(t.app, 'GET', '/api/v1/admin/audit?limit=2', { token: admin.access })
      expect(first.status).toBe(200)
      expect(first.body.items).toHaveLength(2)
      expect(Object.keys(first.body.items[0]).sort()).toEqual(['action', 'actor_id', 'at', 'details', 'id', 'ip', 'target_id'])
      expect(first.body.items[0]).toMatchObject({ action: 'auth.logout', actor_id: u.userId })
      const ids: string[] = []
      let cursor: string | null = null
      do {
        const res: Awaited<ReturnType<typeof call>> = await call(t.app, 'GET', `/api/v1/admin/audit?limit=7${cursor ? `&cursor=${cursor}` : ''}`, { token: admin.access })
        ids.push(...res.body.items.map((e: { id: string }) => e.id))
        cursor = res.body.next_cursor
      } while (cursor)
      expect(ids).toEqual([...ids].sort().reverse())
      const actions = new Set((await t.store.audit.list({ limit: 100 })).items.map((e) => e.action))
      for (const a of ['seed.account_created', 'auth.login', 'admin.user_created', 'auth.logout']) expect(actions.has(a)).toBe(true)
    })
  })
}
