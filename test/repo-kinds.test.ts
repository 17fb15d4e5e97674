// The method kinds the failover layer routes by (REPO_KINDS) cover every method of every repository
// at run time too: the compiler checks the interfaces, this checks what the stores really expose, so a
// method an implementation adds beyond its interface cannot bypass the write gate unnoticed.
import { afterAll, describe, expect, test } from 'bun:test'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { REPO_KINDS, type RepoName, type Store } from '../src/db/store.ts'

const sqlite = new SqliteStore({ path: ':memory:', busyTimeoutS: 5 })
afterAll(() => sqlite.close())

const REPOS = Object.keys(REPO_KINDS) as RepoName[]

/** every function a repository object answers to, own or inherited (class methods), but Object's */
function methodsOf(repo: object): string[] {
  const names = new Set<string>()
  for (let o: object | null = repo; o && o !== Object.prototype; o = Object.getPrototypeOf(o))
    for (const name of Object.getOwnPropertyNames(o))
      if (name !== 'constructor' && typeof (repo as Record<string, unknown>)[name] === 'function') names.add(name)
  return [...names].sort()
}

describe('REPO_KINDS', () => {
  const views: [string, () => Store][] = [
    ['SqliteStore', () => sqlite],
    ['SqliteStore.as(caller)', () => sqlite.as({ userId: Bun.randomUUIDv7(), sessionId: Bun.randomUUIDv7() })],
    ['SqliteStore.withChangeSink', () => sqlite.withChangeSink(() => undefined)],
  ]
  for (const [label, view] of views)
    test.each(REPOS)(`gives every method of ${label}'s %s repository a kind, and no other`, (name) => {
      expect(methodsOf(view()[name])).toEqual(Object.keys(REPO_KINDS[name]).sort())
    })
})
