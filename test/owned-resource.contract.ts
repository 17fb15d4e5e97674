// The Store behaviours of an owned resource (src/db/owned.ts), for any owned table with two
// searchable text fields: notes (title, body) in the Store contract, and a table a fork defines in
// test/own-resource.test.ts. The cases are written for the fields' names as given, so one suite
// proves the generic repositories for every definition.
import { describe, expect, test } from 'bun:test'
import type { Owned, OwnedLimits, OwnedTable, OwnedUsage } from '../src/db/owned.ts'
import { newId, nowIso, type Page, type Store } from '../src/db/store.ts'
import {
  ISO_MS,
  clockPast,
  descending,
  expectStoreError,
  expectedPageSizes,
  makeSession,
  makeUser,
  storePerTest,
  walkPages,
  type StoreTarget,
} from './helpers/contract-fixtures.ts'

/** an owned table and two of its searchable text fields, in the order search_text joins them */
export interface OwnedResource {
  table: OwnedTable
  fields: readonly [string, string]
}

type Get = () => Store

/** a row of any owned resource, its fields by name */
export type OwnedRow = Owned<never> & { [field: string]: unknown }

/** OwnedRepo for fields known only by name at run time (the cases serve every definition) */
interface AnyOwnedRepo {
  create(input: Record<string, string>, limits?: OwnedLimits): Promise<OwnedRow>
  get(ownerId: string, id: string): Promise<OwnedRow | null>
  usage(ownerId: string): Promise<OwnedUsage>
  list(ownerId: string, query: { limit: number; cursor?: string | null; q?: string | null }): Promise<Page<OwnedRow>>
  update(ownerId: string, id: string, patch: Record<string, string>, limits?: OwnedLimits): Promise<OwnedRow>
  softDelete(ownerId: string, id: string): Promise<void>
}

const resourceOf = (store: Store, table: OwnedTable): AnyOwnedRepo => store.resource(table) as unknown as AnyOwnedRepo

/** a new row's input for `ownerId`: fresh id, both fields filled unless given */
const maker = (A: string, B: string) => (ownerId: string, fields: Record<string, string> = {}) => ({
  id: newId(),
  ownerId,
  [A]: 'A title',
  [B]: 'A body',
  ...fields,
})

/** The owned-resource behaviours alone, each test on a fresh store of `target` (the Store contract runs them too). */
export function ownedResourceContract(target: StoreTarget, resource: OwnedResource): void {
  describe(`Owned resource contract: ${target.name}`, () => ownedResourceTests(storePerTest(target), resource))
}

export function ownedResourceTests(get: Get, resource: OwnedResource): void {
  crudTests(get, resource)
  searchTests(get, resource)
  callerTests(get, resource)
}

// ---------------------------------------------------------------------------------------------

