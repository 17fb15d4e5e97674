import { afterEach, describe, expect, setDefaultTimeout, spyOn, test } from 'bun:test'
import { LoginRateLimiter } from '../src/auth/rate-limit.ts'
import { createAccessTokenVerifier, hashRefreshToken, newRefreshToken, signAccessToken, verifyAccessToken } from '../src/auth/tokens.ts'
import { JWT_SECRET_SETTING } from '../src/auth/jwt-secret.ts'
import { newId } from '../src/db/store.ts'
import { ADMIN, appVariants, call, createUser, login, withAdmin, type TestApp } from './helpers/test-app.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

describe('LoginRateLimiter', () => {
  const make = (max = 3, windowMs = 60_000, maxKeys?: number) => {
    let now = 1_000_000
    const limiter = new LoginRateLimiter({ maxFailures: max, windowMs, now: () => now, ...(maxKeys ? { maxKeys } : {}) })
    return { limiter, advance: (ms: number) => void (now += ms) }
  }

  test('allows max-1 failures, blocks at max, and says how long to wait', () => {
    const { limiter, advance } = make(3, 60_000)
    const key = LoginRateLimiter.key('1.2.3.4', 'a@b.c')
    expect(limiter.fail(key)).toBe(false)
    advance(10_000)
    expect(limiter.fail(key)).toBe(false)
    expect(limiter.retryAfterS(key)).toBe(0)
    expect(limiter.fail(key)).toBe(true)
    // The oldest of the last three failures leaves the window 50 s from now.
    expect(limiter.retryAfterS(key)).toBe(50)
  })

  test('the window slides: old failures stop counting', () => {
    const { limiter, advance } = make(2, 60_000)
    const key = 'k'
    limiter.fail(key)
    advance(30_000)
    limiter.fail(key)
    expect(limiter.retryAfterS(key)).toBe(30)
    advance(30_001)
    expect(limiter.retryAfterS(key)).toBe(0)
    expect(limiter.fail(key)).toBe(true)
    advance(60_001)
    expect(limiter.retryAfterS(key)).toBe(0)
    expect(limiter.size).toBe(0)
  })

  test('reset forgets a key; keys are independent', () => {
    const { limiter } = make(1)
    limiter.fail('a')
    expect(limiter.retryAfterS('a')).toBeGreaterThan(0)
    expect(limiter.retryAfterS('b')).toBe(0)
    limiter.reset('a')
    expect(limiter.retryAfterS('a')).toBe(0)
  })

  test('memory stays bounded under a flood of distinct keys', () => {
    const { limiter } = make(5, 60_000, 100)
    for (let i = 0; i < 1_000; i++) limiter.fail(`ip|user${i}@x.y`)
    expect(limiter.size).toBeLessThanOrEqual(100)
    // The most recent keys are the ones remembered.
    limiter.fail('ip|user999@x.y')
    limiter.fail('ip|user999@x.y')
    limiter.fail('ip|user999@x.y')
    expect(limiter.fail('ip|user999@x.y')).toBe(true)
  })
})

