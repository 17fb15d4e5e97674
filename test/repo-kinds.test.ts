// The method kinds the failover layer routes by (REPO_KINDS) cover every method of every repository
// at run time too: the compiler checks the interfaces, this checks what the stores really expose, so
// a method an implementation has beyond its declared kinds cannot go unrouted unnoticed.
import { afterAll, describe, expect, test } from 'bun:test'
import { tmpdir } from 'node:os'
import pino from 'pino'
import { FailoverStore } from '../src/db/failover-store.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { OWNED_REPO_KINDS } from '../src/db/owned.ts'
import { newId, REPO_KINDS, type RepoName, type Store } from '../src/db/store.ts'
import { notes } from '../src/db/tables.ts'

const sqlite = new SqliteStore({ path: ':memory:', busyTimeoutS: 5 })
const routed = new FailoverStore({
  primary: null,
  primaryConfigured: false,
  primaryUp: false,
  primaryError: null,
  fallback: new SqliteStore({ path: ':memory:', busyTimeoutS: 5 }),
  fallbackPersistent: false,
  logger: pino({ level: 'silent' }),
  probeIntervalMs: 60_000,
  autoFailback: true,
  backup: { dir: tmpdir(), keep: 1 },
})
afterAll(async () => {
  await sqlite.close()
  await routed.close()
})

const REPOS = Object.keys(REPO_KINDS) as RepoName[]
const caller = { userId: newId(), sessionId: newId() }

/** every function a repository object answers to, own or inherited (class methods), but Object's */
function methodsOf(repo: object): string[] {
  const names = new Set<string>()
  for (let o: object | null = repo; o && o !== Object.prototype; o = Object.getPrototypeOf(o))
    for (const name of Object.getOwnPropertyNames(o))
      if (name !== 'constructor' && typeof (repo as Record<string, unknown>)[name] === 'function') names.add(name)
  return [...names].sort()
}

describe('REPO_KINDS', () => {
  const stores: [string, () => Store][] = [
    ['SqliteStore', () => sqlite],
    ['SqliteStore.as(caller)', () => sqlite.as(caller)],
    ['SqliteStore.withChangeSink', () => sqlite.withChangeSink(() => undefined)],
    ['FailoverStore', () => routed],
    ['FailoverStore.as(caller)', () => routed.as(caller)],
  ]
  for (const [label, store] of stores)
    test.each(REPOS)(`names every method of ${label}'s %s repository, and no other`, (name) => {
      expect(methodsOf(store()[name])).toEqual(Object.keys(REPO_KINDS[name]).sort())
    })
  for (const [label, store] of stores)
    test(`names every method of ${label}'s owned repositories (OWNED_REPO_KINDS), and no other`, () => {
      const kinds = Object.keys(OWNED_REPO_KINDS).sort()
      expect(methodsOf(store().notes)).toEqual(kinds)
      expect(methodsOf(store().resource(notes))).toEqual(kinds)
    })
})
