// The one behaviour suite every Store implementation must pass (the pattern of Hono's router
// `runTest` and Lucia's `testAdapter`). Bun only collects `*.test.ts` files, so this file defines
// tests only when a `*.contract.test.ts` file calls it with a target:
//
//   // test/sqlite-store.contract.test.ts
//   import { storeContract } from './store.contract.ts'
//   storeContract({
//     name: 'SqliteStore',
//     open: async () => { const s = new SqliteStore({ path: ':memory:', busyTimeoutS: 5 }); await s.migrate(); return s },
//     close: (store) => store.close(),
//   })
//
// Each test gets its own fresh, migrated, empty store from `open()` and hands it to `close()`
// afterwards, so the calling file decides where the database lives (temp file, fresh PostgreSQL
// database) and removes it in its own afterAll. Assertions are exact on purpose: running the same
// suite on both dialects is what proves they behave the same.
import { describe, expect, test } from 'bun:test'
import {
  newId,
  nowIso,
  type AuditEvent,
  type ReplicableStore,
  type RowChange,
  type Session,
  type Setting,
  type Store,
  type SyncTable,
  type User,
} from '../src/db/store.ts'
import {
  ISO_MS,
  UNICODE_SAMPLES,
  ascending,
  clockPast,
  descending,
  expectStoreError,
  expectedPageSizes,
  fakeBcryptHash,
  fakeTokenHash,
  makeAudit,
  makeNote,
  makeSession,
  makeUser,
  oneMiBText,
  noteRow,
  sessionRow,
  T0,
  T1,
  T2,
  userRow,
  storePerTest,
  walkPages,
  type Note,
  type StoreTarget,
} from './helpers/contract-fixtures.ts'
import { notes } from '../src/db/tables.ts'
import { ownedResourceTests } from './owned-resource.contract.ts'

export interface ContractTarget extends StoreTarget {
  /**
   * Whether the store implements ReplicableStore (SqliteStore and PostgresStore do). Default true.
   * The replication tests run only when it is true; a test checks that the declaration matches
   * `'applyChange' in store`, so a store cannot silently skip them.
   */
  replicable?: boolean
}

type Get = () => Store

export function storeContract(target: ContractTarget): void {
  const replicable = target.replicable ?? true

  describe(`Store contract: ${target.name}`, () => {
    const get = storePerTest(target)

    basicsTests(get, replicable)
    userTests(get)
    sessionTests(get)
    ownedResourceTests(get, { table: notes, fields: ['title', 'body'] })
    auditTests(get)
    settingsTests(get)
    transactionTests(get)
    roundTripTests(get)
    callerTests(get)
    // Replication is not part of Store: a target without it (FailoverStore) defines none of these.
    if (replicable) describe('ReplicableStore', () => {
      const getR = (): ReplicableStore => {
        const s = get()
        if (!isReplicable(s)) throw new Error(`${target.name} has no applyChange: set replicable: false`)
        return s
      }
      changeSinkTests(getR)
      applyChangeTests(getR)
      mergeRuleTests(getR)
      exportRowsTests(getR)
    })
  })
}

const isReplicable = (s: Store): s is ReplicableStore => 'applyChange' in s

// ---------------------------------------------------------------------------------------------

function basicsTests(get: Get, replicable: boolean): void {
  describe('basics', () => {
    test('ping resolves and kind names a dialect', async () => {
      await expect(get().ping()).resolves.toBeUndefined()
      expect(['postgresql', 'sqlite']).toContain(get().kind)
    })

    test('migrate on a migrated store applies nothing and reports the current migrations', async () => {
      const report = await get().migrate()
      expect(report.applied).toEqual([])
      expect(report.current.length).toBeGreaterThan(0)
    })

    test(`implements ReplicableStore exactly when the target says so (${replicable})`, () => {
      expect(isReplicable(get())).toBe(replicable)
    })
  })
}

// ---------------------------------------------------------------------------------------------

