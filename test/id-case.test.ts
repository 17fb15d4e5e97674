// Issue 17, items 4 and 5: an upper-cased id or cursor means the same thing as the lower-cased one on
// both databases, so an admin cannot slip past the self-protection and an answer does not change at a
// failover.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ADMIN, appVariants, call, createUser, login, withAdmin, type LoggedIn, type TestApp } from './helpers/test-app.ts'

for (const variant of await appVariants('id case')) {
  describe(`ids and cursors in upper case on ${variant.name}`, () => {
    let t: TestApp
    let admin: LoggedIn
    let alice: LoggedIn

    beforeAll(async () => {
      t = await variant.build(withAdmin())
      admin = await login(t.app, ADMIN.email, ADMIN.password)
      alice = await createUser(t.app, admin.access, { email: 'alice@example.test', password: 'alice-pass-1' })
    })
    afterAll(async () => {
      await t?.close()
    })

    test('an admin cannot demote, disable or delete themselves through an upper-cased own id', async () => {
      const own = admin.userId.toUpperCase()
      expect(own).not.toBe(admin.userId)
      for (const body of [{ role: 'user' }, { disabled: true }]) {
        const res = await call(t.app, 'PATCH', `/api/v1/admin/users/${own}`, { token: admin.access, body })
        expect(res.status).toBe(409)
        expect(res.body.error.code).toBe('conflict')
      }
      const del = await call(t.app, 'DELETE', `/api/v1/admin/users/${own}`, { token: admin.access })
      expect(del.status).toBe(409)
      const me = await call(t.app, 'GET', '/api/v1/auth/me', { token: admin.access })
      expect(me.body.user).toMatchObject({ role: 'admin', disabled: false })
    })

    test('another user addressed in upper case is found, and answers with the lower-case id', async () => {
      const res = await call(t.app, 'GET', `/api/v1/admin/users/${alice.userId.toUpperCase()}`, { token: admin.access })
      expect(res.status).toBe(200)
      expect(res.body.user.id).toBe(alice.userId)
    })

    test('a note addressed in upper case: get, patch and delete reach it', async () => {
      const created = await call(t.app, 'POST', '/api/v1/notes', { token: alice.access, body: { title: 'case', body: 'x' } })
      const upper = String(created.body.id).toUpperCase()
      const got = await call(t.app, 'GET', `/api/v1/notes/${upper}`, { token: alice.access })
      expect(got.status).toBe(200)
      expect(got.body.id).toBe(created.body.id)
      const patched = await call(t.app, 'PATCH', `/api/v1/notes/${upper}`, { token: alice.access, body: { body: 'y' } })
      expect(patched.status).toBe(200)
      expect(patched.body.version).toBe(2)
      expect((await call(t.app, 'DELETE', `/api/v1/notes/${upper}`, { token: alice.access })).status).toBe(204)
      expect((await call(t.app, 'GET', `/api/v1/notes/${created.body.id}`, { token: alice.access })).status).toBe(404)
    })

    test('an upper-cased cursor returns the same page as the lower-case one', async () => {
      const bob = await createUser(t.app, admin.access, { email: 'bob@example.test', password: 'bob-pass-12' })
      for (let i = 0; i < 5; i++) await call(t.app, 'POST', '/api/v1/notes', { token: bob.access, body: { title: `n${i}`, body: '' } })
      const first = await call(t.app, 'GET', '/api/v1/notes?limit=2', { token: bob.access })
      const cursor = first.body.next_cursor as string
      expect(cursor).toMatch(/[a-f]/)
      const lower = await call(t.app, 'GET', `/api/v1/notes?limit=2&cursor=${cursor}`, { token: bob.access })
      const upper = await call(t.app, 'GET', `/api/v1/notes?limit=2&cursor=${cursor.toUpperCase()}`, { token: bob.access })
      expect(upper.status).toBe(200)
      expect(upper.body).toEqual(lower.body)
      expect(lower.body.items.length).toBe(2)
    })
  })
}
