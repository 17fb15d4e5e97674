// Every route of the accounts/notes API against hostile input: malformed JSON, wrong types, missing and
// extra fields, huge bodies, unicode, SQL metacharacters, overlong passwords. The answer is always a
// 4xx JSON error (400s name the field), never a 5xx, and a refused request writes nothing.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import fc from 'fast-check'
import { newId } from '../src/db/store.ts'
import { ADMIN, appVariants, call, createUser, login, withAdmin, type JsonResponse, type LoggedIn, type TestApp } from './helpers/test-app.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

type Who = 'anon' | 'user' | 'admin'
interface JsonRoute {
  method: 'POST' | 'PATCH'
  path: string
  who: Who
  /** the body's real keys, and a valid body to mutate */
  valid: Record<string, unknown>
}

const REFUSED = new Set([400, 413, 415])
const SQL_META = ["' OR '1'='1", '"; DROP TABLE users; --', "\\'; SELECT pg_sleep(10); --", '%_%', "Robert'); DELETE FROM notes;--", '$1', '?', '\u0000', '\ud800']
const UNICODE = ['ü', '中文', '🙂', '\u202e', '\u200b', 'e\u0301', '𝔘', '\uFEFF']

const jsonish = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.constantFrom(...SQL_META, ...UNICODE),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
)