function userTests(get: Get): void {
  describe('users', () => {
    test('create returns the stored user: defaults, version 1, createdAt = updatedAt, app-made timestamps', async () => {
      const input = { id: newId(), email: 'plain@example.com', passwordHash: fakeBcryptHash() }
      const before = nowIso()
      const user = await get().users.create(input)
      const after = nowIso()
      expect(user).toEqual({
        id: input.id,
        email: 'plain@example.com',
        name: null,
        role: 'user',
        passwordHash: input.passwordHash,
        disabled: false,
        createdAt: user.createdAt,
        updatedAt: user.createdAt,
        version: 1,
        deletedAt: null,
      })
      expect(user.createdAt).toMatch(ISO_MS)
      expect(user.createdAt >= before && user.createdAt <= after).toBe(true)
    })

    test('create keeps name, role and disabled as given', async () => {
      const user = await get().users.create(makeUser({ name: 'Ada', role: 'admin', disabled: true }))
      expect([user.name, user.role, user.disabled]).toEqual(['Ada', 'admin', true])
      expect(await get().users.getById(user.id)).toEqual(user)
    })

    test('getById and getByEmail return exactly the created user', async () => {
      const user = await get().users.create(makeUser())
      expect(await get().users.getById(user.id)).toEqual(user)
      expect(await get().users.getByEmail(user.email)).toEqual(user)
    })

    test('getById and getByEmail of unknown keys return null', async () => {
      await get().users.create(makeUser())
      expect(await get().users.getById(newId())).toBeNull()
      expect(await get().users.getByEmail('nobody@example.com')).toBeNull()
    })

    test('email is stored trimmed and lower-cased; lookup ignores case and surrounding spaces', async () => {
      const user = await get().users.create(makeUser({ email: '  Mixed.Case@Example.COM \t' }))
      expect(user.email).toBe('mixed.case@example.com')
      expect((await get().users.getById(user.id))?.email).toBe('mixed.case@example.com')
      expect((await get().users.getByEmail('MIXED.case@example.com'))?.id).toBe(user.id)
      expect((await get().users.getByEmail('  mixed.case@EXAMPLE.com  '))?.id).toBe(user.id)
    })

    for (const variant of ['dup@example.com', 'DUP@Example.Com', '  dup@example.com  ']) {
      test(`a duplicate email (${JSON.stringify(variant)}) → conflict, nothing written`, async () => {
        const first = await get().users.create(makeUser({ email: 'dup@example.com' }))
        const second = makeUser({ email: variant })
        await expectStoreError(get().users.create(second), 'conflict')
        expect(await get().users.getById(second.id)).toBeNull()
        expect((await get().users.list({ limit: 100 })).items.map((u) => u.id)).toEqual([first.id])
      })
    }

    test('createIfAbsent creates a user when the email is free', async () => {
      const input = makeUser({ email: 'Fresh@Example.com' })
      const { user, created } = await get().users.createIfAbsent(input)
      expect(created).toBe(true)
      expect(user.id).toBe(input.id)
      expect(user.email).toBe('fresh@example.com')
      expect(user.version).toBe(1)
      expect(await get().users.getById(input.id)).toEqual(user)
    })

    test('createIfAbsent returns the existing live user untouched when the email is taken (any case)', async () => {
      const existing = await get().users.create(makeUser({ email: 'taken@example.com', name: 'Original' }))
      const attempt = makeUser({ email: ' TAKEN@example.com', name: 'Intruder', role: 'admin' })
      const { user, created } = await get().users.createIfAbsent(attempt)
      expect(created).toBe(false)
      expect(user).toEqual(existing)
      expect(await get().users.getById(attempt.id)).toBeNull()
      expect(await get().users.getById(existing.id)).toEqual(existing)
    })

    test('concurrent createIfAbsent of one email creates exactly one user and all callers get it', async () => {
      const attempts = Array.from({ length: 5 }, () => makeUser({ email: 'race@example.com' }))
      const results = await Promise.all(attempts.map((a) => get().users.createIfAbsent(a)))
      expect(results.filter((r) => r.created).length).toBe(1)
      const winner = results.find((r) => r.created)!.user
      for (const r of results) expect(r.user).toEqual(winner)
      expect((await get().users.list({ limit: 100 })).items).toEqual([winner])
    })

    test('update name bumps version by exactly 1, moves updatedAt forward, keeps createdAt', async () => {
      const user = await get().users.create(makeUser({ name: 'Before' }))
      await clockPast(user.updatedAt)
      const updated = await get().users.update(user.id, { name: 'After' })
      expect(updated).toEqual({ ...user, name: 'After', version: 2, updatedAt: updated.updatedAt })
      expect(updated.updatedAt).toMatch(ISO_MS)
      expect(updated.updatedAt > user.createdAt).toBe(true)
      expect(await get().users.getById(user.id)).toEqual(updated)
    })

    test('update role and disabled; a disabled user is still returned by get and list', async () => {
      const user = await get().users.create(makeUser())
      const admin = await get().users.update(user.id, { role: 'admin' })
      expect([admin.role, admin.version]).toEqual(['admin', 2])
      const disabled = await get().users.update(user.id, { disabled: true })
      expect(disabled).toEqual({ ...admin, disabled: true, version: 3, updatedAt: disabled.updatedAt })
      expect(disabled.updatedAt >= admin.updatedAt).toBe(true)
      expect(await get().users.getById(user.id)).toEqual(disabled)
      expect(await get().users.getByEmail(user.email)).toEqual(disabled)
      expect((await get().users.list({ limit: 10 })).items).toEqual([disabled])
    })

    test('update with name null clears the name; fields not in the patch are kept', async () => {
      const user = await get().users.create(makeUser({ name: 'Named', role: 'admin', disabled: true }))
      const cleared = await get().users.update(user.id, { name: null })
      expect(cleared).toEqual({ ...user, name: null, version: 2, updatedAt: cleared.updatedAt })
    })

    test('setPassword replaces the hash and bumps version; nothing else changes', async () => {
      const user = await get().users.create(makeUser())
      await clockPast(user.updatedAt)
      const hash = fakeBcryptHash()
      const changed = await get().users.setPassword(user.id, hash)
      expect(changed).toEqual({ ...user, passwordHash: hash, version: 2, updatedAt: changed.updatedAt })
      expect(changed.updatedAt > user.updatedAt).toBe(true)
      expect(await get().users.getById(user.id)).toEqual(changed)
    })

    test('softDelete hides the user from getById, getByEmail and list', async () => {
      const keep = await get().users.create(makeUser())
      const gone = await get().users.create(makeUser())
      await get().users.softDelete(gone.id)
      expect(await get().users.getById(gone.id)).toBeNull()
      expect(await get().users.getByEmail(gone.email)).toBeNull()
      expect((await get().users.list({ limit: 100 })).items).toEqual([keep])
    })

    test('after softDelete the email can be used again, by a new user with a new id', async () => {
      const gone = await get().users.create(makeUser({ email: 'reuse@example.com' }))
      await get().users.softDelete(gone.id)
      const again = await get().users.create(makeUser({ email: 'REUSE@example.com' }))
      expect(again.id).not.toBe(gone.id)
      expect(await get().users.getByEmail('reuse@example.com')).toEqual(again)
      const viaIfAbsent = await get().users.createIfAbsent(makeUser({ email: 'reuse@example.com' }))
      expect(viaIfAbsent).toEqual({ user: again, created: false })
    })

    test('update, setPassword and softDelete of an unknown id → not_found', async () => {
      await expectStoreError(get().users.update(newId(), { name: 'x' }), 'not_found')
      await expectStoreError(get().users.setPassword(newId(), fakeBcryptHash()), 'not_found')
      await expectStoreError(get().users.softDelete(newId()), 'not_found')
    })

    test('update, setPassword and softDelete of a soft-deleted user → not_found, row unchanged', async () => {
      const user = await get().users.create(makeUser())
      await get().users.softDelete(user.id)
      await expectStoreError(get().users.update(user.id, { name: 'x' }), 'not_found')
      await expectStoreError(get().users.setPassword(user.id, fakeBcryptHash()), 'not_found')
      await expectStoreError(get().users.softDelete(user.id), 'not_found')
      expect(await get().users.getById(user.id)).toBeNull()
    })

    test('list of an empty store is one empty page', async () => {
      expect(await get().users.list({ limit: 10 })).toEqual({ items: [], nextCursor: null })
    })

    for (const limit of [1, 2, 3, 7, 100]) {
      test(`list pages oldest first with limit ${limit}: every live user exactly once, no gaps`, async () => {
        const created: User[] = []
        for (let i = 0; i < 8; i++) created.push(await get().users.create(makeUser({ disabled: i === 3 })))
        await get().users.softDelete(created[5]!.id)
        const live = created.filter((_, i) => i !== 5)
        const walk = await walkPages((cursor) => get().users.list({ limit, cursor }), 20)
        expect(walk.items.map((u) => u.id)).toEqual(ascending(live.map((u) => u.id)))
        expect(walk.pageSizes).toEqual(expectedPageSizes(live.length, limit))
        expect(walk.items.find((u) => u.id === created[3]!.id)).toEqual(created[3]!)
      })
    }
  })
}

// ---------------------------------------------------------------------------------------------

