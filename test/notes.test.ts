import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import fc from 'fast-check'
import { newId } from '../src/db/store.ts'
import { ADMIN, appVariants, call, createUser, login, withAdmin, type LoggedIn, type TestApp } from './helpers/test-app.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

for (const variant of await appVariants('notes')) {
  describe(`notes API on ${variant.name}`, () => {
    let t: TestApp
    let alice: LoggedIn
    let bob: LoggedIn
    let n = 0

    beforeAll(async () => {
      t = await variant.build(withAdmin())
      const admin = await login(t.app, ADMIN.email, ADMIN.password)
      alice = await createUser(t.app, admin.access, { email: 'alice@example.test', password: 'alice-pass-1' })
      bob = await createUser(t.app, admin.access, { email: 'bob@example.test', password: 'bob-pass-12' })
    })
    afterAll(async () => {
      await t?.close()
    })

    /** A fresh user per test that lists: their notes are exactly what the test made. */
    const freshUser = async () => {
      const admin = await login(t.app, ADMIN.email, ADMIN.password)
      return createUser(t.app, admin.access, { email: `u${++n}-${Date.now()}@example.test`, password: 'fresh-user-pass' })
    }
    const create = async (who: LoggedIn, title: string, body = '') => {
      const res = await call(t.app, 'POST', '/api/v1/notes', { token: who.access, body: { title, body } })
      if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`)
      return res.body as { id: string; title: string; body: string; created_at: string; updated_at: string; version: number }
    }
    const listAll = async (who: LoggedIn, params: Record<string, string> = {}) => {
      const ids: string[] = []
      let cursor: string | null = null
      for (let pages = 0; pages < 100; pages++) {
        const qs = new URLSearchParams({ ...params, ...(cursor ? { cursor } : {}) })
        const res = await call(t.app, 'GET', `/api/v1/notes?${qs}`, { token: who.access })
        expect(res.status).toBe(200)
        ids.push(...res.body.items.map((i: { id: string }) => i.id))
        cursor = res.body.next_cursor
        if (!cursor) return ids
      }
      throw new Error('pagination did not end')
    }

    test('requires a bearer token', async () => {
      expect((await call(t.app, 'GET', '/api/v1/notes')).status).toBe(401)
      expect((await call(t.app, 'POST', '/api/v1/notes', { body: { title: 'x', body: '' } })).status).toBe(401)
    })

    test('create → 201 with the note; get returns it', async () => {
      const res = await call(t.app, 'POST', '/api/v1/notes', { token: alice.access, body: { title: '  Groceries ', body: 'milk\neggs' } })
      expect(res.status).toBe(201)
      expect(Object.keys(res.body).sort()).toEqual(['body', 'created_at', 'id', 'title', 'updated_at', 'version'])
      expect(res.body).toMatchObject({ title: 'Groceries', body: 'milk\neggs', version: 1 })
      expect(res.headers.get('Location')).toBe(`/api/v1/notes/${res.body.id}`)
      const got = await call(t.app, 'GET', `/api/v1/notes/${res.body.id}`, { token: alice.access })
      expect(got.status).toBe(200)
      expect(got.body).toEqual(res.body)
    })

    test('unicode, quotes and SQL metacharacters are stored and returned exactly', async () => {
      const title = `'; DROP TABLE notes; -- "ünï" 🗒️ %_\\`
      const body = `Robert'); DELETE FROM users;--\n\t𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ‮RTL‬ ${'\\x00'} $1 ?`
      const note = await create(alice, title, body)
      const got = await call(t.app, 'GET', `/api/v1/notes/${note.id}`, { token: alice.access })
      expect(got.body.title).toBe(title.trim())
      expect(got.body.body).toBe(body)
      expect((await t.store.users.getByEmail('alice@example.test'))).not.toBeNull()
    })

    test('PATCH changes only the given fields and bumps the version', async () => {
      const note = await create(alice, 'draft', 'v1 body')
      const p1 = await call(t.app, 'PATCH', `/api/v1/notes/${note.id}`, { token: alice.access, body: { body: 'v2 body' } })
      expect(p1.status).toBe(200)
      expect(p1.body).toMatchObject({ id: note.id, title: 'draft', body: 'v2 body', version: 2, created_at: note.created_at })
      expect(p1.body.updated_at >= note.updated_at).toBe(true)
      const p2 = await call(t.app, 'PATCH', `/api/v1/notes/${note.id}`, { token: alice.access, body: { title: 'final' } })
      expect(p2.body).toMatchObject({ title: 'final', body: 'v2 body', version: 3 })
      const empty = await call(t.app, 'PATCH', `/api/v1/notes/${note.id}`, { token: alice.access, body: {} })
      expect(empty.status).toBe(400)
      expect((await call(t.app, 'GET', `/api/v1/notes/${note.id}`, { token: alice.access })).body.version).toBe(3)
    })

    test('DELETE is soft: 204, then 404 everywhere, gone from the list', async () => {
      const who = await freshUser()
      const keep = await create(who, 'keep')
      const gone = await create(who, 'gone')
      expect((await call(t.app, 'DELETE', `/api/v1/notes/${gone.id}`, { token: who.access })).status).toBe(204)
      for (const [method, body] of [['GET', undefined], ['PATCH', { title: 'back?' }], ['DELETE', undefined]] as const) {
        const res = await call(t.app, method, `/api/v1/notes/${gone.id}`, { token: who.access, ...(body ? { body } : {}) })
        expect(res.status).toBe(404)
        expect(res.body.error.code).toBe('not_found')
      }
      expect(await listAll(who)).toEqual([keep.id])
    })

    test("another user's note is a 404 on every route and stays untouched", async () => {
      const note = await create(alice, 'private', 'alice only')
      const attempts = [
        call(t.app, 'GET', `/api/v1/notes/${note.id}`, { token: bob.access }),
        call(t.app, 'PATCH', `/api/v1/notes/${note.id}`, { token: bob.access, body: { title: 'pwned' } }),
        call(t.app, 'DELETE', `/api/v1/notes/${note.id}`, { token: bob.access }),
      ]
      for (const res of await Promise.all(attempts)) {
        expect(res.status).toBe(404)
        expect(res.body.error.code).toBe('not_found')
      }
      // The same answer as for an id that never existed.
      const never = await call(t.app, 'GET', `/api/v1/notes/${newId()}`, { token: bob.access })
      expect(never.body.error.message).toBe((await attempts[0]!).body.error.message)
      const still = await call(t.app, 'GET', `/api/v1/notes/${note.id}`, { token: alice.access })
      expect(still.body).toEqual(note)
      expect(await listAll(bob)).not.toContain(note.id)
      // Even searching for its text finds nothing for bob.
      expect(await listAll(bob, { q: 'alice only' })).toEqual([])
    })

    test('list: newest first, limit/cursor pages cover every note once', async () => {
      const who = await freshUser()
      const made: string[] = []
      for (let i = 0; i < 7; i++) made.push((await create(who, `note ${i}`)).id)
      const first = await call(t.app, 'GET', '/api/v1/notes?limit=3', { token: who.access })
      expect(first.body.items.map((i: { id: string }) => i.id)).toEqual(made.slice(-3).reverse())
      expect(first.body.next_cursor).toBe(made[4])
      expect(await listAll(who, { limit: '3' })).toEqual([...made].reverse())
      expect(await listAll(who, { limit: '7' })).toEqual([...made].reverse())
      const dflt = await call(t.app, 'GET', '/api/v1/notes', { token: who.access })
      expect(dflt.body.items).toHaveLength(7)
      expect(dflt.body.next_cursor).toBeNull()
    })

    test('q: case-insensitive substring of title or body, metacharacters literal (property)', async () => {
      const who = await freshUser()
      const alphabet = ['a', 'B', 'é', 'É', '%', '_', "'", '"', '\\', ' ', '\n', '中', '🙂', 'ß']
      const text = (max: number) => fc.array(fc.constantFrom(...alphabet), { maxLength: max }).map((a) => a.join(''))
      const notes: Array<{ id: string; title: string; body: string }> = []
      const samples = fc.sample(fc.record({ title: text(12).map((s) => `t${s}`), body: text(20) }), { numRuns: 25, seed: 42 })
      for (const s of samples) notes.push(await create(who, s.title, s.body))
      await fc.assert(
        fc.asyncProperty(text(3), async (q) => {
          const expected = notes
            .filter((n) => `${n.title}\n${n.body}`.toLowerCase().includes(q.toLowerCase()))
            .map((n) => n.id)
            .reverse()
          expect(await listAll(who, { q, limit: '100' })).toEqual(expected)
        }),
        { numRuns: 40, seed: 7 },
      )
    })
  })
}