for (const variant of await appVariants('bad-input')) {
  describe(`bad input on ${variant.name}`, () => {
    let t: TestApp
    let admin: LoggedIn
    let user: LoggedIn
    let noteId: string
    const routes: JsonRoute[] = []

    beforeAll(async () => {
      t = await variant.build(withAdmin({ ALLOW_REGISTRATION: 'true' }))
      admin = await login(t.app, ADMIN.email, ADMIN.password)
      user = await createUser(t.app, admin.access, { email: 'fuzz-user@example.test', password: 'fuzz-user-pass' })
      // The admin PATCH fuzzed below sets passwords, which ends sessions: it gets a user of its own.
      const patched = await createUser(t.app, admin.access, { email: 'fuzz-patched@example.test', password: 'fuzz-patched-pass' })
      noteId = (await call(t.app, 'POST', '/api/v1/notes', { token: user.access, body: { title: 'target', body: 'b' } })).body.id
      routes.push(
        { method: 'POST', path: '/api/v1/auth/register', who: 'anon', valid: { email: 'reg-x@example.test', password: 'register-pass', name: 'R' } },
        { method: 'POST', path: '/api/v1/auth/login', who: 'anon', valid: { email: 'nobody@example.test', password: 'wrong-password' } },
        { method: 'POST', path: '/api/v1/auth/refresh', who: 'anon', valid: { refresh_token: 'A'.repeat(43) } },
        { method: 'POST', path: '/api/v1/auth/logout', who: 'user', valid: { refresh_token: 'A'.repeat(43) } },
        { method: 'POST', path: '/api/v1/auth/password', who: 'user', valid: { current_password: 'wrong-password', new_password: 'new-password-1' } },
        { method: 'POST', path: '/api/v1/notes', who: 'user', valid: { title: 't', body: 'b' } },
        { method: 'PATCH', path: `/api/v1/notes/${noteId}`, who: 'user', valid: { title: 't', body: 'b' } },
        { method: 'POST', path: '/api/v1/admin/users', who: 'admin', valid: { email: 'adm-x@example.test', password: 'created-pass', name: 'N', role: 'user' } },
        { method: 'PATCH', path: `/api/v1/admin/users/${patched.userId}`, who: 'admin', valid: { name: 'N', role: 'user', password: 'patched-pass', disabled: false } },
      )
    })
    afterAll(async () => {
      await t?.close()
    })

    const tokenOf = (who: Who) => (who === 'admin' ? admin.access : who === 'user' ? user.access : undefined)
    let logoutToken: string | null = null

    /** Sends, then checks the invariants every answer must hold. */
    async function send(route: { method: string; path: string; who: Who }, opts: { body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<JsonResponse> {
      const isLogout = route.path.endsWith('/logout')
      // A logout that gets through ends its session, and an ended session's token is refused from then
      // on: logouts use a session of their own, made anew (before the snapshot) after one got through.
      if (isLogout) logoutToken ??= (await login(t.app, 'fuzz-user@example.test', 'fuzz-user-pass')).access
      const token = isLogout ? logoutToken! : tokenOf(route.who)
      const before = await t.snapshot()
      const res = await call(t.app, route.method, route.path, { ...opts, ...(token ? { token } : {}) })
      if (isLogout && res.status === 204) logoutToken = null
      const where = `${route.method} ${route.path} ${JSON.stringify(opts.body ?? opts.raw)?.slice(0, 200)}`
      if (res.status >= 500) throw new Error(`${where} → ${res.status} ${JSON.stringify(res.body)}`)
      if (res.status >= 400) {
        expect(typeof res.body.error?.code).toBe('string')
        expect(typeof res.body.error?.request_id).toBe('string')
      }
      if (res.status === 400 && res.body.error.details) {
        for (const d of res.body.error.details) expect(typeof d.field).toBe('string')
      }
      if (REFUSED.has(res.status)) {
        const after = await t.snapshot()
        if (after !== before) throw new Error(`${where} → ${res.status} but the database changed`)
      }
      return res
    }

    test('arbitrary JSON values as bodies are refused (never a 5xx, nothing written)', async () => {
      for (const route of routes) {
        await fc.assert(
          fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (value) => {
            const res = await send(route, { body: value })
            // An empty object is a valid logout; anything else random is not a valid body.
            if (!(route.path.endsWith('/logout') && value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0)) {
              expect(res.status).toBeGreaterThanOrEqual(400)
            }
          }),
          { numRuns: 40, seed: 1 },
        )
      }
    })

    test('the right keys with wrong types: 400 naming a field of the body', async () => {
      for (const route of routes) {
        const keys = Object.keys(route.valid)
        const mutated = fc
          .record(Object.fromEntries(keys.map((k) => [k, fc.option(jsonish, { nil: undefined })])))
          .filter((body) => keys.some((k) => body[k] !== undefined && typeof body[k] !== typeof route.valid[k]))
        await fc.assert(
          fc.asyncProperty(mutated, async (body) => {
            const res = await send(route, { body })
            expect(res.status).toBe(400)
            expect(res.body.error.code).toBe('validation_error')
            const field: string = res.body.error.details[0].field
            expect([...keys, '(body)']).toContain(field.split('.')[0]!)
            expect(res.body.error.message).toContain(field)
          }),
          { numRuns: 40, seed: 2 },
        )
      }
    })

    test('missing and extra fields: 400 naming the field', async () => {
      for (const route of routes) {
        const extra = await send(route, { body: { ...route.valid, is_admin: true } })
        expect(extra.status).toBe(400)
        expect(extra.body.error.message).toContain('is_admin')
        if (route.method === 'POST' && !route.path.endsWith('/logout')) {
          const [first] = Object.keys(route.valid)
          const { [first!]: _dropped, ...rest } = route.valid
          const missing = await send(route, { body: rest })
          expect(missing.status).toBe(400)
          expect(missing.body.error.details.map((d: { field: string }) => d.field)).toContain(first)
        }
      }
    })

    test('malformed JSON, non-JSON content types and 2 MiB bodies', async () => {
      const malformed = fc.string({ maxLength: 30 }).filter((s) => {
        if (s.trim() === '') return false
        try {
          JSON.parse(s)
          return false
        } catch {
          return true
        }
      })
      for (const route of routes) {
        await fc.assert(
          fc.asyncProperty(malformed, async (raw) => {
            const res = await send(route, { raw })
            expect(res.status).toBe(400)
            expect(res.body.error.code).toBe('validation_error')
          }),
          { numRuns: 15, seed: 3 },
        )
        const text = await send(route, { raw: JSON.stringify(route.valid), headers: { 'Content-Type': 'text/plain' } })
        expect(text.status).toBe(415)
        const form = await send(route, { raw: 'email=a%40b.c&password=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
        expect(form.status).toBe(415)
        const huge = await send(route, { body: { ...route.valid, [Object.keys(route.valid)[0]!]: 'x'.repeat(2 * 1024 * 1024) } })
        expect(huge.status).toBe(413)
        expect(huge.body.error.code).toBe('payload_too_large')
      }
    })

    test('overlong and malformed passwords are 400 naming the password field', async () => {
      const passwordFields: Array<[JsonRoute, string]> = []
      for (const route of routes) for (const key of Object.keys(route.valid)) if (key.includes('password')) passwordFields.push([route, key])
      expect(passwordFields.length).toBe(6)
      const overlong = fc.oneof(
        fc.string({ minLength: 73, maxLength: 400 }),
        fc.integer({ min: 19, max: 60 }).map((n) => '🔑'.repeat(n)),
        fc.constant('x'.repeat(100_000)),
      )
      for (const [route, key] of passwordFields) {
        await fc.assert(
          fc.asyncProperty(overlong, async (password) => {
            const res = await send(route, { body: { ...route.valid, [key]: password } })
            expect(res.status).toBe(400)
            expect(res.body.error.details[0].field).toBe(key)
          }),
          { numRuns: 10, seed: 4 },
        )
        const empty = await send(route, { body: { ...route.valid, [key]: '' } })
        expect(empty.status).toBe(400)
        expect(empty.body.error.details[0].field).toBe(key)
      }
      // A new password with NUL or a lone surrogate is refused before it reaches bcrypt.
      for (const bad of ['nul\u0000-password', 'lone-\ud800-password']) {
        const res = await send(routes.find((r) => r.path === '/api/v1/admin/users')!, { body: { email: 'x@example.test', password: bad } })
        expect(res.status).toBe(400)
        expect(res.body.error.details[0].field).toBe('password')
      }
    })

    test('unicode and SQL metacharacters in string fields: never a 5xx', async () => {
      const hostile = fc.oneof(
        fc.constantFrom(...SQL_META, ...UNICODE),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.tuple(fc.constantFrom(...SQL_META), fc.constantFrom(...UNICODE)).map(([a, b]) => `${a}${b}@example.test`),
      )
      for (const route of routes) {
        const stringKeys = Object.keys(route.valid).filter((k) => typeof route.valid[k] === 'string')
        await fc.assert(
          fc.asyncProperty(fc.constantFrom(...stringKeys), hostile, async (key, value) => {
            const res = await send(route, { body: { ...route.valid, [key]: value } })
            if (value.includes('\u0000') && !key.includes('password') && key !== 'refresh_token') {
              expect(res.status).toBe(400)
              expect(res.body.error.details[0].field).toBe(key)
            }
          }),
          { numRuns: 30, seed: 5 },
        )
      }
      // The database holds exactly what it was sent, and no statement went astray.
      expect(await t.store.users.getByEmail(ADMIN.email)).not.toBeNull()
      expect((await call(t.app, 'GET', `/api/v1/notes/${noteId}`, { token: user.access })).status).toBe(200)
    })

    test('query strings: limit, cursor and q are checked; unknown parameters refused', async () => {
      const queryRoutes: Array<{ path: string; who: Who; keys: string[] }> = [
        { path: '/api/v1/notes', who: 'user', keys: ['limit', 'cursor', 'q'] },
        { path: '/api/v1/admin/users', who: 'admin', keys: ['limit', 'cursor'] },
        { path: '/api/v1/admin/audit', who: 'admin', keys: ['limit', 'cursor'] },
      ]
      const value = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('0', '101', '-1', '1.5', '1e2', 'NaN', '', ' 5', newId(), ...SQL_META, ...UNICODE))
      for (const route of queryRoutes) {
        await fc.assert(
          fc.asyncProperty(fc.dictionary(fc.constantFrom(...route.keys, 'extra', 'limit[]'), value, { maxKeys: 3 }), async (params) => {
            const res = await send({ method: 'GET', path: `${route.path}?${new URLSearchParams(params)}`, who: route.who }, {})
            expect([200, 400]).toContain(res.status)
            if (res.status === 400) expect([...route.keys, 'extra', 'limit[]', '(body)']).toContain(res.body.error.details[0].field)
            if ('extra' in params || 'limit[]' in params) expect(res.status).toBe(400)
          }),
          { numRuns: 60, seed: 6 },
        )
        for (const [qs, field] of [['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=abc', 'limit'], ['limit=1&limit=2', 'limit'], ['cursor=nope', 'cursor']]) {
          const res = await send({ method: 'GET', path: `${route.path}?${qs}`, who: route.who }, {})
          expect(res.status).toBe(400)
          expect(res.body.error.details[0].field).toBe(field)
        }
      }
      const longQ = await send({ method: 'GET', path: `/api/v1/notes?q=${'q'.repeat(201)}`, who: 'user' }, {})
      expect(longQ.status).toBe(400)
      expect(longQ.body.error.details[0].field).toBe('q')
    })

    test('path ids: anything but a UUID is 400 naming id; an unknown UUID is 404', async () => {
      const paths = [
        (id: string) => ({ method: 'GET', path: `/api/v1/notes/${id}`, who: 'user' as Who }),
        (id: string) => ({ method: 'DELETE', path: `/api/v1/notes/${id}`, who: 'user' as Who }),
        (id: string) => ({ method: 'GET', path: `/api/v1/admin/users/${id}`, who: 'admin' as Who }),
        (id: string) => ({ method: 'DELETE', path: `/api/v1/admin/users/${id}`, who: 'admin' as Who }),
      ]
      const badId = fc.oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.constantFrom(...SQL_META, "1' OR '1'='1", '../../etc/passwd', '%00'))
      for (const make of paths) {
        await fc.assert(
          fc.asyncProperty(badId.filter((s) => s.isWellFormed() && !/^[0-9a-f-]{36}$/i.test(s)), async (id) => {
            const res = await send(make(encodeURIComponent(id)), {})
            expect([400, 404]).toContain(res.status)
          }),
          { numRuns: 30, seed: 8 },
        )
        const res = await send(make('not-a-uuid'), {})
        expect(res.status).toBe(400)
        expect(res.body.error.details[0].field).toBe('id')
        expect((await send(make(newId()), {})).status).toBe(404)
      }
      // PATCH with a bad id and a bad body: the id is reported, nothing written.
      const both = await send({ method: 'PATCH', path: '/api/v1/notes/nope', who: 'user' }, { body: { title: 5 } })
      expect(both.status).toBe(400)
      expect(both.body.error.details[0].field).toBe('id')
    })

    test('registration switched off answers 403 whatever the body', async () => {
      const off = await variant.build(withAdmin())
      try {
        for (const raw of ['{', '{"email":1}', JSON.stringify({ email: 'a@b.c', password: 'long-enough-1' }), 'x'.repeat(10)]) {
          const res = await call(off.app, 'POST', '/api/v1/auth/register', { raw })
          expect(res.status).toBe(403)
        }
      } finally {
        await off.close()
      }
    })
  })
}