function sessionTests(get: Get): void {
  describe('sessions', () => {
    const owner = () => get().users.create(makeUser())

    test('create returns the session active at version 1; getByTokenHash returns exactly it', async () => {
      const user = await owner()
      const input = makeSession(user.id, { expiresAt: '2031-05-06T07:08:09.120Z' })
      const session = await get().sessions.create(input)
      expect(session).toEqual({
        ...input,
        revokedAt: null,
        replacedBy: null,
        createdAt: session.createdAt,
        updatedAt: session.createdAt,
        version: 1,
      })
      expect(session.createdAt).toMatch(ISO_MS)
      expect(await get().sessions.getByTokenHash(input.tokenHash)).toEqual(session)
    })

    test('getByTokenHash of an unknown hash returns null', async () => {
      await get().sessions.create(makeSession((await owner()).id))
      expect(await get().sessions.getByTokenHash(fakeTokenHash())).toBeNull()
    })

    test('getByTokenHash returns expired and revoked sessions too (reuse detection)', async () => {
      const user = await owner()
      const expired = await get().sessions.create(makeSession(user.id, { expiresAt: '2001-01-01T00:00:00.000Z' }))
      const revoked = await get().sessions.create(makeSession(user.id))
      await get().sessions.revoke(revoked.id)
      expect(await get().sessions.getByTokenHash(expired.tokenHash)).toEqual(expired)
      expect((await get().sessions.getByTokenHash(revoked.tokenHash))?.id).toBe(revoked.id)
    })

    test('rotate revokes the old session (revokedAt, replacedBy, version +1) and creates the new one', async () => {
      const user = await owner()
      const old = await get().sessions.create(makeSession(user.id))
      await clockPast(old.updatedAt)
      const nextInput = makeSession(user.id)
      const next = await get().sessions.rotate(old.id, nextInput)
      expect(next).toEqual({ ...nextInput, revokedAt: null, replacedBy: null, createdAt: next!.createdAt, updatedAt: next!.createdAt, version: 1 })
      expect(await get().sessions.getByTokenHash(nextInput.tokenHash)).toEqual(next)
      const oldNow = await get().sessions.getByTokenHash(old.tokenHash)
      expect(oldNow).toEqual({ ...old, revokedAt: oldNow!.revokedAt, replacedBy: nextInput.id, updatedAt: oldNow!.updatedAt, version: 2 })
      expect(oldNow!.revokedAt).toMatch(ISO_MS)
      expect(oldNow!.updatedAt > old.updatedAt).toBe(true)
    })

    test('rotate of an already revoked session returns null and creates nothing', async () => {
      const user = await owner()
      const old = await get().sessions.create(makeSession(user.id))
      await get().sessions.revoke(old.id)
      const revoked = await get().sessions.getByTokenHash(old.tokenHash)
      const next = makeSession(user.id)
      expect(await get().sessions.rotate(old.id, next)).toBeNull()
      expect(await get().sessions.getByTokenHash(next.tokenHash)).toBeNull()
      expect(await get().sessions.getByTokenHash(old.tokenHash)).toEqual(revoked)
    })

    test('a second rotate of the same session returns null; the first replacement stands', async () => {
      const user = await owner()
      const old = await get().sessions.create(makeSession(user.id))
      const first = makeSession(user.id)
      const second = makeSession(user.id)
      expect((await get().sessions.rotate(old.id, first))?.id).toBe(first.id)
      expect(await get().sessions.rotate(old.id, second)).toBeNull()
      expect(await get().sessions.getByTokenHash(second.tokenHash)).toBeNull()
      expect((await get().sessions.getByTokenHash(old.tokenHash))?.replacedBy).toBe(first.id)
    })

    test('concurrent rotations of one session: exactly one wins', async () => {
      const user = await owner()
      const old = await get().sessions.create(makeSession(user.id))
      const nexts = Array.from({ length: 4 }, () => makeSession(user.id))
      const results = await Promise.all(nexts.map((n) => get().sessions.rotate(old.id, n)))
      const winners = results.filter((r) => r !== null)
      expect(winners.length).toBe(1)
      const found = await Promise.all(nexts.map((n) => get().sessions.getByTokenHash(n.tokenHash)))
      expect(found.filter((f) => f !== null).map((f) => f!.id)).toEqual([winners[0]!.id])
      expect((await get().sessions.getByTokenHash(old.tokenHash))?.replacedBy).toBe(winners[0]!.id)
    })

    test('revoke sets revokedAt and bumps version; revoking again changes nothing', async () => {
      const user = await owner()
      const session = await get().sessions.create(makeSession(user.id))
      await get().sessions.revoke(session.id)
      const revoked = await get().sessions.getByTokenHash(session.tokenHash)
      expect(revoked).toEqual({ ...session, revokedAt: revoked!.revokedAt, updatedAt: revoked!.updatedAt, version: 2 })
      expect(revoked!.revokedAt).toMatch(ISO_MS)
      await get().sessions.revoke(session.id)
      expect(await get().sessions.getByTokenHash(session.tokenHash)).toEqual(revoked)
    })

    test('revokeAllForUser revokes every active session of that user only and returns the count', async () => {
      const user = await owner()
      const other = await owner()
      const mine = await Promise.all([1, 2, 3].map(() => get().sessions.create(makeSession(user.id))))
      const alreadyRevoked = await get().sessions.create(makeSession(user.id))
      await get().sessions.revoke(alreadyRevoked.id)
      const before = await get().sessions.getByTokenHash(alreadyRevoked.tokenHash)
      const theirs = await get().sessions.create(makeSession(other.id))
      expect(await get().sessions.revokeAllForUser(user.id)).toBe(3)
      for (const s of mine) expect((await get().sessions.getByTokenHash(s.tokenHash))?.revokedAt).toMatch(ISO_MS)
      expect(await get().sessions.getByTokenHash(alreadyRevoked.tokenHash)).toEqual(before)
      expect(await get().sessions.getByTokenHash(theirs.tokenHash)).toEqual(theirs)
      expect(await get().sessions.revokeAllForUser(user.id)).toBe(0)
    })

    test('revokeAllForUser with exceptId leaves that session active', async () => {
      const user = await owner()
      const [keep, a, b] = await Promise.all([1, 2, 3].map(() => get().sessions.create(makeSession(user.id))))
      expect(await get().sessions.revokeAllForUser(user.id, keep!.id)).toBe(2)
      expect(await get().sessions.getByTokenHash(keep!.tokenHash)).toEqual(keep!)
      expect((await get().sessions.getByTokenHash(a!.tokenHash))?.revokedAt).toMatch(ISO_MS)
      expect((await get().sessions.getByTokenHash(b!.tokenHash))?.revokedAt).toMatch(ISO_MS)
      expect(await get().sessions.revokeAllForUser(user.id, keep!.id)).toBe(0)
    })

    test('getForSession: the user and the session while both are live; the session a refresh rotated it into after', async () => {
      const user = await owner()
      const session = await get().sessions.create(makeSession(user.id))
      expect(await get().users.getForSession(user.id, session.id)).toEqual({ user: (await get().users.getById(user.id))!, sessionId: session.id })
      const next = (await get().sessions.rotate(session.id, makeSession(user.id)))!
      expect((await get().users.getForSession(user.id, session.id))?.sessionId).toBe(next.id)
      expect((await get().users.getForSession(user.id, next.id))?.sessionId).toBe(next.id)
      // Ending the replacement ends the tokens issued before the refresh too.
      await get().sessions.revoke(next.id)
      expect(await get().users.getForSession(user.id, session.id)).toBeNull()
      expect(await get().users.getForSession(user.id, next.id)).toBeNull()
    })

    test('getForSession: null for a revoked or expired session, a disabled or deleted user, another user, unknown ids', async () => {
      const user = await owner()
      const other = await owner()
      const revoked = await get().sessions.create(makeSession(user.id))
      await get().sessions.revoke(revoked.id)
      const expired = await get().sessions.create(makeSession(user.id, { expiresAt: '2001-01-01T00:00:00.000Z' }))
      const live = await get().sessions.create(makeSession(user.id))
      expect(await get().users.getForSession(user.id, revoked.id)).toBeNull()
      expect(await get().users.getForSession(user.id, expired.id)).toBeNull()
      expect(await get().users.getForSession(other.id, live.id)).toBeNull()
      expect(await get().users.getForSession(user.id, newId())).toBeNull()
      expect(await get().users.getForSession(user.id, 'not-a-uuid')).toBeNull()
      expect(await get().users.getForSession('not-a-uuid', live.id)).toBeNull()
      await get().users.update(user.id, { disabled: true })
      expect(await get().users.getForSession(user.id, live.id)).toBeNull()
      await get().users.update(user.id, { disabled: false })
      expect((await get().users.getForSession(user.id, live.id))?.sessionId).toBe(live.id)
      await get().users.softDelete(user.id)
      expect(await get().users.getForSession(user.id, live.id)).toBeNull()
    })

    test('create with an audit event: both are written', async () => {
      const user = await owner()
      const input = makeSession(user.id)
      const audit = { id: newId(), action: 'auth.login', actorId: user.id, targetId: user.id, ip: '10.0.0.1', details: { session_id: input.id } }
      expect(await get().sessions.create(input, audit)).toMatchObject({ id: input.id, userId: user.id })
      const events = (await get().audit.list({ limit: 100 })).items.filter((e) => e.id === audit.id)
      expect(events).toEqual([expect.objectContaining({ action: 'auth.login', actorId: user.id, ip: '10.0.0.1', details: { session_id: input.id } })])
    })

    test('revokeAllForUser with an audit event: the event counts what the same write revoked', async () => {
      const user = await owner()
      const kept = await get().sessions.create(makeSession(user.id))
      await get().sessions.create(makeSession(user.id))
      await get().sessions.create(makeSession(user.id))
      const audit = { id: newId(), action: 'auth.password_changed', actorId: user.id, targetId: user.id, details: { why: 'test' } }
      expect(await get().sessions.revokeAllForUser(user.id, kept.id, audit)).toBe(2)
      const none = { ...audit, id: newId() }
      expect(await get().sessions.revokeAllForUser(user.id, kept.id, none)).toBe(0)
      const events = (await get().audit.list({ limit: 100 })).items.filter((e) => e.id === audit.id || e.id === none.id)
      expect(events.map((e) => [e.id, e.details])).toEqual([
        [none.id, { why: 'test', sessions_revoked: 0 }],
        [audit.id, { why: 'test', sessions_revoked: 2 }],
      ])
    })

    test('getWithUser: the session of a token hash with its user, in one answer; the user null once deleted', async () => {
      const user = await owner()
      const session = await get().sessions.create(makeSession(user.id))
      expect(await get().sessions.getWithUser(session.tokenHash)).toEqual({ session, user: (await get().users.getById(user.id))! })
      expect(await get().sessions.getWithUser('no-such-hash')).toBeNull()
      await get().users.update(user.id, { disabled: true })
      expect((await get().sessions.getWithUser(session.tokenHash))?.user?.disabled).toBe(true)
      await get().users.softDelete(user.id)
      expect(await get().sessions.getWithUser(session.tokenHash)).toEqual({ session, user: null })
    })

    test('a duplicate token hash → conflict, nothing written', async () => {
      const user = await owner()
      const first = await get().sessions.create(makeSession(user.id))
      const dup = makeSession(user.id, { tokenHash: first.tokenHash })
      await expectStoreError(get().sessions.create(dup), 'conflict')
      expect(await get().sessions.getByTokenHash(first.tokenHash)).toEqual(first)
      await expectStoreError(get().sessions.rotate(first.id, makeSession(user.id, { tokenHash: first.tokenHash })), 'conflict')
      expect(await get().sessions.getByTokenHash(first.tokenHash)).toEqual(first)
    })
  })
}