describe('tokens', () => {
  const secret = 's'.repeat(40)
  test('refresh tokens: 32 random bytes, base64url; stored as SHA-256 hex', () => {
    const a = newRefreshToken()
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Buffer.from(a, 'base64url').length).toBe(32)
    expect(newRefreshToken()).not.toBe(a)
    expect(hashRefreshToken(a)).toMatch(/^[0-9a-f]{64}$/)
    expect(hashRefreshToken(a)).toBe(new Bun.CryptoHasher('sha256').update(a).digest('hex'))
  })

  test('access tokens carry sub, role, sid, iat, exp and are refused with another key or when expired', async () => {
    const token = await signAccessToken({ userId: 'u1', role: 'admin', sessionId: 's1', ttlS: 900 }, secret)
    const claims = await verifyAccessToken(token, secret)
    expect(claims).toMatchObject({ sub: 'u1', role: 'admin', sid: 's1' })
    if (typeof claims === 'string') throw new Error('unreachable')
    expect(claims.exp - claims.iat).toBe(900)
    expect(await verifyAccessToken(token, 't'.repeat(40))).toBe('invalid')
    const old = await signAccessToken({ userId: 'u1', role: 'user', sessionId: 's1', ttlS: 60, nowS: Math.floor(Date.now() / 1000) - 3600 }, secret)
    expect(await verifyAccessToken(old, secret)).toBe('expired')
    expect(await verifyAccessToken('not.a.jwt', secret)).toBe('invalid')
  })

  test('the remembering verifier: same answers, expiry still enforced, a changed byte verified in full', async () => {
    let now = Math.floor(Date.now() / 1000)
    const verify = createAccessTokenVerifier(secret, () => now)
    const token = await signAccessToken({ userId: 'u1', role: 'user', sessionId: 's1', ttlS: 60, nowS: now }, secret)
    const first = await verify(token)
    expect(first).toMatchObject({ sub: 'u1', role: 'user', sid: 's1' })
    expect(await verify(token)).toEqual(first)
    const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA')
    expect(await verify(tampered)).toBe('invalid')
    expect(await verify(await signAccessToken({ userId: 'u1', role: 'admin', sessionId: 's1', ttlS: 60, nowS: now }, 'x'.repeat(40)))).toBe('invalid')
    now += 61
    expect(await verify(token)).toBe('expired')
    expect(await verify(token)).toBe('expired')
  })
})