function crudTests(get: Get, { table, fields: [A, B] }: OwnedResource): void {
  const repo = () => resourceOf(get(), table)
  const make = maker(A, B)
  describe(`${table.name}: owner-scoped CRUD`, () => {
    const owners = async () => [await get().users.create(makeUser()), await get().users.create(makeUser())] as const

    test('usage: the owner\'s live rows and the bytes of their fields (UTF-8), deleted and others\' rows excluded', async () => {
      const [alice, bob] = await owners()
      expect(await repo().usage(alice.id)).toEqual({ count: 0, bytes: 0 })
      await repo().create(make(alice.id, { [A]: 'ab', [B]: 'é🙂' }))
      const gone = await repo().create(make(alice.id, { [A]: 'x', [B]: 'yyy' }))
      await repo().create(make(bob.id, { [A]: 'bob', [B]: 'bob' }))
      expect(await repo().usage(alice.id)).toEqual({ count: 2, bytes: 2 + 6 + 4 })
      await repo().softDelete(alice.id, gone.id)
      expect(await repo().usage(alice.id)).toEqual({ count: 1, bytes: 8 })
    })

    test('create and update with limits: over the count → too_many, over the bytes → too_large, nothing written', async () => {
      const [alice] = await owners()
      const limits = { maxCount: 2, maxBytes: 20 }
      const first = await repo().create(make(alice.id, { [A]: 't', [B]: '123456789' }), limits)
      await expectStoreError(repo().create(make(alice.id, { [A]: 't', [B]: '1234567890' }), limits), 'too_large')
      await repo().create(make(alice.id, { [A]: 't', [B]: '' }), limits)
      await expectStoreError(repo().create(make(alice.id, { [A]: 't', [B]: '' }), limits), 'too_many')
      await expectStoreError(repo().update(alice.id, first.id, { [B]: '1'.repeat(19) }, limits), 'too_large')
      expect((await repo().update(alice.id, first.id, { [B]: '1' }, limits))[B]).toBe('1')
      expect(await repo().usage(alice.id)).toEqual({ count: 2, bytes: 3 })
    })

    test('create returns the row at version 1; the owner gets exactly it back', async () => {
      const [alice] = await owners()
      const input = make(alice.id, { [A]: 'Title', [B]: 'Body\nwith lines' })
      const before = nowIso()
      const row = await repo().create(input)
      expect(row).toEqual({ ...input, createdAt: row.createdAt, updatedAt: row.createdAt, version: 1, deletedAt: null })
      expect(row.createdAt).toMatch(ISO_MS)
      expect(row.createdAt >= before).toBe(true)
      expect(await repo().get(alice.id, row.id)).toEqual(row)
    })

    test('get is owner-scoped: another owner and unknown ids get null', async () => {
      const [alice, bob] = await owners()
      const row = await repo().create(make(alice.id))
      expect(await repo().get(bob.id, row.id)).toBeNull()
      expect(await repo().get(alice.id, newId())).toBeNull()
    })

    test('update of the first field bumps version, moves updatedAt forward, keeps createdAt and the second', async () => {
      const [alice] = await owners()
      const row = await repo().create(make(alice.id, { [A]: 'Old', [B]: 'Same' }))
      await clockPast(row.updatedAt)
      const updated = await repo().update(alice.id, row.id, { [A]: 'New' })
      expect(updated).toEqual({ ...row, [A]: 'New', version: 2, updatedAt: updated.updatedAt })
      expect(updated.updatedAt > row.createdAt).toBe(true)
      expect(await repo().get(alice.id, row.id)).toEqual(updated)
    })

    test('update of the second field keeps the first; both together; version counts each update', async () => {
      const [alice] = await owners()
      const row = await repo().create(make(alice.id, { [A]: 'T', [B]: 'B' }))
      const v2 = await repo().update(alice.id, row.id, { [B]: 'B2' })
      expect([v2[A], v2[B], v2.version]).toEqual(['T', 'B2', 2])
      const v3 = await repo().update(alice.id, row.id, { [A]: 'T3', [B]: 'B3' })
      expect(v3).toEqual({ ...row, [A]: 'T3', [B]: 'B3', version: 3, updatedAt: v3.updatedAt })
      expect(v3.updatedAt >= v2.updatedAt).toBe(true)
      expect(await repo().get(alice.id, row.id)).toEqual(v3)
    })

    test('update by another owner → not_found and the row is unchanged', async () => {
      const [alice, bob] = await owners()
      const row = await repo().create(make(alice.id))
      await expectStoreError(repo().update(bob.id, row.id, { [A]: 'hijacked' }), 'not_found')
      expect(await repo().get(alice.id, row.id)).toEqual(row)
    })

    test('softDelete by another owner → not_found and the row stays', async () => {
      const [alice, bob] = await owners()
      const row = await repo().create(make(alice.id))
      await expectStoreError(repo().softDelete(bob.id, row.id), 'not_found')
      expect(await repo().get(alice.id, row.id)).toEqual(row)
    })

    test('update and softDelete of an unknown id → not_found', async () => {
      const [alice] = await owners()
      await expectStoreError(repo().update(alice.id, newId(), { [A]: 'x' }), 'not_found')
      await expectStoreError(repo().softDelete(alice.id, newId()), 'not_found')
    })

    test('softDelete hides the row from get and list; later update/softDelete → not_found', async () => {
      const [alice] = await owners()
      const keep = await repo().create(make(alice.id))
      const gone = await repo().create(make(alice.id))
      await repo().softDelete(alice.id, gone.id)
      expect(await repo().get(alice.id, gone.id)).toBeNull()
      expect(await repo().list(alice.id, { limit: 100 })).toEqual({ items: [keep], nextCursor: null })
      await expectStoreError(repo().update(alice.id, gone.id, { [A]: 'x' }), 'not_found')
      await expectStoreError(repo().softDelete(alice.id, gone.id), 'not_found')
    })

    test('list of an owner without rows is one empty page', async () => {
      const [alice, bob] = await owners()
      await repo().create(make(bob.id))
      expect(await repo().list(alice.id, { limit: 20 })).toEqual({ items: [], nextCursor: null })
    })

    for (const limit of [1, 5, 20, 100]) {
      test(`list pages newest first with limit ${limit}: the owner's live rows exactly once`, async () => {
        const [alice, bob] = await owners()
        const mine: OwnedRow[] = []
        for (let i = 0; i < 25; i++) {
          mine.push(await repo().create(make(alice.id, { [A]: `row ${i}` })))
          if (i % 5 === 0) await repo().create(make(bob.id))
        }
        for (const i of [0, 12, 24]) await repo().softDelete(alice.id, mine[i]!.id)
        const live = mine.filter((_, i) => ![0, 12, 24].includes(i))
        const walk = await walkPages((cursor) => repo().list(alice.id, { limit, cursor }), 40)
        expect(walk.items.map((n) => n.id)).toEqual(descending(live.map((n) => n.id)))
        expect(walk.pageSizes).toEqual(expectedPageSizes(22, limit))
        expect(walk.items.find((n) => n.id === mine[7]!.id)).toEqual(mine[7]!)
      })
    }
  })
}