// ---------------------------------------------------------------------------------------------

function callerTests(get: Get): void {
  describe('as(caller): the account checked by the operation itself', () => {
    const signedIn = async (role: 'admin' | 'user' = 'user') => {
      const user = await get().users.create(makeUser({ role }))
      const session = await get().sessions.create(makeSession(user.id))
      return { user, session, caller: { userId: user.id, sessionId: session.id } }
    }

    test('endSessions (logout): the live session and the caller\'s own refresh session end, with the audit row', async () => {
      const { user, session } = await signedIn()
      const next = (await get().sessions.rotate(session.id, makeSession(user.id)))!
      const other = await get().sessions.create(makeSession(user.id))
      const stranger = await signedIn()
      const audit = { id: newId(), action: 'auth.logout', ip: '10.0.0.2' }
      // the token's session was rotated: its live successor ends; a stranger's token is ignored
      expect(await get().sessions.endSessions(user.id, session.id, stranger.session.tokenHash, audit)).toEqual([next.id])
      expect((await get().sessions.getByTokenHash(stranger.session.tokenHash))?.revokedAt).toBeNull()
      expect(await get().users.getForSession(user.id, session.id)).toBeNull()
      const again = await get().sessions.create(makeSession(user.id))
      const second = { id: newId(), action: 'auth.logout' }
      expect(await get().sessions.endSessions(user.id, again.id, other.tokenHash, second)).toEqual([again.id, other.id])
      expect((await get().sessions.getByTokenHash(other.tokenHash))?.revokedAt).not.toBeNull()
      const events = (await get().audit.list({ limit: 100 })).items.filter((e) => e.id === audit.id || e.id === second.id)
      expect(events.map((e) => [e.actorId, e.targetId, e.details])).toEqual([
        [user.id, user.id, { session_ids: [again.id, other.id] }],
        [user.id, user.id, { session_ids: [next.id] }],
      ])
      // ended already: unauthorized, and no audit row
      const late = { id: newId(), action: 'auth.logout' }
      await expectStoreError(get().sessions.endSessions(user.id, again.id, null, late), 'unauthorized')
      expect((await get().audit.list({ limit: 100 })).items.some((e) => e.id === late.id)).toBe(false)
    })

    test('changeAccount and disableAccount: the change, the sessions it ends and its audit rows together', async () => {
      const admin = await signedIn('admin')
      const target = await signedIn('user')
      const second = await get().sessions.create(makeSession(target.user.id))
      const as = get().as({ ...admin.caller, role: 'admin' })
      const ev = (action: string, details?: Record<string, unknown>) => ({ id: newId(), action, actorId: admin.user.id, targetId: target.user.id, ...(details ? { details } : {}) })
      // a rename alone: no session ends, one audit row
      const renamed = await as.users.changeAccount(target.user.id, { patch: { name: 'Renamed' }, passwordHash: null, endSessions: false, keepSessionId: null }, { updated: ev('admin.user_updated', { fields: ['name'] }), disabled: ev('admin.user_disabled') })
      expect(renamed.user).toMatchObject({ name: 'Renamed', version: target.user.version + 1 })
      expect(renamed.audit.map((e) => [e.action, e.details])).toEqual([['admin.user_updated', { fields: ['name'], email: target.user.email, sessions_revoked: 0 }]])
      // a new password and disabling, keeping one session: two audit rows, one session ended
      const changed = await as.users.changeAccount(
        target.user.id,
        { patch: { disabled: true }, passwordHash: 'new-hash', endSessions: true, keepSessionId: second.id },
        { updated: ev('admin.user_updated', { fields: ['disabled', 'password'] }), disabled: ev('admin.user_disabled') },
      )
      expect(changed.user).toMatchObject({ disabled: true, passwordHash: 'new-hash', version: target.user.version + 3 })
      expect(changed.audit.map((e) => [e.action, e.details?.sessions_revoked]).sort()).toEqual([['admin.user_disabled', 1], ['admin.user_updated', 1]])
      expect((await get().sessions.getByTokenHash(target.session.tokenHash))?.revokedAt).not.toBeNull()
      expect((await get().sessions.getByTokenHash(second.tokenHash))?.revokedAt).toBeNull()
      expect(await get().users.getById(target.user.id)).toEqual(changed.user)
      // already disabled: no second user_disabled row
      const again = await as.users.changeAccount(target.user.id, { patch: { disabled: true }, passwordHash: null, endSessions: true, keepSessionId: null }, { updated: ev('admin.user_updated'), disabled: ev('admin.user_disabled') })
      expect(again.audit.map((e) => [e.action, e.details?.sessions_revoked])).toEqual([['admin.user_updated', 1]])
      const disabled = await as.users.disableAccount(target.user.id, ev('admin.user_disabled'))
      expect(disabled.user.disabled).toBe(true)
      expect(disabled.audit.map((e) => e.details)).toEqual([{ email: target.user.email, sessions_revoked: 0 }])
      await expectStoreError(as.users.disableAccount(newId(), ev('admin.user_disabled')), 'not_found')
      await expectStoreError(as.users.changeAccount(newId(), { patch: { name: 'x' }, passwordHash: null, endSessions: false, keepSessionId: null }, { updated: ev('admin.user_updated'), disabled: ev('admin.user_disabled') }), 'not_found')
      // not an admin: forbidden, nothing written
      await get().users.update(target.user.id, { disabled: false })
      const fresh = await get().sessions.create(makeSession(target.user.id))
      await expectStoreError(get().as({ userId: target.user.id, sessionId: fresh.id, role: 'admin' }).users.disableAccount(admin.user.id, ev('admin.user_disabled')), 'forbidden')
      expect((await get().users.getById(admin.user.id))?.disabled).toBe(false)
    })

    test('a role: forbidden without it, the reads go through with it', async () => {
      const member = await signedIn('user')
      const admin = await signedIn('admin')
      await expectStoreError(get().as({ ...member.caller, role: 'admin' }).users.list({ limit: 5 }), 'forbidden')
      await expectStoreError(get().as({ ...member.caller, role: 'admin' }).users.getById(admin.user.id), 'forbidden')
      await expectStoreError(get().as({ ...member.caller, role: 'admin' }).audit.list({ limit: 5 }), 'forbidden')
      const asAdmin = get().as({ ...admin.caller, role: 'admin' })
      expect(await asAdmin.users.getById(member.user.id)).toEqual(member.user)
      expect((await asAdmin.users.list({ limit: 100 })).items.map((u) => u.id)).toContain(member.user.id)
      expect(await asAdmin.audit.list({ limit: 5 })).toMatchObject({ items: expect.any(Array) })
      await get().users.update(admin.user.id, { role: 'user' })
      await expectStoreError(asAdmin.users.getById(member.user.id), 'forbidden')
    })
  })
}

