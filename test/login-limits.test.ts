// Issue 17, items 2 and 6: the login limit counts the address our proxy saw (not the spoofable start of
// X-Forwarded-For), a separate per-account budget stops guessing from rotating addresses, and a flood
// of failures for random emails cannot evict a locked victim.
import { afterEach, describe, expect, test } from 'bun:test'
import { Hono } from 'hono'
import { clientIp } from '../src/auth/client-ip.ts'
import { LoginRateLimiter } from '../src/auth/rate-limit.ts'
import { ADMIN, appVariants, call, withAdmin, type TestApp } from './helpers/test-app.ts'

describe('clientIp', () => {
  const ipOf = async (trust: { trustProxy: boolean; trustedProxyHops: number }, xff?: string) => {
    const app = new Hono()
    app.get('/', (c) => c.text(clientIp(c, trust)))
    const res = await app.request('/', xff === undefined ? {} : { headers: { 'X-Forwarded-For': xff } })
    return res.text()
  }

  test('one trusted proxy: the right-most entry, whatever the client wrote before it', async () => {
    const trust = { trustProxy: true, trustedProxyHops: 1 }
    expect(await ipOf(trust, '198.51.100.7')).toBe('198.51.100.7')
    expect(await ipOf(trust, '203.0.113.1, 10.0.0.1, 198.51.100.7')).toBe('198.51.100.7')
    expect(await ipOf(trust, ' 203.0.113.1 ,198.51.100.7 ')).toBe('198.51.100.7')
  })

  test('TRUSTED_PROXY_HOPS=2: the entry the outer proxy appended, second from the right', async () => {
    const trust = { trustProxy: true, trustedProxyHops: 2 }
    expect(await ipOf(trust, '203.0.113.1, 198.51.100.7, 10.0.0.2')).toBe('198.51.100.7')
    // Fewer entries than trusted hops: the header did not come through both proxies; not believed.
    expect(await ipOf(trust, '203.0.113.1')).toBe('unknown')
  })

  test('without TRUST_PROXY the header is ignored (the socket address; none under app.request)', async () => {
    expect(await ipOf({ trustProxy: false, trustedProxyHops: 1 }, '203.0.113.1')).toBe('unknown')
    expect(await ipOf({ trustProxy: true, trustedProxyHops: 1 })).toBe('unknown')
  })
})

describe('LoginRateLimiter eviction', () => {
  test('10,050 failures for random emails from one address do not unlock a locked victim', () => {
    let now = 1_000_000
    const limiter = new LoginRateLimiter({ maxFailures: 10, windowMs: 15 * 60_000, now: () => now })
    const victim = LoginRateLimiter.key('198.51.100.7', 'victim@example.test')
    for (let i = 0; i < 10; i++) limiter.fail(victim)
    const wait = limiter.retryAfterS(victim)
    expect(wait).toBeGreaterThan(0)
    for (let i = 0; i < 10_050; i++) {
      now += 1
      limiter.fail(LoginRateLimiter.key('203.0.113.9', `random-${i}@example.test`))
    }
    expect(limiter.retryAfterS(victim)).toBeGreaterThan(0)
    // Memory stays bounded: at most maxKeys counting plus maxKeys locked.
    expect(limiter.size).toBeLessThanOrEqual(20_000)
  })

  test('a full lock table refuses keys it does not know until a lock ends; it never drops a live lock', () => {
    let now = 0
    const limiter = new LoginRateLimiter({ maxFailures: 1, windowMs: 60_000, maxKeys: 10, now: () => now })
    for (let i = 0; i < 10; i++) {
      limiter.fail(`k${i}`)
      now += 1000
    }
    expect(limiter.fail('k10')).toBe(true)
    for (let i = 0; i <= 10; i++) expect(limiter.retryAfterS(`k${i}`)).toBeGreaterThan(0)
    expect(limiter.retryAfterS('newcomer')).toBeGreaterThan(0)
    expect(limiter.size).toBeLessThanOrEqual(20)
    now += 51_000 // k0's lock has ended: room again
    expect(limiter.retryAfterS('newcomer')).toBe(0)
    expect(limiter.retryAfterS('k9')).toBeGreaterThan(0)
  })

  test('undo takes back the latest failure, unlocking a key that this failure had locked', () => {
    const limiter = new LoginRateLimiter({ maxFailures: 2, windowMs: 60_000, maxKeys: 5, now: () => 0 })
    limiter.fail('a')
    expect(limiter.fail('a')).toBe(true)
    limiter.undo('a')
    expect(limiter.retryAfterS('a')).toBe(0)
    expect(limiter.fail('a')).toBe(true)
    limiter.undo('a')
    limiter.undo('a')
    limiter.undo('a')
    expect(limiter.size).toBe(0)
  })

  test('a lock ends when its window does, and the allowance comes back', () => {
    let now = 0
    const limiter = new LoginRateLimiter({ maxFailures: 2, windowMs: 60_000, maxKeys: 5, now: () => now })
    limiter.fail('a')
    limiter.fail('a')
    expect(limiter.retryAfterS('a')).toBe(60)
    now += 60_001
    expect(limiter.retryAfterS('a')).toBe(0)
    expect(limiter.fail('a')).toBe(false)
  })
})

