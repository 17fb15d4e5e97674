// Issue 17, item 8: the smaller ones. A refresh token sent twice at once gets the same new pair (within
// REFRESH_REUSE_GRACE) instead of signing the client out; reuse after the window still ends every
// session. Two backups in one millisecond get two files. A taken email at registration answers 409 (the
// documented trade-off).
import { afterEach, describe, expect, test } from 'bun:test'
import { createApp } from '../src/app.ts'
import { RefreshGrace } from '../src/auth/refresh-grace.ts'
import { ADMIN, appVariants, call, login, withAdmin, type TestApp } from './helpers/test-app.ts'

/** Resolves once the wall clock has passed `at` (ms): waits for the condition, asserts nothing on time. */
async function clockPast(at: number): Promise<void> {
  while (Date.now() <= at) await Bun.sleep(Math.max(1, at - Date.now() + 1))
}

describe('RefreshGrace', () => {
  test('one rotation per token within the window; a failed rotation is not kept; memory is bounded', async () => {
    let now = 0
    const grace = new RefreshGrace<number>(10_000, () => now)
    let rotations = 0
    const rotate = async () => ++rotations
    const [a, b] = await Promise.all([grace.answer('t', rotate), grace.answer('t', rotate)])
    expect([a, b]).toEqual([1, 1])
    now += 9_999
    expect(await grace.answer('t', rotate)).toBe(1)
    now += 2
    expect(await grace.answer('t', rotate)).toBe(2)
    await expect(grace.answer('f', () => Promise.reject(new Error('no')))).rejects.toThrow('no')
    expect(await grace.answer('f', rotate)).toBe(3)
    for (let i = 0; i < 10_050; i++) await grace.answer(`k${i}`, rotate)
    expect(grace.size).toBeLessThanOrEqual(10_000)
  })
})

for (const variant of await appVariants('refresh grace')) {
  describe(`refresh grace window on ${variant.name}`, () => {
    const apps: TestApp[] = []
    const build = async (env: Record<string, string> = {}) => {
      const t = await variant.build(withAdmin(env))
      apps.push(t)
      return t
    }
    afterEach(async () => {
      for (const t of apps.splice(0)) await t.close()
    })
    const refresh = (t: TestApp, token: string, app = t.app) => call(app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: token } })
    const me = (t: TestApp, token: string) => call(t.app, 'GET', '/api/v1/auth/me', { token })

    test('two refreshes of one token sent at once both get the same new pair, and it works', async () => {
      const t = await build()
      const a = await login(t.app, ADMIN.email, ADMIN.password)
      const [one, two] = await Promise.all([refresh(t, a.refresh), refresh(t, a.refresh)])
      expect([one.status, two.status]).toEqual([200, 200])
      expect(two.body.refresh_token).toBe(one.body.refresh_token)
      expect(two.body.access_token).toBe(one.body.access_token)
      expect((await me(t, one.body.access_token)).status).toBe(200)
      expect((await refresh(t, one.body.refresh_token)).status).toBe(200)
      expect((await t.store.audit.list({ limit: 100 })).items.some((e) => e.action === 'auth.refresh_reuse')).toBe(false)
    })

    test('presented again after the window: reuse, every session ends', async () => {
      const t = await build({ REFRESH_REUSE_GRACE: '0.3' })
      const a = await login(t.app, ADMIN.email, ADMIN.password)
      const rotatedAt = Date.now()
      const first = await refresh(t, a.refresh)
      expect(first.status).toBe(200)
      expect((await refresh(t, a.refresh)).body.refresh_token).toBe(first.body.refresh_token)
      await clockPast(rotatedAt + 400)
      const late = await refresh(t, a.refresh)
      expect(late.status).toBe(401)
      expect(late.body.error.message).toContain('every session')
      expect((await me(t, first.body.access_token)).status).toBe(401)
      expect((await refresh(t, first.body.refresh_token)).status).toBe(401)
    })

    test('rotated moments ago by another instance: refused, but the winner keeps its session', async () => {
      const t = await build()
      const elsewhere = createApp(t.deps) // a second instance on the same database
      const a = await login(t.app, ADMIN.email, ADMIN.password)
      const won = await refresh(t, a.refresh, elsewhere)
      expect(won.status).toBe(200)
      const lost = await refresh(t, a.refresh)
      expect(lost.status).toBe(401)
      expect(lost.body.error.message).toContain('moments ago')
      expect((await me(t, won.body.access_token)).status).toBe(200)
      expect((await refresh(t, won.body.refresh_token)).status).toBe(200)
    })
  })

  describe(`backups and registration on ${variant.name}`, () => {
    let t: TestApp | undefined
    afterEach(async () => {
      await t?.close()
      t = undefined
    })

    test('backups asked for at the same moment each get their own file', async () => {
      t = await variant.build(withAdmin())
      const admin = await login(t.app, ADMIN.email, ADMIN.password)
      const results = await Promise.all(Array.from({ length: 4 }, () => call(t!.app, 'POST', '/api/v1/sqlite-fallback/backup', { token: admin.access })))
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200])
      expect(new Set(results.map((r) => r.body.file)).size).toBe(4)
      for (const r of results) expect(r.body.file).toMatch(/^app-\d{8}T\d{9}Z-[0-9a-f]{8}\.db$/)
    })

    test('registration of a taken email answers 409 and writes nothing (the documented trade-off)', async () => {
      t = await variant.build(withAdmin({ ALLOW_REGISTRATION: 'true' }))
      const before = await t.snapshot()
      const res = await call(t.app, 'POST', '/api/v1/auth/register', { body: { email: ADMIN.email.toUpperCase(), password: 'some-password-1' } })
      expect(res.status).toBe(409)
      expect(res.body.error.code).toBe('conflict')
      expect(await t.snapshot()).toBe(before)
    })
  })
}