function auditTests(get: Get): void {
  describe('audit', () => {
    test('append returns the event with an app-made timestamp and nulls for omitted fields', async () => {
      const before = nowIso()
      const input = makeAudit({ action: 'login.ok' })
      const event = await get().audit.append(input)
      expect(event).toEqual({ id: input.id, at: event.at, action: 'login.ok', actorId: null, targetId: null, ip: null, details: null })
      expect(event.at).toMatch(ISO_MS)
      expect(event.at >= before && event.at <= nowIso()).toBe(true)
    })

    test('append stores every field; list returns the event exactly', async () => {
      const actor = await get().users.create(makeUser())
      const target = await get().users.create(makeUser())
      const event = await get().audit.append(
        makeAudit({ action: 'admin.user.update', actorId: actor.id, targetId: target.id, ip: '2001:db8::1', details: { fields: ['role'] } }),
      )
      expect([event.actorId, event.targetId, event.ip]).toEqual([actor.id, target.id, '2001:db8::1'])
      expect(await get().audit.list({ limit: 10 })).toEqual({ items: [event], nextCursor: null })
    })

    for (const limit of [1, 3, 7, 100]) {
      test(`list pages newest first with limit ${limit}: every event exactly once`, async () => {
        const ids: string[] = []
        for (let i = 0; i < 7; i++) ids.push((await get().audit.append(makeAudit({ action: `event.${i}` }))).id)
        const walk = await walkPages((cursor) => get().audit.list({ limit, cursor }), 20)
        expect(walk.items.map((e) => e.id)).toEqual(descending(ids))
        expect(walk.pageSizes).toEqual(expectedPageSizes(7, limit))
      })
    }

    test('append is idempotent on id: the second append writes nothing and returns the first event', async () => {
      const input = makeAudit({ action: 'once', details: { n: 1 } })
      const first = await get().audit.append(input)
      await clockPast(first.at)
      const second = await get().audit.append({ ...input, action: 'twice', details: { n: 2 } })
      expect(second).toEqual(first)
      expect((await get().audit.list({ limit: 10 })).items).toEqual([first])
    })

    test('details round-trip as JSON: nested objects, arrays, numbers, booleans, null, unicode', async () => {
      const details = {
        nested: { deep: { deeper: { list: [1, 2.5, -3, 0, 1e21] } } },
        flags: [true, false, null],
        text: 'Grüße 漢字 😀 "quoted" \\ back\nslash',
        empty: {},
        emptyList: [],
        'key with spaces and ünïcode': 'value',
      }
      const event = await get().audit.append(makeAudit({ details }))
      expect(event.details).toEqual(details)
      const [listed] = (await get().audit.list({ limit: 1 })).items
      expect(listed!.details).toEqual(details)
    })
  })
}

// ---------------------------------------------------------------------------------------------

function settingsTests(get: Get): void {
  describe('settings', () => {
    test('get of a missing key returns null', async () => {
      expect(await get().settings.get('missing')).toBeNull()
    })

    test('set then get returns the value; set overwrites', async () => {
      await get().settings.set('jwt_secret', 'first')
      expect(await get().settings.get('jwt_secret')).toBe('first')
      await get().settings.set('jwt_secret', 'second')
      expect(await get().settings.get('jwt_secret')).toBe('second')
      expect(await get().settings.get('other')).toBeNull()
    })

    test('values round-trip exactly: empty, whitespace, quotes, unicode, 64 KiB', async () => {
      const values = ['', '  padded  ', `it's "quoted" \\ %_`, ...UNICODE_SAMPLES, 'k'.repeat(64 * 1024)]
      for (const [i, v] of values.entries()) await get().settings.set(`key.${i}`, v)
      for (const [i, v] of values.entries()) expect(await get().settings.get(`key.${i}`)).toBe(v)
    })

    test('setIfAbsent stores and returns the value when the key is missing', async () => {
      expect(await get().settings.setIfAbsent('k', 'v1')).toBe('v1')
      expect(await get().settings.get('k')).toBe('v1')
    })

    test('setIfAbsent returns the existing value and does not overwrite it', async () => {
      await get().settings.set('k', 'kept')
      expect(await get().settings.setIfAbsent('k', 'ignored')).toBe('kept')
      expect(await get().settings.get('k')).toBe('kept')
    })

    test('concurrent setIfAbsent with different values: every caller gets the one stored value', async () => {
      const candidates = ['a', 'b', 'c', 'd', 'e'].map((c) => `secret-${c}`)
      const results = await Promise.all(candidates.map((v) => get().settings.setIfAbsent('race', v)))
      const stored = await get().settings.get('race')
      expect(candidates).toContain(stored!)
      expect(results).toEqual(candidates.map(() => stored!))
    })
  })
}

// ---------------------------------------------------------------------------------------------

function transactionTests(get: Get): void {
  describe('transaction', () => {
    test('a throwing fn rolls back every write (users and notes) and rethrows its error', async () => {
      const owner = await get().users.create(makeUser())
      const user = makeUser()
      const note = makeNote(owner.id)
      const boom = new Error('boom')
      const result = get().transaction(async (tx) => {
        await tx.users.create(user)
        await tx.notes.create(note)
        await tx.users.update(owner.id, { name: 'renamed in tx' })
        throw boom
      })
      await expect(result).rejects.toBe(boom)
      expect(await get().users.getById(user.id)).toBeNull()
      expect(await get().notes.get(owner.id, note.id)).toBeNull()
      expect(await get().users.getById(owner.id)).toEqual(owner)
    })

    test('a StoreError inside fn rolls back the writes before it and propagates', async () => {
      const owner = await get().users.create(makeUser({ email: 'taken@example.com' }))
      const note = makeNote(owner.id)
      await expectStoreError(
        get().transaction(async (tx) => {
          await tx.notes.create(note)
          await tx.users.create(makeUser({ email: 'TAKEN@example.com' }))
        }),
        'conflict',
      )
      expect(await get().notes.get(owner.id, note.id)).toBeNull()
    })

    test('a successful fn commits its writes and returns its value', async () => {
      const user = makeUser()
      const value = await get().transaction(async (tx) => {
        const created = await tx.users.create(user)
        const note = await tx.notes.create(makeNote(created.id, { title: 'in tx' }))
        return { userId: created.id, noteId: note.id }
      })
      expect(value.userId).toBe(user.id)
      expect((await get().users.getById(user.id))?.email).toBe(user.email)
      expect((await get().notes.get(user.id, value.noteId))?.title).toBe('in tx')
    })

    test('reads inside the transaction see its own writes', async () => {
      const user = makeUser()
      const seen = await get().transaction(async (tx) => {
        const created = await tx.users.create(user)
        const note = await tx.notes.create(makeNote(created.id))
        await tx.settings.set('in.tx', 'yes')
        return {
          byId: await tx.users.getById(user.id),
          byEmail: await tx.users.getByEmail(user.email),
          notes: (await tx.notes.list(user.id, { limit: 10 })).items,
          setting: await tx.settings.get('in.tx'),
          created,
          note,
        }
      })
      expect(seen.byId).toEqual(seen.created)
      expect(seen.byEmail).toEqual(seen.created)
      expect(seen.notes).toEqual([seen.note])
      expect(seen.setting).toBe('yes')
    })
  })
}

// ---------------------------------------------------------------------------------------------

function roundTripTests(get: Get): void {
  describe('round-trips', () => {
    test('unicode names, titles and bodies come back exactly (no normalization, no trimming)', async () => {
      const owner = await get().users.create(makeUser())
      for (const text of UNICODE_SAMPLES) {
        const user = await get().users.create(makeUser({ name: text }))
        expect((await get().users.getById(user.id))?.name).toBe(text)
        const note = await get().notes.create(makeNote(owner.id, { title: text, body: `${text}\n${text}` }))
        const read = await get().notes.get(owner.id, note.id)
        expect([read?.title, read?.body]).toEqual([text, `${text}\n${text}`])
      }
      expect((await get().notes.list(owner.id, { limit: 100, q: '한국어' })).items.length).toBe(1)
      expect((await get().notes.list(owner.id, { limit: 100, q: 'e\u0301' })).items.length).toBe(1)
    })

    test('a 1 MiB body round-trips exactly through create, get, list and update', async () => {
      const owner = await get().users.create(makeUser())
      const body = oneMiBText()
      expect(Buffer.byteLength(body)).toBe(1024 * 1024)
      const note = await get().notes.create(makeNote(owner.id, { body }))
      expect((await get().notes.get(owner.id, note.id))?.body).toBe(body)
      expect((await get().notes.list(owner.id, { limit: 1 })).items[0]?.body).toBe(body)
      const reversed = [...body].reverse().join('')
      await get().notes.update(owner.id, note.id, { body: reversed })
      expect((await get().notes.get(owner.id, note.id))?.body).toBe(reversed)
    })

    test('timestamps are ISO with milliseconds and read back equal to what the write returned', async () => {
      const user = await get().users.create(makeUser())
      const updated = await get().users.update(user.id, { name: 'x' })
      const note = await get().notes.create(makeNote(user.id))
      const session = await get().sessions.create(makeSession(user.id, { expiresAt: '2040-12-31T23:59:59.000Z' }))
      const event = await get().audit.append(makeAudit())
      const stamps = [user.createdAt, updated.createdAt, updated.updatedAt, note.createdAt, note.updatedAt, session.createdAt, session.expiresAt, event.at]
      for (const t of stamps) expect(t).toMatch(ISO_MS)
      const readUser = await get().users.getById(user.id)
      const readNote = await get().notes.get(user.id, note.id)
      const readSession = await get().sessions.getByTokenHash(session.tokenHash)
      const readEvent = (await get().audit.list({ limit: 1 })).items[0]
      expect([readUser?.createdAt, readUser?.updatedAt]).toEqual([updated.createdAt, updated.updatedAt])
      expect([readNote?.createdAt, readNote?.updatedAt]).toEqual([note.createdAt, note.updatedAt])
      expect([readSession?.createdAt, readSession?.expiresAt]).toEqual([session.createdAt, '2040-12-31T23:59:59.000Z'])
      expect(readEvent?.at).toBe(event.at)
    })

    test('session expiresAt keeps the caller’s milliseconds, including leading zeros', async () => {
      const user = await get().users.create(makeUser())
      for (const expiresAt of ['2031-05-06T07:08:09.001Z', '2031-05-06T07:08:09.010Z', '2031-05-06T07:08:09.999Z']) {
        const s = await get().sessions.create(makeSession(user.id, { expiresAt }))
        expect(s.expiresAt).toBe(expiresAt)
        expect((await get().sessions.getByTokenHash(s.tokenHash))?.expiresAt).toBe(expiresAt)
      }
    })
  })
}