for (const variant of await appVariants('auth')) {
  describe(`auth routes on ${variant.name}`, () => {
    const apps: TestApp[] = []
    const build = async (env: Record<string, string> = {}) => {
      const t = await variant.build(withAdmin({ LOGIN_MAX_FAILURES: '3', ...env }))
      apps.push(t)
      return t
    }
    // Each test's apps (and, on PostgreSQL, their databases) go as soon as the test ends.
    afterEach(async () => {
      for (const t of apps.splice(0)) await t.close()
    })

    const auditActions = async (t: TestApp) => (await t.store.audit.list({ limit: 100 })).items.map((e) => e.action)

    describe('login', () => {
      test('the seeded admin logs in and gets the documented token pair', async () => {
        const t = await build()
        const res = await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: ADMIN.email, password: ADMIN.password } })
        expect(res.status).toBe(200)
        expect(res.headers.get('Cache-Control')).toBe('no-store')
        expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, user: { email: ADMIN.email, role: 'admin', name: null } })
        expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type', 'user'])
        expect(Object.keys(res.body.user).sort()).toEqual(['email', 'id', 'name', 'role'])
        expect(res.body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
        const claims = await verifyAccessToken(res.body.access_token, t.jwtSecret)
        expect(claims).toMatchObject({ sub: res.body.user.id, role: 'admin' })
        const session = await t.store.sessions.getByTokenHash(hashRefreshToken(res.body.refresh_token))
        expect(session?.userId).toBe(res.body.user.id)
        expect(typeof claims === 'object' && claims.sid).toBe(session!.id)
        expect(await auditActions(t)).toContain('auth.login')
      })

      test('email is matched trimmed and case-insensitively', async () => {
        const t = await build()
        await login(t.app, `  ${ADMIN.email.toUpperCase()} `, ADMIN.password)
      })

      test('wrong password, unknown email and disabled account answer alike: 401 invalid_credentials', async () => {
        const t = await build()
        const admin = await login(t.app, ADMIN.email, ADMIN.password)
        const user = await createUser(t.app, admin.access, { email: 'dis@example.test', password: 'disabled-pass-1' })
        await call(t.app, 'DELETE', `/api/v1/admin/users/${user.userId}`, { token: admin.access })
        const attempts = [
          { email: ADMIN.email, password: 'not-the-password' },
          { email: 'nobody@example.test', password: 'whatever-pass' },
          { email: 'dis@example.test', password: 'disabled-pass-1' },
        ]
        for (const body of attempts) {
          const res = await call(t.app, 'POST', '/api/v1/auth/login', { body })
          expect(res.status).toBe(401)
          expect(res.body.error.code).toBe('invalid_credentials')
          expect(res.body.error.message).toBe('email or password is incorrect')
        }
        const failed = (await t.store.audit.list({ limit: 100 })).items.filter((e) => e.action === 'auth.login_failed')
        expect(failed.map((e) => e.details?.reason).sort()).toEqual(['disabled', 'unknown_email', 'wrong_password'])
      })

      test('an unknown email still costs one bcrypt verification (no enumeration by timing)', async () => {
        const t = await build()
        const spy = spyOn(Bun.password, 'verify')
        try {
          await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: 'ghost@example.test', password: 'some-password' } })
          expect(spy).toHaveBeenCalledTimes(1)
          const hash = spy.mock.calls[0]![1] as string
          expect(hash.startsWith(`$2b$0${t.config.auth.bcryptCost}$`)).toBe(true)
          spy.mockClear()
          await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: ADMIN.email, password: 'some-password' } })
          expect(spy).toHaveBeenCalledTimes(1)
        } finally {
          spy.mockRestore()
        }
      })
    })

    describe('refresh', () => {
      test('rotates: a new pair each time, the old refresh token stops working', async () => {
        const t = await build()
        const first = await login(t.app, ADMIN.email, ADMIN.password)
        const r1 = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: first.refresh } })
        expect(r1.status).toBe(200)
        expect(r1.body.refresh_token).not.toBe(first.refresh)
        expect(r1.body).toMatchObject({ token_type: 'Bearer', user: { email: ADMIN.email } })
        const me = await call(t.app, 'GET', '/api/v1/auth/me', { token: r1.body.access_token })
        expect(me.status).toBe(200)
        const r2 = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: r1.body.refresh_token } })
        expect(r2.status).toBe(200)
        const old = await t.store.sessions.getByTokenHash(hashRefreshToken(first.refresh))
        expect(old?.revokedAt).not.toBeNull()
        expect(old?.replacedBy).not.toBeNull()
      })

      test('reuse of a rotated token ends every session of the user and is audited', async () => {
        // Without a grace window: presented again at once is reuse (the window: refresh-grace.test.ts).
        const t = await build({ REFRESH_REUSE_GRACE: '0' })
        const a = await login(t.app, ADMIN.email, ADMIN.password)
        const other = await login(t.app, ADMIN.email, ADMIN.password)
        const rotated = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: a.refresh } })
        expect(rotated.status).toBe(200)

        const reuse = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: a.refresh } })
        expect(reuse.status).toBe(401)
        expect(reuse.body.error.code).toBe('unauthorized')
        // The thief's new token and the user's other device are both cut off.
        for (const token of [rotated.body.refresh_token, other.refresh]) {
          expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: token } })).status).toBe(401)
        }
        const events = (await t.store.audit.list({ limit: 100 })).items.filter((e) => e.action === 'auth.refresh_reuse')
        expect(events.length).toBeGreaterThanOrEqual(1)
        expect(events.at(-1)!.targetId).toBe(a.userId)
        expect(JSON.stringify(events)).not.toContain(a.refresh)
        // The password still works: reuse ends sessions, it does not lock the account.
        await login(t.app, ADMIN.email, ADMIN.password)
      })

      test('an expired refresh token is refused', async () => {
        const t = await build()
        const a = await login(t.app, ADMIN.email, ADMIN.password)
        const token = newRefreshToken()
        await t.store.sessions.create({ id: newId(), userId: a.userId, tokenHash: hashRefreshToken(token), expiresAt: new Date(Date.now() - 1000).toISOString() })
        const res = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: token } })
        expect(res.status).toBe(401)
        expect(res.body.error.message).toMatch(/expired/)
      })

      test('an unknown refresh token is 401; a malformed one is 400 naming the field', async () => {
        const t = await build()
        const unknown = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: newRefreshToken() } })
        expect(unknown.status).toBe(401)
        const malformed = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: 'short' } })
        expect(malformed.status).toBe(400)
        expect(malformed.body.error.details[0].field).toBe('refresh_token')
      })

      test('a disabled user cannot refresh', async () => {
        const t = await build()
        const admin = await login(t.app, ADMIN.email, ADMIN.password)
        const user = await createUser(t.app, admin.access, { email: 'soon-off@example.test', password: 'soon-off-pass' })
        // Disable directly in the store (sessions untouched) to prove refresh itself checks the account.
        await t.store.users.update(user.userId, { disabled: true })
        const res = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: user.refresh } })
        expect(res.status).toBe(401)
      })
    })

    describe('access tokens and roles', () => {
      test('401 without a token, with a malformed header, a forged or expired token; 200 with a good one', async () => {
        const t = await build()
        const a = await login(t.app, ADMIN.email, ADMIN.password)
        const forged = await signAccessToken({ userId: a.userId, role: 'admin', sessionId: newId(), ttlS: 900 }, 'x'.repeat(40))
        const expired = await signAccessToken(
          { userId: a.userId, role: 'admin', sessionId: newId(), ttlS: 60, nowS: Math.floor(Date.now() / 1000) - 120 },
          t.jwtSecret,
        )
        const cases: Array<[Record<string, string>, RegExp]> = [
          [{}, /required/],
          [{ Authorization: `Basic ${btoa('a:b')}` }, /Bearer/],
          [{ Authorization: 'Bearer' }, /Bearer/],
          [{ Authorization: 'Bearer not-a-jwt' }, /invalid/],
          [{ Authorization: `Bearer ${forged}` }, /invalid/],
          [{ Authorization: `Bearer ${expired}` }, /expired/],
        ]
        for (const [headers, message] of cases) {
          const res = await call(t.app, 'GET', '/api/v1/auth/me', { headers })
          expect(res.status).toBe(401)
          expect(res.body.error.code).toBe('unauthorized')
          expect(res.body.error.message).toMatch(message)
          expect(res.headers.get('WWW-Authenticate')).toBe('Bearer')
        }
        const me = await call(t.app, 'GET', '/api/v1/auth/me', { headers: { Authorization: `bearer ${a.access}` } })
        expect(me.status).toBe(200)
        expect(Object.keys(me.body.user).sort()).toEqual(['created_at', 'disabled', 'email', 'id', 'name', 'role', 'updated_at'])
      })

      test('admin routes: 401 anonymous, 403 for a user, 200 for an admin', async () => {
        const t = await build()
        const admin = await login(t.app, ADMIN.email, ADMIN.password)
        const user = await createUser(t.app, admin.access, { email: 'plain@example.test', password: 'plain-pass-1' })
        for (const path of ['/api/v1/admin/users', '/api/v1/admin/audit']) {
          expect((await call(t.app, 'GET', path)).status).toBe(401)
          const forbidden = await call(t.app, 'GET', path, { token: user.access })
          expect(forbidden.status).toBe(403)
          expect(forbidden.body.error.code).toBe('forbidden')
          expect((await call(t.app, 'GET', path, { token: admin.access })).status).toBe(200)
        }
      })

      test('the store, not the token, decides: demoted → 403, disabled → 401 with a still-valid token', async () => {
        const t = await build()
        const admin = await login(t.app, ADMIN.email, ADMIN.password)
        const second = await createUser(t.app, admin.access, { email: 'admin2@example.test', password: 'admin2-pass', role: 'admin' })
        expect((await call(t.app, 'GET', '/api/v1/admin/users', { token: second.access })).status).toBe(200)
        await call(t.app, 'PATCH', `/api/v1/admin/users/${second.userId}`, { token: admin.access, body: { role: 'user' } })
        expect((await call(t.app, 'GET', '/api/v1/admin/users', { token: second.access })).status).toBe(403)
        await call(t.app, 'PATCH', `/api/v1/admin/users/${second.userId}`, { token: admin.access, body: { disabled: true } })
        expect((await call(t.app, 'GET', '/api/v1/auth/me', { token: second.access })).status).toBe(401)
      })
    })

    describe('logout', () => {
      test('ends the current session (no body needed) but not the user\'s others', async () => {
        const t = await build()
        const a = await login(t.app, ADMIN.email, ADMIN.password)
        const b = await login(t.app, ADMIN.email, ADMIN.password)
        const out = await call(t.app, 'POST', '/api/v1/auth/logout', { token: a.access })
        expect(out.status).toBe(204)
        expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: a.refresh } })).status).toBe(401)
        // A logged-out token is not "reuse": the other session survives.
        expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: b.refresh } })).status).toBe(200)
        expect(await auditActions(t)).toContain('auth.logout')
        expect(await auditActions(t)).not.toContain('auth.refresh_reuse')
      })

      test('with {refresh_token} ends that session too; another user\'s token is left alone', async () => {
        const t = await build()
        const admin = await login(t.app, ADMIN.email, ADMIN.password)
        const user = await createUser(t.app, admin.access, { email: 'lo@example.test', password: 'logout-pass' })
        const rotated = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: admin.refresh } })
        // The old access token's session was rotated away; the body names the live one.
        const out = await call(t.app, 'POST', '/api/v1/auth/logout', { token: admin.access, body: { refresh_token: rotated.body.refresh_token } })
        expect(out.status).toBe(204)
        expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: rotated.body.refresh_token } })).status).toBe(401)
        // That logout ended the session the rotated access token belongs to: sign in again.
        expect((await call(t.app, 'GET', '/api/v1/auth/me', { token: rotated.body.access_token })).status).toBe(401)
        const again = await login(t.app, ADMIN.email, ADMIN.password)
        const foreign = await call(t.app, 'POST', '/api/v1/auth/logout', { token: again.access, body: { refresh_token: user.refresh } })
        expect(foreign.status).toBe(204)
        expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: user.refresh } })).status).toBe(200)
      })

      test('requires a bearer token', async () => {
        const t = await build()
        expect((await call(t.app, 'POST', '/api/v1/auth/logout')).status).toBe(401)
      })
    })

    describe('password change', () => {
      test('needs the current password; then the new one works, the old one not, other sessions end', async () => {
        const t = await build()
        const here = await login(t.app, ADMIN.email, ADMIN.password)
        const elsewhere = await login(t.app, ADMIN.email, ADMIN.password)
        const wrong = await call(t.app, 'POST', '/api/v1/auth/password', {
          token: here.access,
          body: { current_password: 'not-my-password', new_password: 'brand-new-pass' },
        })
        expect(wrong.status).toBe(401)
        expect(wrong.body.error.code).toBe('invalid_credentials')

        const ok = await call(t.app, 'POST', '/api/v1/auth/password', {
          token: here.access,
          body: { current_password: ADMIN.password, new_password: 'brand-new-pass' },
        })
        expect(ok.status).toBe(204)
        expect((await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: ADMIN.email, password: ADMIN.password } })).status).toBe(401)
        await login(t.app, ADMIN.email, 'brand-new-pass')
        expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: elsewhere.refresh } })).status).toBe(401)
        expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: here.refresh } })).status).toBe(200)
        const user = await t.store.users.getByEmail(ADMIN.email)
        expect(user!.passwordHash.startsWith(`$2b$0${t.config.auth.bcryptCost}$`)).toBe(true)
        expect(await auditActions(t)).toContain('auth.password_changed')
      })

      test('a new password must be 8..72 bytes', async () => {
        const t = await build()
        const a = await login(t.app, ADMIN.email, ADMIN.password)
        for (const new_password of ['short', 'ü'.repeat(37)]) {
          const res = await call(t.app, 'POST', '/api/v1/auth/password', { token: a.access, body: { current_password: ADMIN.password, new_password } })
          expect(res.status).toBe(400)
          expect(res.body.error.details[0].field).toBe('new_password')
        }
        await login(t.app, ADMIN.email, ADMIN.password)
      })
    })

    describe('rate limiting', () => {
      const attempt = (t: TestApp, password: string, headers: Record<string, string> = {}, email = ADMIN.email) =>
        call(t.app, 'POST', '/api/v1/auth/login', { body: { email, password }, headers })

      test('LOGIN_MAX_FAILURES failures → 429 with Retry-After, even for the right password', async () => {
        const t = await build()
        for (let i = 0; i < 3; i++) expect((await attempt(t, 'wrong-password')).status).toBe(401)
        const limited = await attempt(t, ADMIN.password)
        expect(limited.status).toBe(429)
        expect(limited.body.error.code).toBe('rate_limited')
        const retryAfter = Number(limited.headers.get('Retry-After'))
        expect(Number.isInteger(retryAfter)).toBe(true)
        expect(retryAfter).toBeGreaterThan(0)
        expect(retryAfter).toBeLessThanOrEqual(t.config.auth.loginWindowS)
        // Per email: another account from the same address is not affected.
        const other = await attempt(t, 'x-password', {}, 'someone-else@example.test')
        expect(other.status).toBe(401)
      })

      test('parallel guesses get no more tries than sequential ones', async () => {
        const t = await build()
        const burst = await Promise.all(Array.from({ length: 12 }, () => attempt(t, 'parallel-guess')))
        const statuses = burst.map((r) => r.status)
        expect(statuses.filter((s) => s === 401)).toHaveLength(3)
        expect(statuses.filter((s) => s === 429)).toHaveLength(9)
        expect((await attempt(t, ADMIN.password)).status).toBe(429)
      })

      test('a successful login resets the count', async () => {
        const t = await build()
        for (let i = 0; i < 2; i++) expect((await attempt(t, 'wrong-password')).status).toBe(401)
        await login(t.app, ADMIN.email, ADMIN.password)
        for (let i = 0; i < 2; i++) expect((await attempt(t, 'wrong-password')).status).toBe(401)
        await login(t.app, ADMIN.email, ADMIN.password)
      })

      test('without TRUST_PROXY, X-Forwarded-For does not buy new attempts', async () => {
        const t = await build({ TRUST_PROXY: 'false' })
        for (let i = 0; i < 3; i++) await attempt(t, 'wrong-password', { 'X-Forwarded-For': `10.0.0.${i}` })
        expect((await attempt(t, ADMIN.password, { 'X-Forwarded-For': '10.0.0.99' })).status).toBe(429)
        const failed = (await t.store.audit.list({ limit: 100 })).items.filter((e) => e.action === 'auth.login_failed')
        expect(failed.every((e) => e.ip === 'unknown')).toBe(true)
      })

      test('with TRUST_PROXY, the right-most X-Forwarded-For entry (the one our proxy appended) is the client', async () => {
        const t = await build({ TRUST_PROXY: 'true' })
        for (let i = 0; i < 3; i++) await attempt(t, 'wrong-password', { 'X-Forwarded-For': `10.9.9.${i}, 203.0.113.7` })
        expect((await attempt(t, ADMIN.password, { 'X-Forwarded-For': '203.0.113.7' })).status).toBe(429)
        const fresh = await attempt(t, ADMIN.password, { 'X-Forwarded-For': '203.0.113.7, 198.51.100.2' })
        expect(fresh.status).toBe(200)
        const events = (await t.store.audit.list({ limit: 100 })).items
        expect(events.find((e) => e.action === 'auth.login_failed')!.ip).toBe('203.0.113.7')
        expect(events.find((e) => e.action === 'auth.login')!.ip).toBe('198.51.100.2')
      })

      test('wrong current passwords on /password count too', async () => {
        const t = await build()
        const a = await login(t.app, ADMIN.email, ADMIN.password)
        const change = (current_password: string) =>
          call(t.app, 'POST', '/api/v1/auth/password', { token: a.access, body: { current_password, new_password: 'another-pass-1' } })
        for (let i = 0; i < 3; i++) expect((await change('guess-number-x')).status).toBe(401)
        const limited = await change(ADMIN.password)
        expect(limited.status).toBe(429)
        expect(limited.headers.get('Retry-After')).toMatch(/^\d+$/)
      })
    })

    describe('registration', () => {
      test('off by default: 403', async () => {
        const t = await build()
        const res = await call(t.app, 'POST', '/api/v1/auth/register', { body: { email: 'new@example.test', password: 'new-user-pass' } })
        expect(res.status).toBe(403)
        expect(res.body.error.code).toBe('forbidden')
        expect(await t.store.users.getByEmail('new@example.test')).toBeNull()
      })

      test('with ALLOW_REGISTRATION=true: 201 {user} as role user, then login; a taken email is 409', async () => {
        const t = await build({ ALLOW_REGISTRATION: 'true' })
        const res = await call(t.app, 'POST', '/api/v1/auth/register', { body: { email: 'New@Example.test', password: 'new-user-pass', name: 'Nia' } })
        expect(res.status).toBe(201)
        expect(res.body.user).toMatchObject({ email: 'new@example.test', name: 'Nia', role: 'user', disabled: false })
        expect(res.body.user.password_hash).toBeUndefined()
        await login(t.app, 'new@example.test', 'new-user-pass')
        for (const email of ['new@example.test', 'NEW@example.TEST', ADMIN.email]) {
          const again = await call(t.app, 'POST', '/api/v1/auth/register', { body: { email, password: 'new-user-pass' } })
          expect(again.status).toBe(409)
          expect(again.body.error.code).toBe('conflict')
        }
        expect(await auditActions(t)).toContain('auth.register')
        // A registration cannot choose its role.
        const sneaky = await call(t.app, 'POST', '/api/v1/auth/register', { body: { email: 'x@example.test', password: 'new-user-pass', role: 'admin' } })
        expect(sneaky.status).toBe(400)
        expect(sneaky.body.error.details[0].field).toBe('(body)')
      })
    })

    describe('JWT secret', () => {
      test('without JWT_SECRET a generated one is kept in settings, with a WARN that never shows it', async () => {
        const t = await build()
        const stored = await t.store.settings.get(JWT_SECRET_SETTING)
        expect(stored).toBe(t.jwtSecret)
        expect(Buffer.from(stored!, 'base64url').length).toBe(48)
        const warn = t.logLines.map((l) => JSON.parse(l)).find((l) => l.level === 'warn' && /JWT_SECRET/.test(l.msg))
        expect(warn).toBeDefined()
        expect(t.logLines.join('\n')).not.toContain(stored!)
      })

      test('JWT_SECRET is used as is and nothing is stored', async () => {
        const secret = `configured-${'k'.repeat(40)}`
        const t = await build({ JWT_SECRET: secret })
        expect(t.jwtSecret).toBe(secret)
        expect(await t.store.settings.get(JWT_SECRET_SETTING)).toBeNull()
        const a = await login(t.app, ADMIN.email, ADMIN.password)
        expect(await verifyAccessToken(a.access, secret)).toMatchObject({ sub: a.userId })
      })
    })

    test('no password, hash or token reaches the log or the audit trail', async () => {
      const t = await build({ ALLOW_REGISTRATION: 'true' })
      const a = await login(t.app, ADMIN.email, ADMIN.password)
      await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: ADMIN.email, password: 'wrong-password-zz' } })
      await call(t.app, 'POST', '/api/v1/auth/register', { body: { email: 'reg@example.test', password: 'registered-pw-1' } })
      const r = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: a.refresh } })
      await call(t.app, 'POST', '/api/v1/auth/password', { token: r.body.access_token, body: { current_password: ADMIN.password, new_password: 'changed-pw-0001' } })
      await call(t.app, 'POST', '/api/v1/auth/logout', { token: r.body.access_token, body: { refresh_token: r.body.refresh_token } })
      const hash = (await t.store.users.getByEmail(ADMIN.email))!.passwordHash
      const audit = JSON.stringify((await t.store.audit.list({ limit: 100 })).items)
      const logs = t.logLines.join('\n')
      for (const secret of [ADMIN.password, 'wrong-password-zz', 'registered-pw-1', 'changed-pw-0001', a.refresh, a.access, r.body.refresh_token, r.body.access_token, hash, t.jwtSecret]) {
        expect(logs).not.toContain(secret)
        expect(audit).not.toContain(secret)
      }
      for (const action of ['auth.login', 'auth.login_failed', 'auth.register', 'auth.password_changed', 'auth.logout']) {
        expect(audit).toContain(action)
        expect(logs).toContain(action)
      }
    })
  })
}