for (const variant of await appVariants('login limits')) {
  describe(`login limits on ${variant.name}`, () => {
    const apps: TestApp[] = []
    const build = async (env: Record<string, string>) => {
      const t = await variant.build(withAdmin({ LOGIN_MAX_FAILURES: '5', TRUST_PROXY: 'true', ...env }))
      apps.push(t)
      return t
    }
    afterEach(async () => {
      for (const t of apps.splice(0)) await t.close()
    })
    // What reaches us through one proxy: whatever the client sent, then the address the proxy saw.
    const viaProxy = (clientSent: string | null, seen: string) => ({ 'X-Forwarded-For': clientSent ? `${clientSent}, ${seen}` : seen })
    const attempt = (t: TestApp, password: string, headers: Record<string, string>) =>
      call(t.app, 'POST', '/api/v1/auth/login', { body: { email: ADMIN.email, password }, headers })

    test('25 wrong passwords, each with a new forged X-Forwarded-For, are limited by the address the proxy saw', async () => {
      const t = await build({ LOGIN_ACCOUNT_MAX_FAILURES: '1000' })
      const statuses: number[] = []
      for (let i = 0; i < 25; i++) statuses.push((await attempt(t, 'wrong-password', viaProxy(`203.0.113.${i}`, '192.0.2.66'))).status)
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401])
      expect(statuses.slice(5).every((s) => s === 429)).toBe(true)
      // The audit trail names the real address, never the forged one.
      const failed = (await t.store.audit.list({ limit: 100 })).items.filter((e) => e.action === 'auth.login_failed')
      expect(failed.length).toBe(5)
      expect(failed.every((e) => e.ip === '192.0.2.66')).toBe(true)
    })

    test("an attacker sending the victim's address in the header does not lock the victim out", async () => {
      const t = await build({ LOGIN_ACCOUNT_MAX_FAILURES: '1000' })
      for (let i = 0; i < 10; i++) await attempt(t, 'wrong-password', viaProxy('198.51.100.7', '192.0.2.66'))
      expect((await attempt(t, ADMIN.password, viaProxy(null, '198.51.100.7'))).status).toBe(200)
    })

    test("the owner signing in meanwhile does not refill a guesser's per-account budget", async () => {
      const t = await build({ LOGIN_ACCOUNT_MAX_FAILURES: '6' })
      for (let i = 0; i < 4; i++) expect((await attempt(t, 'wrong-password', viaProxy(null, `192.0.2.${i}`))).status).toBe(401)
      expect((await attempt(t, ADMIN.password, viaProxy(null, '198.51.100.7'))).status).toBe(200)
      expect((await attempt(t, 'wrong-password', viaProxy(null, '192.0.2.10'))).status).toBe(401)
      expect((await attempt(t, 'wrong-password', viaProxy(null, '192.0.2.11'))).status).toBe(401)
      expect((await attempt(t, 'wrong-password', viaProxy(null, '192.0.2.12'))).status).toBe(429)
    })

    test('rotating real addresses: the per-account budget stops the guessing, even for the right password', async () => {
      const t = await build({ LOGIN_ACCOUNT_MAX_FAILURES: '8' })
      const statuses: number[] = []
      for (let i = 0; i < 12; i++) statuses.push((await attempt(t, 'wrong-password', viaProxy(null, `192.0.2.${i}`))).status)
      expect(statuses.slice(0, 8).every((s) => s === 401)).toBe(true)
      expect(statuses.slice(8).every((s) => s === 429)).toBe(true)
      const limited = await attempt(t, ADMIN.password, viaProxy(null, '192.0.2.200'))
      expect(limited.status).toBe(429)
      expect(limited.headers.get('Retry-After')).toMatch(/^\d+$/)
      // Another account is not affected.
      const other = await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: 'other@example.test', password: 'whatever-123' }, headers: viaProxy(null, '192.0.2.201') })
      expect(other.status).toBe(401)
    })
  })
}