// ---------------------------------------------------------------------------------------------
// ReplicableStore

const rowKey = (c: RowChange): string => (c.table === 'settings' ? c.row.key : c.row.id)

/** every row of a table via exportRows pages of `limit`, checking that pages continue exactly */
async function exportAll(r: ReplicableStore, table: SyncTable, limit = 1000): Promise<RowChange[]> {
  const rows: RowChange[] = []
  let after: string | null = null
  for (let i = 0; i < 1000; i++) {
    const page: RowChange[] = await r.exportRows(table, after, limit)
    for (const c of page) expect(c.table).toBe(table)
    rows.push(...page)
    if (page.length < limit) return rows
    after = rowKey(page[page.length - 1]!)
  }
  throw new Error(`exportRows(${table}) did not end within 1000 pages`)
}

async function exportedRow(r: ReplicableStore, table: SyncTable, key: string): Promise<RowChange['row'] | undefined> {
  return (await exportAll(r, table)).find((c) => rowKey(c) === key)?.row
}

/** stable order for comparing the changes of one write that touched several rows */
const byKey = (changes: RowChange[]): RowChange[] => [...changes].sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : 1))

function changeSinkTests(get: () => ReplicableStore): void {
  describe('withChangeSink', () => {
    function sinkStore() {
      const changes: RowChange[] = []
      // opened with the built-in tables only, the store reports built-in rows (RowChange)
      const store = get().withChangeSink((c) => {
        changes.push(c as RowChange)
      })
      return { store, changes }
    }

    test('users: create, update, setPassword, softDelete each report the row as it now stands', async () => {
      const { store, changes } = sinkStore()
      const user = await store.users.create(makeUser())
      expect(changes).toEqual([{ table: 'users', row: user }])
      expect(changes[0]!.row).toEqual((await get().users.getById(user.id))!)
      const updated = await store.users.update(user.id, { role: 'admin' })
      const pw = await store.users.setPassword(user.id, fakeBcryptHash())
      expect(changes.slice(1)).toEqual([
        { table: 'users', row: updated },
        { table: 'users', row: pw },
      ])
      await store.users.softDelete(user.id)
      expect(changes.length).toBe(4)
      const deleted = changes[3]!
      expect(deleted.table).toBe('users')
      expect((deleted.row as User).deletedAt).toMatch(ISO_MS)
      expect((deleted.row as User).version).toBe(4)
      expect(deleted.row).toEqual((await exportedRow(get(), 'users', user.id))!)
    })

    test('a nested transaction rolled back (its error caught) reports none of its rows; the rest of the outer one is reported', async () => {
      const { store, changes } = sinkStore()
      const kept = makeUser()
      const undone = makeUser()
      await store.transaction(async (tx) => {
        await tx
          .transaction(async (inner) => {
            await inner.users.create(undone)
            throw new Error('undo the inner transaction')
          })
          .catch(() => undefined)
        await tx.users.create(kept)
      })
      expect(await get().users.getById(undone.id)).toBeNull()
      expect(changes.map((c) => rowKey(c))).toEqual([kept.id])
    })

    test('createIfAbsent that creates reports the new user', async () => {
      const { store, changes } = sinkStore()
      const { user } = await store.users.createIfAbsent(makeUser())
      expect(changes).toEqual([{ table: 'users', row: (await get().users.getById(user.id))! }])
    })

    test('sessions: create reports 1 row, rotate 2 rows, revokeAllForUser n rows, all equal to fresh reads', async () => {
      const { store, changes } = sinkStore()
      const user = await get().users.create(makeUser())
      const old = await store.sessions.create(makeSession(user.id))
      expect(changes).toEqual([{ table: 'sessions', row: old }])

      changes.length = 0
      const next = (await store.sessions.rotate(old.id, makeSession(user.id)))!
      const fresh = [(await get().sessions.getByTokenHash(old.tokenHash))!, (await get().sessions.getByTokenHash(next.tokenHash))!]
      expect(byKey(changes)).toEqual(byKey(fresh.map((row) => ({ table: 'sessions' as const, row }))))

      const others = await Promise.all([1, 2].map(() => get().sessions.create(makeSession(user.id))))
      changes.length = 0
      expect(await store.sessions.revokeAllForUser(user.id)).toBe(3)
      const revoked = await Promise.all([next, ...others].map(async (s) => (await get().sessions.getByTokenHash(s.tokenHash))!))
      expect(byKey(changes)).toEqual(byKey(revoked.map((row) => ({ table: 'sessions' as const, row }))))
      for (const c of changes) expect((c.row as Session).revokedAt).toMatch(ISO_MS)
    })

    test('sessions: revoke reports the revoked row', async () => {
      const { store, changes } = sinkStore()
      const user = await get().users.create(makeUser())
      const session = await get().sessions.create(makeSession(user.id))
      await store.sessions.revoke(session.id)
      expect(changes).toEqual([{ table: 'sessions', row: (await get().sessions.getByTokenHash(session.tokenHash))! }])
    })

    test('notes: create, update, softDelete each report the row as it now stands', async () => {
      const { store, changes } = sinkStore()
      const owner = await get().users.create(makeUser())
      const note = await store.notes.create(makeNote(owner.id))
      const updated = await store.notes.update(owner.id, note.id, { body: 'changed' })
      expect(changes).toEqual([
        { table: 'notes', row: note },
        { table: 'notes', row: updated },
      ])
      expect(updated).toEqual((await get().notes.get(owner.id, note.id))!)
      await store.notes.softDelete(owner.id, note.id)
      expect(changes.length).toBe(3)
      expect((changes[2]!.row as Note).deletedAt).toMatch(ISO_MS)
      expect(changes[2]!.row).toEqual((await exportedRow(get(), 'notes', note.id))!)
    })

    test('audit append and settings set report their rows', async () => {
      const { store, changes } = sinkStore()
      const event = await store.audit.append(makeAudit({ details: { a: [1, { b: 'ü' }] } }))
      await store.settings.set('k', 'v')
      expect(changes.length).toBe(2)
      expect(changes[0]).toEqual({ table: 'audit', row: event })
      expect(changes[0]!.row).toEqual((await get().audit.list({ limit: 1 })).items[0]!)
      expect(changes[1]!.table).toBe('settings')
      expect(changes[1]!.row).toEqual((await exportedRow(get(), 'settings', 'k'))!)
      expect((changes[1]!.row as Setting).value).toBe('v')
    })

    test('writes inside a transaction of the sink store are reported', async () => {
      const { store, changes } = sinkStore()
      const user = makeUser()
      const noteId = await store.transaction(async (tx) => {
        await tx.users.create(user)
        return (await tx.notes.create(makeNote(user.id))).id
      })
      expect(changes.map((c) => [c.table, rowKey(c)])).toEqual([
        ['users', user.id],
        ['notes', noteId],
      ])
      expect(changes[1]!.row).toEqual((await get().notes.get(user.id, noteId))!)
    })

    test('failed writes, no-op writes and reads report nothing; the original store never reports', async () => {
      const { store, changes } = sinkStore()
      const user = await get().users.create(makeUser())
      await expectStoreError(store.users.create(makeUser({ email: user.email })), 'conflict')
      await expectStoreError(store.users.update(newId(), { name: 'x' }), 'not_found')
      const session = await get().sessions.create(makeSession(user.id))
      await get().sessions.revoke(session.id)
      expect(await store.sessions.rotate(session.id, makeSession(user.id))).toBeNull()
      await store.users.getById(user.id)
      await store.notes.list(user.id, { limit: 10 })
      await get().users.update(user.id, { name: 'via the original store' })
      expect(changes).toEqual([])
    })
  })
}

