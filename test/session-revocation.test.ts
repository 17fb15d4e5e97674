// Issue 17, item 1: an access token is refused as soon as its session is ended — by logout, a password
// change, an admin reset, refresh-token reuse or SEED_RESET_PASSWORDS — or has expired, on SQLite, on
// PostgreSQL, and on SQLite after a failover.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { signAccessToken } from '../src/auth/tokens.ts'
import { loadConfig } from '../src/config.ts'
import { newId } from '../src/db/store.ts'
import { seedAccounts } from '../src/seed.ts'
import { ADMIN, appVariants, call, createUser, login, TEST_ENV_DEFAULTS, withAdmin, type LoggedIn, type TestApp } from './helpers/test-app.ts'

for (const variant of await appVariants('session revocation')) {
  describe(`ended sessions on ${variant.name}`, () => {
    let t: TestApp
    let admin: LoggedIn
    let n = 0

    beforeAll(async () => {
      // No refresh grace window here: a token presented again is reuse at once (the window: refresh-grace.test.ts).
      t = await variant.build(withAdmin({ REFRESH_REUSE_GRACE: '0' }))
      admin = await login(t.app, ADMIN.email, ADMIN.password)
    })
    afterAll(async () => {
      await t?.close()
    })

    const user = async () => {
      const email = `user${++n}@example.test`
      const password = 'user-pass-123'
      return { email, password, session: await createUser(t.app, admin.access, { email, password }) }
    }
    const me = (token: string) => call(t.app, 'GET', '/api/v1/auth/me', { token })
    const createNote = (token: string) => call(t.app, 'POST', '/api/v1/notes', { token, body: { title: 't', body: '' } })

    test('after logout the same access token gets 401 on /me and on POST /notes', async () => {
      const { session } = await user()
      expect((await me(session.access)).status).toBe(200)
      expect((await call(t.app, 'POST', '/api/v1/auth/logout', { token: session.access })).status).toBe(204)
      const after = await me(session.access)
      expect(after.status).toBe(401)
      expect(after.body.error.message).toContain('session has ended')
      expect((await createNote(session.access)).status).toBe(401)
    })

    test('a password change ends the other sessions at once; the session that changed it goes on', async () => {
      const { email, password, session: first } = await user()
      const second = await login(t.app, email, password)
      const res = await call(t.app, 'POST', '/api/v1/auth/password', { token: first.access, body: { current_password: password, new_password: 'new-pass-4567' } })
      expect(res.status).toBe(204)
      expect((await me(second.access)).status).toBe(401)
      expect((await createNote(second.access)).status).toBe(401)
      expect((await me(first.access)).status).toBe(200)
    })

    test('an admin setting the password ends every session of the user', async () => {
      const { session } = await user()
      const res = await call(t.app, 'PATCH', `/api/v1/admin/users/${session.userId}`, { token: admin.access, body: { password: 'reset-pass-890' } })
      expect(res.status).toBe(200)
      expect((await me(session.access)).status).toBe(401)
    })

    test('refresh-token reuse ends every session, the access tokens included', async () => {
      const { email, password, session } = await user()
      const other = await login(t.app, email, password)
      const rotated = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } })
      expect(rotated.status).toBe(200)
      // The token issued before the refresh stays good while the session it was rotated into is live.
      expect((await me(session.access)).status).toBe(200)
      expect((await me(rotated.body.access_token)).status).toBe(200)
      const reuse = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } })
      expect(reuse.status).toBe(401)
      for (const token of [session.access, rotated.body.access_token, other.access]) expect((await me(token)).status).toBe(401)
    })

    test('logout with a token issued before a refresh ends the session it was rotated into', async () => {
      const { session } = await user()
      const rotated = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } })
      expect((await call(t.app, 'POST', '/api/v1/auth/logout', { token: session.access })).status).toBe(204)
      expect((await me(rotated.body.access_token)).status).toBe(401)
      expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: rotated.body.refresh_token } })).status).toBe(401)
    })

    test('a token whose session has expired is refused', async () => {
      const { session } = await user()
      const expired = await t.store.sessions.create({ id: newId(), userId: session.userId, tokenHash: 'e'.repeat(64), expiresAt: '2001-01-01T00:00:00.000Z' })
      const token = await signAccessToken({ userId: session.userId, role: 'user', sessionId: expired.id, ttlS: 900 }, t.jwtSecret)
      expect((await me(token)).status).toBe(401)
    })

    test('a token naming a session that does not exist is refused', async () => {
      const { session } = await user()
      const token = await signAccessToken({ userId: session.userId, role: 'user', sessionId: newId(), ttlS: 900 }, t.jwtSecret)
      expect((await me(token)).status).toBe(401)
    })

    test('SEED_RESET_PASSWORDS ends the seeded account’s sessions', async () => {
      const seededAdmin = await login(t.app, ADMIN.email, ADMIN.password)
      expect((await me(seededAdmin.access)).status).toBe(200)
      const config = loadConfig({
        env: { ...TEST_ENV_DEFAULTS, ...withAdmin({ SEED_ADMIN_PASSWORD: 'a-new-admin-pass', SEED_RESET_PASSWORDS: 'true' }) },
        secretsPath: '/nonexistent/secrets',
        isTTY: false,
      })
      const result = await seedAccounts({ store: t.store, config, logger: t.deps.logger })
      expect(result.reset).toEqual([ADMIN.email])
      expect((await me(seededAdmin.access)).status).toBe(401)
      admin = await login(t.app, ADMIN.email, 'a-new-admin-pass')
      // Put the password back for the tests that follow.
      await seedAccounts({ store: t.store, config: loadConfig({ env: { ...TEST_ENV_DEFAULTS, ...withAdmin({ SEED_RESET_PASSWORDS: 'true' }) }, secretsPath: '/nonexistent/secrets', isTTY: false }), logger: t.deps.logger })
      admin = await login(t.app, ADMIN.email, ADMIN.password)
    })

    if (variant.name === 'postgresql') {
      test('after a failover to SQLite, logout still ends the token (the check runs on whichever database answers)', async () => {
        const { session } = await user()
        await t.store.mirrored()
        await t.store.switchToFallback()
        expect(t.store.kind).toBe('sqlite')
        expect((await me(session.access)).status).toBe(200)
        expect((await call(t.app, 'POST', '/api/v1/auth/logout', { token: session.access })).status).toBe(204)
        expect((await me(session.access)).status).toBe(401)
        await t.store.switchToPrimary()
        expect(t.store.kind).toBe('postgresql')
        expect((await me(session.access)).status).toBe(401)
      })
    }
  })
}
