// Issue 17, item 3 (last point): a deadline that ran out only because this process's event loop was
// blocked is not evidence against PostgreSQL. The loop's own delay is measured (how late the deadline's
// timer fired) and given back, so the answer waiting in the socket is read instead of failing over.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withDeadline } from '../src/db/postgres/deadline.ts'
import { failoverOnPostgres, type PrimaryModeStore } from './helpers/failover-store.ts'
import { pgAvailable, requirePostgres } from './helpers/pg.ts'

describe('withDeadline and a blocked event loop', () => {
  test('work that completed while the loop was blocked past the deadline resolves', async () => {
    const work = withDeadline(new Promise<string>((resolve) => setImmediate(() => resolve('answered'))), 50)
    Bun.sleepSync(300) // a long synchronous task: the deadline's timer can only fire late
    expect(await work).toBe('answered')
  })

  test('work that never completes is still refused at its deadline', async () => {
    await expect(withDeadline(new Promise<never>(() => {}), 30)).rejects.toThrow('did not answer within 30 ms')
  })
})

const ok = requirePostgres(await pgAvailable(), 'blocked event loop on PostgreSQL')

describe.skipIf(!ok)('a blocked event loop does not fail PostgreSQL over', () => {
  let dir: string
  let s: PrimaryModeStore

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loop-deadline-'))
    s = await failoverOnPostgres(dir, 'loop_deadline')
  })
  afterAll(async () => {
    await s?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a probe with a 100 ms deadline survives a 1 s block of the loop', async () => {
    await s.primary.ping(2000) // connected: the next ping is one round trip
    const probe = s.primary.ping(100)
    Bun.sleepSync(1000)
    await probe
  })
})