function applyChangeTests(get: () => ReplicableStore): void {
  describe('applyChange', () => {
    test('users: into an empty store → applied; the row reads back exactly', async () => {
      const row = userRow({ version: 3, updatedAt: T2, name: 'Ünïcode 😀' })
      expect(await get().applyChange({ table: 'users', row })).toBe('applied')
      expect(await get().users.getById(row.id)).toEqual(row)
      expect(await get().users.getByEmail(row.email)).toEqual(row)
    })

    test('users: replaying the same row → stale', async () => {
      const row = userRow()
      await get().applyChange({ table: 'users', row })
      expect(await get().applyChange({ table: 'users', row })).toBe('stale')
      expect(await get().users.getById(row.id)).toEqual(row)
    })

    test('users: an older version → stale, the stored row stays', async () => {
      const stored = userRow({ version: 3, updatedAt: T1, name: 'v3' })
      await get().applyChange({ table: 'users', row: stored })
      expect(await get().applyChange({ table: 'users', row: { ...stored, version: 2, updatedAt: T2, name: 'v2' } })).toBe('stale')
      expect(await get().users.getById(stored.id)).toEqual(stored)
    })

    test('users: a newer version → applied over a row the store wrote itself', async () => {
      const created = await get().users.create(makeUser({ name: 'local' }))
      const incoming: User = { ...created, name: 'remote', role: 'admin', version: 2, updatedAt: created.updatedAt }
      expect(await get().applyChange({ table: 'users', row: incoming })).toBe('applied')
      expect(await get().users.getById(created.id)).toEqual(incoming)
    })

    test('users: equal version decides by updatedAt (newer applied, older stale)', async () => {
      const stored = userRow({ version: 2, updatedAt: T1, name: 'stored' })
      await get().applyChange({ table: 'users', row: stored })
      expect(await get().applyChange({ table: 'users', row: { ...stored, updatedAt: T0, name: 'older' } })).toBe('stale')
      expect((await get().users.getById(stored.id))?.name).toBe('stored')
      const newer = { ...stored, updatedAt: T2, name: 'newer' }
      expect(await get().applyChange({ table: 'users', row: newer })).toBe('applied')
      expect(await get().users.getById(stored.id)).toEqual(newer)
    })

    test('users: a delete wins over a live row even with a lower version', async () => {
      const stored = userRow({ version: 5, updatedAt: T2 })
      await get().applyChange({ table: 'users', row: stored })
      const deletion = { ...stored, version: 2, updatedAt: T1, deletedAt: T1 }
      expect(await get().applyChange({ table: 'users', row: deletion })).toBe('applied')
      expect(await get().users.getById(stored.id)).toBeNull()
      expect(await exportedRow(get(), 'users', stored.id)).toEqual(deletion)
    })

    test('users: a stored deleted row is never un-deleted → stale', async () => {
      const deleted = userRow({ version: 2, updatedAt: T1, deletedAt: T1 })
      await get().applyChange({ table: 'users', row: deleted })
      expect(await get().applyChange({ table: 'users', row: { ...deleted, version: 9, updatedAt: T2, deletedAt: null } })).toBe('stale')
      expect(await get().users.getById(deleted.id)).toBeNull()
      expect(await exportedRow(get(), 'users', deleted.id)).toEqual(deleted)
    })

    test('users: an email held by another live user → conflict, nothing written', async () => {
      const existing = await get().users.create(makeUser({ email: 'clash@example.com' }))
      const incoming = userRow({ email: 'clash@example.com' })
      expect(await get().applyChange({ table: 'users', row: incoming })).toBe('conflict')
      expect(await exportedRow(get(), 'users', incoming.id)).toBeUndefined()
      expect(await get().users.getByEmail('clash@example.com')).toEqual(existing)
    })

    test('users: an email held only by a soft-deleted user is free → applied', async () => {
      const gone = await get().users.create(makeUser({ email: 'free@example.com' }))
      await get().users.softDelete(gone.id)
      const incoming = userRow({ email: 'free@example.com' })
      expect(await get().applyChange({ table: 'users', row: incoming })).toBe('applied')
      expect(await get().users.getByEmail('free@example.com')).toEqual(incoming)
    })

    test('sessions: applied and readable; a stored revoked session is never un-revoked', async () => {
      const user = await get().users.create(makeUser())
      const row = sessionRow(user.id, { version: 2, revokedAt: T1, updatedAt: T1, replacedBy: newId() })
      expect(await get().applyChange({ table: 'sessions', row })).toBe('applied')
      expect(await get().sessions.getByTokenHash(row.tokenHash)).toEqual(row)
      const unrevoke = { ...row, version: 7, updatedAt: T2, revokedAt: null, replacedBy: null }
      expect(await get().applyChange({ table: 'sessions', row: unrevoke })).toBe('stale')
      expect(await get().sessions.getByTokenHash(row.tokenHash)).toEqual(row)
    })

    test('sessions: a revocation wins over an active row; a token hash of another session → conflict', async () => {
      const user = await get().users.create(makeUser())
      const active = await get().sessions.create(makeSession(user.id))
      const revocation = { ...active, revokedAt: T2, updatedAt: T2 }
      expect(await get().applyChange({ table: 'sessions', row: revocation })).toBe('applied')
      expect(await get().sessions.getByTokenHash(active.tokenHash)).toEqual(revocation)
      const clash = sessionRow(user.id, { tokenHash: active.tokenHash })
      expect(await get().applyChange({ table: 'sessions', row: clash })).toBe('conflict')
      expect(await exportedRow(get(), 'sessions', clash.id)).toBeUndefined()
    })

    test('notes: applied, older stale, newer applied, deletion applied', async () => {
      const owner = await get().users.create(makeUser())
      const v2 = noteRow(owner.id, { version: 2, updatedAt: T1, title: 'v2' })
      expect(await get().applyChange({ table: 'notes', row: v2 })).toBe('applied')
      expect(await get().notes.get(owner.id, v2.id)).toEqual(v2)
      expect(await get().applyChange({ table: 'notes', row: { ...v2, version: 1, title: 'v1' } })).toBe('stale')
      const v3 = { ...v2, version: 3, updatedAt: T2, title: 'v3', body: 'new body' }
      expect(await get().applyChange({ table: 'notes', row: v3 })).toBe('applied')
      expect(await get().notes.get(owner.id, v2.id)).toEqual(v3)
      expect((await get().notes.list(owner.id, { limit: 10, q: 'NEW BODY' })).items).toEqual([v3])
      expect(await get().applyChange({ table: 'notes', row: { ...v3, version: 4, deletedAt: T2 } })).toBe('applied')
      expect(await get().notes.get(owner.id, v2.id)).toBeNull()
    })

    test('audit: insert-or-ignore by id', async () => {
      const row: AuditEvent = { id: newId(), at: T1, action: 'replayed', actorId: null, targetId: null, ip: '192.0.2.1', details: { k: ['v', 1] } }
      expect(await get().applyChange({ table: 'audit', row })).toBe('applied')
      expect(await get().applyChange({ table: 'audit', row: { ...row, action: 'other', at: T2 } })).toBe('stale')
      expect((await get().audit.list({ limit: 10 })).items).toEqual([row])
    })

    test('settings: by key with the version/updatedAt rule', async () => {
      const row: Setting = { key: 'replicated', value: 'v2', updatedAt: T1, version: 2 }
      expect(await get().applyChange({ table: 'settings', row })).toBe('applied')
      expect(await get().settings.get('replicated')).toBe('v2')
      expect(await get().applyChange({ table: 'settings', row: { ...row, value: 'v1', version: 1, updatedAt: T2 } })).toBe('stale')
      expect(await get().applyChange({ table: 'settings', row: { ...row, value: 'v3', version: 3, updatedAt: T2 } })).toBe('applied')
      expect(await get().settings.get('replicated')).toBe('v3')
      expect(await exportedRow(get(), 'settings', 'replicated')).toEqual({ key: 'replicated', value: 'v3', updatedAt: T2, version: 3 })
    })
  })
}

