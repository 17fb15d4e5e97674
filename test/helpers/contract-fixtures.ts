// Record factories and small assertions for test/store.contract.ts. Every factory makes fresh
// UUIDv7 ids and unique emails/token hashes, so tests never collide with each other's rows.
import { afterEach, beforeEach, expect } from 'bun:test'
import {
  isStoreError,
  newId,
  nowIso,
  type NewAuditEvent,
  type NewSession,
  type NewUser,
  type Page,
  type Session,
  type User,
  type Store,
  type StoreErrorKind,
} from '../../src/db/store.ts'
import type { FieldsOf, NewOwned, Owned } from '../../src/db/owned.ts'
import type { notes } from '../../src/db/tables.ts'

export type Note = Owned<FieldsOf<typeof notes>>
export type NewNote = NewOwned<FieldsOf<typeof notes>>

/** Where a contract suite's stores come from (the calling file decides where the database lives). */
export interface StoreTarget {
  name: string
  /** a fresh, migrated, empty store for each test */
  open(): Promise<Store>
  /** called after each test with the store open() returned */
  close(store: Store): Promise<void>
}

/** Gives each test of the enclosing describe a store from `target.open()`, closed after it: returns the getter. */
export function storePerTest(target: StoreTarget): () => Store {
  let store: Store | undefined
  beforeEach(async () => {
    store = await target.open()
  })
  afterEach(async () => {
    const opened = store
    store = undefined
    if (opened) await target.close(opened)
  })
  return () => {
    if (!store) throw new Error(`${target.name}: open() did not return a store`)
    return store
  }
}

/** ISO-8601 UTC with exactly millisecond precision, as nowIso() makes them */
export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const HASH_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** looks like a bcrypt hash ('$2b$10$' + 53 chars); never checked against a password here */
export function fakeBcryptHash(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(53))
  return '$2b$10$' + Array.from(bytes, (b) => HASH_ALPHABET[b % HASH_ALPHABET.length]).join('')
}

/** a SHA-256 hex string, the shape of a stored refresh-token hash */
export function fakeTokenHash(): string {
  return new Bun.CryptoHasher('sha256').update(crypto.getRandomValues(new Uint8Array(32))).digest('hex')
}

export function makeUser(overrides: Partial<NewUser> = {}): NewUser {
  const id = overrides.id ?? newId()
  return { id, email: `user-${id}@example.com`, name: 'Test User', role: 'user', passwordHash: fakeBcryptHash(), ...overrides }
}

export function makeNote(ownerId: string, overrides: Partial<NewNote> = {}): NewNote {
  return { id: newId(), ownerId, title: 'A title', body: 'A body', ...overrides }
}

/** a session expiring in 30 days unless told otherwise */
export function makeSession(userId: string, overrides: Partial<NewSession> = {}): NewSession {
  const expiresAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString()
  return { id: newId(), userId, tokenHash: fakeTokenHash(), expiresAt, ...overrides }
}

export function makeAudit(overrides: Partial<NewAuditEvent> = {}): NewAuditEvent {
  return { id: newId(), action: 'test.event', ...overrides }
}

/**
 * Resolves once nowIso() has moved past `after`, so a later write's timestamp can be asserted to be
 * strictly greater. Waits for the clock, never asserts on elapsed time.
 */
export async function clockPast(after: string): Promise<void> {
  await Bun.sleep(2)
  while (nowIso() <= after) await Bun.sleep(1)
}

/** awaits `promise` and asserts it rejected with a StoreError of `kind` */
export async function expectStoreError(promise: Promise<unknown>, kind: StoreErrorKind): Promise<void> {
  let error: unknown
  try {
    await promise
  } catch (e) {
    error = e
  }
  expect(error, `expected StoreError('${kind}') but the call resolved`).toBeDefined()
  expect(isStoreError(error), `expected a StoreError, got ${String(error)}`).toBe(true)
  expect((error as { kind: string }).kind).toBe(kind)
}

export interface Walk<T> {
  items: T[]
  /** the length of every page, in order */
  pageSizes: number[]
}

/**
 * Follows nextCursor from the first page to the last. Gives up after `maxPages` so that a store
 * whose cursor never advances fails the test instead of hanging it.
 */
export async function walkPages<T>(
  fetchPage: (cursor: string | null) => Promise<Page<T>>,
  maxPages: number,
): Promise<Walk<T>> {
  const items: T[] = []
  const pageSizes: number[] = []
  let cursor: string | null = null
  for (let i = 0; i < maxPages; i++) {
    const page: Page<T> = await fetchPage(cursor)
    items.push(...page.items)
    pageSizes.push(page.items.length)
    if (page.nextCursor === null) return { items, pageSizes }
    cursor = page.nextCursor
  }
  throw new Error(`pagination did not end within ${maxPages} pages`)
}

/**
 * The page sizes a correct cursor walk over `total` items yields: full pages, then the remainder;
 * a store that fetches limit+1 never ends on an empty page (except when there is nothing at all).
 */
export function expectedPageSizes(total: number, limit: number): number[] {
  if (total === 0) return [0]
  const sizes = Array.from({ length: Math.floor(total / limit) }, () => limit)
  if (total % limit !== 0) sizes.push(total % limit)
  return sizes
}

export const ascending = (ids: string[]): string[] => [...ids].sort()
export const descending = (ids: string[]): string[] => [...ids].sort().reverse()

/** text that trips up encodings: emoji (with ZWJ and skin tone), CJK, RTL, combining marks, no NUL */
export const UNICODE_SAMPLES = [
  'Emoji 😀 👩‍👩‍👧‍👦 👍🏽 🏳️‍🌈',
  'CJK 漢字 かな カナ 한국어 中文',
  'RTL עברית العربية \u200fmixed\u200e',
  'Combining e\u0301 a\u0308 n\u0303 Z\u0324\u0354\u0367\u0311',
  'Math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑∫√ and astral 𠜎',
  ' leading/trailing spaces, tab\tand\nnewline ',
]

/** exactly 1 MiB of UTF-8 mixing 1-, 2-, 3- and 4-byte characters */
export function oneMiBText(): string {
  const unit = 'The quick brown fox — über 漢字 😀 jumps.\n'
  const unitBytes = Buffer.byteLength(unit)
  const target = 1024 * 1024
  const whole = unit.repeat(Math.floor(target / unitBytes))
  return whole + 'x'.repeat(target - Buffer.byteLength(whole))
}

// ---- rows as they travel between stores (applyChange, journal): fixed timestamps, version 1 ----

export const T0 = '2025-01-02T03:04:05.006Z'
export const T1 = '2025-01-02T03:04:05.007Z'
export const T2 = '2025-02-03T04:05:06.789Z'

export function userRow(overrides: Partial<User> = {}): User {
  const id = overrides.id ?? newId()
  return {
    id,
    email: `row-${id}@example.com`,
    name: 'Replicated',
    role: 'user',
    passwordHash: fakeBcryptHash(),
    disabled: false,
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    deletedAt: null,
    ...overrides,
  }
}

export function sessionRow(userId: string, overrides: Partial<Session> = {}): Session {
  return {
    id: newId(),
    userId,
    tokenHash: fakeTokenHash(),
    expiresAt: '2035-01-01T00:00:00.000Z',
    revokedAt: null,
    replacedBy: null,
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    ...overrides,
  }
}

export function noteRow(ownerId: string, overrides: Partial<Note> = {}): Note {
  return { id: newId(), ownerId, title: 'Replicated note', body: 'body', createdAt: T0, updatedAt: T0, version: 1, deletedAt: null, ...overrides }
}