function searchTests(get: Get, { table, fields: [A, B] }: OwnedResource): void {
  const repo = () => resourceOf(get(), table)
  const make = maker(A, B)
  describe(`${table.name} search (q)`, () => {
    /** creates rows for a fresh owner; returns the owner id and a first field → id map */
    async function seed(rows: Array<[a: string, b: string]>) {
      const owner = await get().users.create(makeUser())
      const ids = new Map<string, string>()
      for (const [a, b] of rows) ids.set(a, (await repo().create(make(owner.id, { [A]: a, [B]: b }))).id)
      return { ownerId: owner.id, ids }
    }
    async function firstFieldsFor(ownerId: string, q: string): Promise<string[]> {
      const page = await repo().list(ownerId, { limit: 100, q })
      return page.items.map((n) => n[A] as string).sort()
    }

    test('matches a substring of either field, ignoring ASCII case', async () => {
      const { ownerId } = await seed([
        ['Shopping list', 'eggs'],
        ['Work', 'Buy MILK on the way'],
        ['Milky Way', 'stars'],
        ['Other', 'nothing here'],
      ])
      expect(await firstFieldsFor(ownerId, 'milk')).toEqual(['Milky Way', 'Work'])
      expect(await firstFieldsFor(ownerId, 'LIST')).toEqual(['Shopping list'])
      expect(await firstFieldsFor(ownerId, 'absent')).toEqual([])
    })

    test('ignores case beyond ASCII: É finds é and é finds É', async () => {
      const { ownerId } = await seed([
        ['Café', 'lowercase accent'],
        ['ÉCOLE', 'uppercase accent'],
        ['Cafe', 'no accent'],
      ])
      expect(await firstFieldsFor(ownerId, 'CAFÉ')).toEqual(['Café'])
      expect(await firstFieldsFor(ownerId, 'école')).toEqual(['ÉCOLE'])
      expect(await firstFieldsFor(ownerId, 'é')).toEqual(['Café', 'ÉCOLE'])
    })

    const literal: Array<[q: string, expected: string[]]> = [
      ['%', ['100% sure']],
      ['1%e', []],
      ['_', ['snake_case']],
      ['e_c', ['snake_case']],
      ["'", ["it's"]],
      ['"', ['say "hi"']],
      ['\\', ['C:\\path']],
      ['\\p', ['C:\\path']],
      ["' OR '1'='1", []],
      ['%_', []],
    ]
    for (const [q, expected] of literal) {
      test(`q ${JSON.stringify(q)} is matched literally`, async () => {
        const { ownerId } = await seed([
          ['100% sure', 'x'],
          ['abc', 'plain'],
          ['snake_case', 'x'],
          ['snakeXcase', 'x'],
          ["it's", 'x'],
          ['say "hi"', 'x'],
          ['C:\\path', 'x'],
          ['1 then e', 'x'],
        ])
        expect(await firstFieldsFor(ownerId, q)).toEqual(expected)
      })
    }

    test('q null lists every live row', async () => {
      const { ownerId, ids } = await seed([
        ['one', 'a'],
        ['two', 'b'],
      ])
      const page = await repo().list(ownerId, { limit: 100, q: null })
      expect(page.items.map((n) => n.id)).toEqual(descending([...ids.values()]))
    })

    test('q excludes soft-deleted rows and other owners', async () => {
      const { ownerId, ids } = await seed([
        ['needle kept', 'a'],
        ['needle gone', 'b'],
      ])
      await repo().softDelete(ownerId, ids.get('needle gone')!)
      const other = await get().users.create(makeUser())
      await repo().create(make(other.id, { [A]: 'needle elsewhere' }))
      expect(await firstFieldsFor(ownerId, 'needle')).toEqual(['needle kept'])
    })

    test('q follows updates of both fields', async () => {
      const { ownerId, ids } = await seed([['alpha', 'first body']])
      const id = ids.get('alpha')!
      await repo().update(ownerId, id, { [A]: 'beta' })
      expect(await firstFieldsFor(ownerId, 'alpha')).toEqual([])
      expect(await firstFieldsFor(ownerId, 'BETA')).toEqual(['beta'])
      await repo().update(ownerId, id, { [B]: 'second body' })
      expect(await firstFieldsFor(ownerId, 'first')).toEqual([])
      expect(await firstFieldsFor(ownerId, 'second')).toEqual(['beta'])
    })

    test('a patch of one field keeps the other searchable exactly, across line breaks and context-dependent case', async () => {
      const { ownerId, ids } = await seed([['one\ntwo ΣΑΣ', 'first\nbody İ']])
      const id = ids.get('one\ntwo ΣΑΣ')!
      await repo().update(ownerId, id, { [B]: 'NEW\nBody' })
      // the text searched is the first field + line break + the second, as a whole: a match may span the two
      expect(await firstFieldsFor(ownerId, 'two σας\nnew\nbody')).toEqual(['one\ntwo ΣΑΣ'])
      expect(await firstFieldsFor(ownerId, 'first')).toEqual([])
      await repo().update(ownerId, id, { [A]: 'X\n\nY' })
      expect(await firstFieldsFor(ownerId, 'x\n\ny\nnew\nbody')).toEqual(['X\n\nY'])
      expect(await firstFieldsFor(ownerId, 'σας')).toEqual([])
      await repo().update(ownerId, id, { [B]: '' })
      expect(await firstFieldsFor(ownerId, 'x\n\ny\n')).toEqual(['X\n\nY'])
      await repo().update(ownerId, id, { [A]: 'İz' })
      expect(await firstFieldsFor(ownerId, 'İz'.toLowerCase() + '\n')).toEqual(['İz'])
    })

    test('q combines with cursor paging: every match exactly once, newest first', async () => {
      const owner = await get().users.create(makeUser())
      const matching: string[] = []
      for (let i = 0; i < 20; i++) {
        const hit = i % 5 !== 0
        const input = make(owner.id, i % 2 === 0 ? { [A]: hit ? `has MaTcH ${i}` : `miss ${i}` } : { [B]: hit ? `body match ${i}` : `body ${i}` })
        await repo().create(input)
        if (hit) matching.push(input.id)
      }
      const walk = await walkPages((cursor) => repo().list(owner.id, { limit: 5, cursor, q: 'match' }), 20)
      expect(walk.items.map((n) => n.id)).toEqual(descending(matching))
      expect(walk.pageSizes).toEqual([5, 5, 5, 1])
    })

    test('folds case beyond Latin-1 the same way for text and query', async () => {
      const { ownerId } = await seed([['Ünïcödé TITLE', 'Straße ΣΟΦΊΑ']])
      for (const q of ['ÜNÏCÖDÉ', 'STRAßE', 'σοφία']) expect(await firstFieldsFor(ownerId, q)).toEqual(['Ünïcödé TITLE'])
    })
  })
}