/** One kind of last-writer-wins table (src/db/tables.ts): a row of it, its parents created first. */
interface MergeKind {
  table: SyncTable
  /** the record field its tombstone column fills; null: its rows are never deleted */
  tombstone: 'deletedAt' | 'revokedAt' | null
  row(store: ReplicableStore): Promise<RowChange['row']>
}

const MERGE_KINDS: MergeKind[] = [
  { table: 'users', tombstone: 'deletedAt', row: async () => userRow() },
  { table: 'sessions', tombstone: 'revokedAt', row: async (s) => sessionRow((await s.users.create(makeUser())).id) },
  { table: 'notes', tombstone: 'deletedAt', row: async (s) => noteRow((await s.users.create(makeUser())).id) },
  { table: 'settings', tombstone: null, row: async () => ({ key: `merge-${newId()}`, value: 'v', updatedAt: T0, version: 1 }) },
]

function mergeRuleTests(get: () => ReplicableStore): void {
  describe('applyChange: the merge rule, step by step, on each kind of table', () => {
    for (const kind of MERGE_KINDS) {
      test(`${kind.table}: each outcome, and the row each leaves stored`, async () => {
        const store = get()
        const base = await kind.row(store)
        const key = 'key' in base ? base.key : base.id
        const at = (version: number, updatedAt: string, gone?: string) =>
          ({ ...base, version, updatedAt, ...(kind.tombstone && gone ? { [kind.tombstone]: gone } : {}) }) as RowChange['row']
        const steps: [string, RowChange['row'], 'applied' | 'stale'][] = [
          ['none stored', at(2, T1), 'applied'],
          ['the same row again', at(2, T1), 'stale'],
          ['a lower version, however late', at(1, T2), 'stale'],
          ['the same version, earlier', at(2, T0), 'stale'],
          ['the same version, later', at(2, T2), 'applied'],
          ['a higher version, however early', at(3, T0), 'applied'],
        ]
        if (kind.tombstone)
          steps.push(
            ['a delete over a live row, whatever its version', at(1, T0, T0), 'applied'],
            ['a live row over a deleted one, whatever its version', at(9, T2), 'stale'],
            ['a newer delete over a delete', at(2, T1, T1), 'applied'],
            ['an older delete over a delete', at(1, T2, T2), 'stale'],
          )
        let standing: RowChange['row'] | undefined
        for (const [what, row, outcome] of steps) {
          expect({ what, outcome: await store.applyChange({ table: kind.table, row } as RowChange) }).toEqual({ what, outcome })
          if (outcome === 'applied') standing = row
          expect({ what, stored: await exportedRow(store, kind.table, key) }).toEqual({ what, stored: standing })
        }
      })
    }

    test('users: a newer row whose email another live user holds → conflict, the stored row stays', async () => {
      const store = get()
      const other = await store.users.create(makeUser({ email: 'taken@example.com' }))
      const stored = userRow({ version: 1 })
      expect(await store.applyChange({ table: 'users', row: stored })).toBe('applied')
      expect(await store.applyChange({ table: 'users', row: { ...stored, email: other.email, version: 2, updatedAt: T2 } })).toBe('conflict')
      expect(await exportedRow(store, 'users', stored.id)).toEqual(stored)
      // an older row with that email loses on the rule alone: stale, not conflict
      expect(await store.applyChange({ table: 'users', row: { ...stored, email: other.email, version: 1, updatedAt: T0 } })).toBe('stale')
    })
  })
}

function exportRowsTests(get: () => ReplicableStore): void {
  describe('exportRows', () => {
    test('users: every row in id order across pages, soft-deleted included, equal to the stored rows', async () => {
      const users: User[] = []
      for (let i = 0; i < 7; i++) users.push(await get().users.create(makeUser()))
      await get().users.softDelete(users[2]!.id)
      for (const limit of [1, 2, 3, 7, 100]) {
        const rows = await exportAll(get(), 'users', limit)
        expect(rows.map(rowKey)).toEqual(ascending(users.map((u) => u.id)))
      }
      const rows = await exportAll(get(), 'users')
      const deleted = rows.find((c) => rowKey(c) === users[2]!.id)!.row as User
      expect(deleted).toEqual({ ...users[2]!, deletedAt: deleted.deletedAt, updatedAt: deleted.updatedAt, version: 2 })
      expect(deleted.deletedAt).toMatch(ISO_MS)
      expect(rows.find((c) => rowKey(c) === users[4]!.id)!.row).toEqual(users[4]!)
    })

    test('afterKey is exclusive', async () => {
      const ids: string[] = []
      for (let i = 0; i < 4; i++) ids.push((await get().users.create(makeUser())).id)
      const sorted = ascending(ids)
      expect((await get().exportRows('users', sorted[1]!, 100)).map(rowKey)).toEqual(sorted.slice(2))
      expect(await get().exportRows('users', sorted[3]!, 100)).toEqual([])
    })

    test('sessions and notes include revoked and soft-deleted rows, in id order', async () => {
      const user = await get().users.create(makeUser())
      const sessions = await Promise.all([1, 2, 3].map(() => get().sessions.create(makeSession(user.id))))
      await get().sessions.revoke(sessions[1]!.id)
      const notes: Note[] = []
      for (let i = 0; i < 5; i++) notes.push(await get().notes.create(makeNote(user.id)))
      await get().notes.softDelete(user.id, notes[0]!.id)
      const sessionRows = await exportAll(get(), 'sessions', 2)
      expect(sessionRows.map(rowKey)).toEqual(ascending(sessions.map((s) => s.id)))
      expect(sessionRows.find((c) => rowKey(c) === sessions[1]!.id)!.row).toEqual((await get().sessions.getByTokenHash(sessions[1]!.tokenHash))!)
      const noteRows = await exportAll(get(), 'notes', 2)
      expect(noteRows.map(rowKey)).toEqual(ascending(notes.map((n) => n.id)))
      expect((noteRows.find((c) => rowKey(c) === notes[0]!.id)!.row as Note).deletedAt).toMatch(ISO_MS)
      expect(noteRows.find((c) => rowKey(c) === notes[3]!.id)!.row).toEqual(notes[3]!)
    })

    test('audit in id order; settings in key order with value, version and updatedAt', async () => {
      const events: AuditEvent[] = []
      for (let i = 0; i < 5; i++) events.push(await get().audit.append(makeAudit({ details: { i } })))
      const auditRows = await exportAll(get(), 'audit', 2)
      expect(auditRows.map(rowKey)).toEqual(ascending(events.map((e) => e.id)))
      expect(auditRows.find((c) => rowKey(c) === events[2]!.id)!.row).toEqual(events[2]!)

      for (const key of ['m', 'b', 'z', 'a']) await get().settings.set(key, `value-${key}`)
      await get().settings.set('b', 'value-b2')
      const settingRows = await exportAll(get(), 'settings', 3)
      expect(settingRows.map(rowKey)).toEqual(['a', 'b', 'm', 'z'])
      const b = settingRows[1]!.row as Setting
      expect([b.value, b.version]).toEqual(['value-b2', 2])
      expect(b.updatedAt).toMatch(ISO_MS)
      expect((settingRows[0]!.row as Setting).version).toBe(1)
    })

    test('an empty table exports no rows', async () => {
      for (const table of ['users', 'sessions', 'notes', 'audit', 'settings'] as const) {
        expect(await get().exportRows(table, null, 10)).toEqual([])
      }
    })
  })
}
