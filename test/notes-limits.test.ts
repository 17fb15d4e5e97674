// Issue 17, item 3: one user cannot push the server to gigabytes. A list page carries at most
// OWNED_PAGE_MAX_BYTES of text, a search reads at most OWNED_SEARCH_SCAN_BYTES per page, and
// NOTES_MAX_PER_USER / NOTES_MAX_BYTES_PER_USER cap what one account keeps (409 / 413).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { OWNED_PAGE_MAX_BYTES } from '../src/db/owned.ts'
import { OwnedUsageCache } from '../src/routes/owned-usage.ts'
import { ADMIN, appVariants, call, createUser, login, withAdmin, type LoggedIn, type TestApp } from './helpers/test-app.ts'

const MB = 1_000_000
const big = (fill: string, size = 900_000) => fill.repeat(size / fill.length)

describe('OwnedUsageCache: which writes are checked against the limits in the database', () => {
  const limits = { maxCount: 100, maxBytes: 1000 }
  test('unknown usage: checked, and learnt from the write\'s own statement; far below the limits: unchecked; near them: checked', () => {
    let now = 0
    const usage = new OwnedUsageCache(() => now)
    // not known yet: the create checks in its statement and reports the usage it found
    const first = usage.limitsFor('u', { count: 1, bytes: 10 }, limits)
    expect(first).toMatchObject(limits)
    first!.onUsage!({ count: 50, bytes: 500 })
    usage.created('u', 10)
    expect(usage.limitsFor('u', { count: 1, bytes: 10 }, limits)).toBeUndefined()
    expect(usage.limitsFor('u', { count: 1, bytes: 391 }, limits)).toEqual(limits)
    for (let i = 0; i < 40; i++) usage.created('u', 1)
    expect(usage.limitsFor('u', { count: 1, bytes: 1 }, limits)).toEqual(limits)
    usage.forget('u')
    expect(usage.limitsFor('u', { count: 1, bytes: 1 }, limits)?.onUsage).toBeFunction()
    // Other instances' writes are seen once the entry is measured again.
    usage.limitsFor('u', { count: 1, bytes: 1 }, limits)!.onUsage!({ count: 1, bytes: 1 })
    expect(usage.limitsFor('u', { count: 1, bytes: 1 }, limits)).toBeUndefined()
    now += 30_001
    expect(usage.limitsFor('u', { count: 1, bytes: 1 }, limits)?.onUsage).toBeFunction()
  })
})