function callerTests(get: Get, { table, fields: [A, B] }: OwnedResource): void {
  const repo = () => resourceOf(get(), table)
  const make = maker(A, B)
  describe(`${table.name} as(caller): the account checked by the operation itself`, () => {
    const signedIn = async (role: 'admin' | 'user' = 'user') => {
      const user = await get().users.create(makeUser({ role }))
      const session = await get().sessions.create(makeSession(user.id))
      return { user, session, caller: { userId: user.id, sessionId: session.id } }
    }

    test('a live session: reads and writes go through, as the store itself would do them', async () => {
      const { user, caller } = await signedIn()
      const mine = resourceOf(get().as(caller), table)
      const row = await mine.create(make(user.id, { [A]: 'mine' }))
      expect(await mine.get(user.id, row.id)).toEqual(row)
      expect((await mine.list(user.id, { limit: 10 })).items.map((n) => n.id)).toEqual([row.id])
      expect((await mine.update(user.id, row.id, { [B]: 'b' })).version).toBe(2)
      await mine.softDelete(user.id, row.id)
      expect(await repo().get(user.id, row.id)).toBeNull()
    })

    test('the session a refresh rotated it into counts as live; ending that one ends the caller', async () => {
      const { user, session, caller } = await signedIn()
      const next = (await get().sessions.rotate(session.id, makeSession(user.id)))!
      expect(await resourceOf(get().as(caller), table).usage(user.id)).toEqual({ count: 0, bytes: 0 })
      await get().sessions.revoke(next.id)
      await expectStoreError(resourceOf(get().as(caller), table).usage(user.id), 'unauthorized')
    })

    test('disabled, deleted, revoked, expired or unknown: unauthorized, and nothing is written', async () => {
      const { user, session, caller } = await signedIn()
      const expired = await get().sessions.create(makeSession(user.id, { expiresAt: '2001-01-01T00:00:00.000Z' }))
      const row = await repo().create(make(user.id, { [A]: 'kept' }))
      const refused = async (c: { userId: string; sessionId: string }) => {
        const mine = resourceOf(get().as(c), table)
        await expectStoreError(mine.create(make(user.id, { [A]: 'never' })), 'unauthorized')
        await expectStoreError(mine.create(make(user.id, { [A]: 'never' }), { maxCount: 10, maxBytes: 1000 }), 'unauthorized')
        await expectStoreError(mine.update(user.id, row.id, { [A]: 'never' }), 'unauthorized')
        await expectStoreError(mine.update(user.id, newId(), { [A]: 'never' }), 'unauthorized')
        await expectStoreError(mine.softDelete(user.id, row.id), 'unauthorized')
        await expectStoreError(mine.get(user.id, row.id), 'unauthorized')
        await expectStoreError(mine.list(user.id, { limit: 10 }), 'unauthorized')
        await expectStoreError(mine.list(user.id, { limit: 10, q: 'kept' }), 'unauthorized')
      }
      await refused({ userId: user.id, sessionId: expired.id })
      await refused({ userId: user.id, sessionId: newId() })
      await refused({ userId: newId(), sessionId: session.id })
      await get().users.update(user.id, { disabled: true })
      await refused(caller)
      await get().users.update(user.id, { disabled: false })
      await get().sessions.revoke(session.id)
      await refused(caller)
      expect((await repo().list(user.id, { limit: 10 })).items).toEqual([row])
    })
  })
}
