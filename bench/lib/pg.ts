// The bench's own PostgreSQL database: created fresh for the run, dropped at its end.
import postgres from 'postgres'
import { createTestDatabase, type TestDatabase } from '../../test/helpers/pg.ts'

export { redactUrl } from '../../src/redact.ts'
export type BenchDatabase = TestDatabase

const admin = (url: string) => postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} })

/** `select version()` within 3 s, or null when PostgreSQL cannot be reached. */
export async function serverVersion(url: string): Promise<string | null> {
  const sql = admin(url)
  try {
    const [row] = await Promise.race([
      sql<{ v: string }[]>`select current_setting('server_version') as v`,
      Bun.sleep(3_000).then(() => {
        throw new Error('timeout')
      }),
    ])
    return row?.v ?? null
  } catch {
    return null
  } finally {
    sql.end({ timeout: 0 }).catch(() => {})
  }
}

/** The bench's database: the test suite's helper, on the bench's PostgreSQL. */
export const createBenchDatabase = (url: string): Promise<BenchDatabase> => createTestDatabase('bench', url)

/** ANALYZE the whole database: fresh planner statistics after a bulk load. */
export async function analyze(url: string): Promise<void> {
  const sql = admin(url)
  try {
    await sql`analyze`
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/** `show autovacuum` ('on' / 'off'), for RESULTS.md. */
export async function autovacuumSetting(url: string): Promise<string> {
  const sql = admin(url)
  try {
    const [row] = await sql<{ autovacuum: string }[]>`show autovacuum`
    return row?.autovacuum ?? 'unknown'
  } finally {
    await sql.end({ timeout: 1 })
  }
}