for (const variant of await appVariants('notes limits')) {
  describe(`bounded memory for notes on ${variant.name}`, () => {
    let t: TestApp
    let admin: LoggedIn
    let n = 0

    beforeAll(async () => {
      t = await variant.build(withAdmin({ NOTES_MAX_PER_USER: '50', NOTES_MAX_BYTES_PER_USER: '60mb' }))
      admin = await login(t.app, ADMIN.email, ADMIN.password)
    })
    afterAll(async () => {
      await t?.close()
    })

    const freshUser = () => createUser(t.app, admin.access, { email: `u${++n}@example.test`, password: 'user-pass-123' })
    const create = async (who: LoggedIn, title: string, body: string) => {
      const res = await call(t.app, 'POST', '/api/v1/notes', { token: who.access, body: { title, body } })
      if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`)
      return res.body.id as string
    }
    const walk = async (who: LoggedIn, params: string) => {
      const pages: { ids: string[]; bytes: number }[] = []
      let cursor: string | null = null
      do {
        const res = await call(t.app, 'GET', `/api/v1/notes?${params}${cursor ? `&cursor=${cursor}` : ''}`, { token: who.access })
        expect(res.status).toBe(200)
        const items = res.body.items as { id: string; title: string; body: string }[]
        pages.push({ ids: items.map((i) => i.id), bytes: items.reduce((sum, i) => sum + Buffer.byteLength(i.title) + Buffer.byteLength(i.body), 0) })
        cursor = res.body.next_cursor
      } while (cursor && pages.length < 100)
      return pages
    }

    test('a page of large notes ends at the byte budget; next_cursor reaches every note', async () => {
      const who = await freshUser()
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push(await create(who, `big ${i}`, big(String(i))))
      const pages = await walk(who, 'limit=100')
      for (const page of pages) expect(page.bytes).toBeLessThanOrEqual(OWNED_PAGE_MAX_BYTES)
      expect(pages[0]!.ids.length).toBe(2)
      expect(pages.flatMap((p) => p.ids)).toEqual(ids.reverse())
    })

    test('a search reads a bounded amount per page: a match far back is reached through next_cursor', async () => {
      const who = await freshUser()
      const needle = await create(who, 'oldest', `${big('a')} needle`)
      for (let i = 0; i < 10; i++) await create(who, `filler ${i}`, big('b'))
      const first = await call(t.app, 'GET', '/api/v1/notes?q=needle', { token: who.access })
      expect(first.status).toBe(200)
      expect(first.body.items).toEqual([])
      expect(first.body.next_cursor).toMatch(/^[0-9a-f-]{36}$/)
      const pages = await walk(who, 'q=needle')
      expect(pages.flatMap((p) => p.ids)).toEqual([needle])
    })

    test('NOTES_MAX_PER_USER: the note past the limit answers 409 naming the limit', async () => {
      const small = await variant.build(withAdmin({ NOTES_MAX_PER_USER: '3' }))
      try {
        const who = await login(small.app, ADMIN.email, ADMIN.password)
        for (let i = 0; i < 3; i++) expect((await call(small.app, 'POST', '/api/v1/notes', { token: who.access, body: { title: `n${i}`, body: '' } })).status).toBe(201)
        const over = await call(small.app, 'POST', '/api/v1/notes', { token: who.access, body: { title: 'one more', body: '' } })
        expect(over.status).toBe(409)
        expect(over.body.error.message).toContain('NOTES_MAX_PER_USER')
        const page = await call(small.app, 'GET', '/api/v1/notes', { token: who.access })
        expect(page.body.items.length).toBe(3)
        // Deleting one makes room again.
        expect((await call(small.app, 'DELETE', `/api/v1/notes/${page.body.items[0].id}`, { token: who.access })).status).toBe(204)
        expect((await call(small.app, 'POST', '/api/v1/notes', { token: who.access, body: { title: 'room', body: '' } })).status).toBe(201)
      } finally {
        await small.close()
      }
    })

    test('NOTES_MAX_BYTES_PER_USER: a create or a growing edit past it answers 413; shrinking is allowed', async () => {
      const small = await variant.build(withAdmin({ NOTES_MAX_BYTES_PER_USER: '2000' }))
      try {
        const who = await login(small.app, ADMIN.email, ADMIN.password)
        const first = await call(small.app, 'POST', '/api/v1/notes', { token: who.access, body: { title: 'a', body: 'x'.repeat(1500) } })
        expect(first.status).toBe(201)
        const over = await call(small.app, 'POST', '/api/v1/notes', { token: who.access, body: { title: 'b', body: 'é'.repeat(300) } })
        expect(over.status).toBe(413)
        expect(over.body.error.code).toBe('payload_too_large')
        expect(over.body.error.message).toContain('NOTES_MAX_BYTES_PER_USER')
        const grow = await call(small.app, 'PATCH', `/api/v1/notes/${first.body.id}`, { token: who.access, body: { body: 'x'.repeat(2500) } })
        expect(grow.status).toBe(413)
        expect((await call(small.app, 'PATCH', `/api/v1/notes/${first.body.id}`, { token: who.access, body: { body: 'x'.repeat(1990) } })).status).toBe(200)
        expect((await call(small.app, 'PATCH', `/api/v1/notes/${first.body.id}`, { token: who.access, body: { body: 'short' } })).status).toBe(200)
      } finally {
        await small.close()
      }
    })

    test('resident memory: 12 parallel full pages over 40 MB of notes grow RSS by far less than the notes', async () => {
      const who = await freshUser()
      const body = big('m', 990_000)
      for (let i = 0; i < 40; i++) await create(who, `heavy ${i}`, body)
      Bun.gc(true)
      const before = process.memoryUsage.rss()
      const results = await Promise.all(Array.from({ length: 12 }, () => call(t.app, 'GET', '/api/v1/notes?limit=100', { token: who.access })))
      const grown = process.memoryUsage.rss() - before
      for (const r of results) {
        expect(r.status).toBe(200)
        expect(r.body.items.length).toBe(2)
      }
      // Unbounded, each of the 12 answers holds all 40 MB (several copies of it): well over 500 MB.
      // Bounded, each holds about 2 MB. The bound is generous: a limit on growth, not a measurement.
      expect(grown).toBeLessThan(250 * MB)
    })
  })
}
