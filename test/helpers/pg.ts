// PostgreSQL for tests: availability, the loud skip, and one fresh database per test file.
import postgres from 'postgres'
import { withDeadline } from '../../src/db/postgres/deadline.ts'
import { redactUrl } from '../../src/redact.ts'

export const TEST_DATABASE_URL: string = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

const AVAILABLE_DEADLINE_MS = 2000

const admin = (url = TEST_DATABASE_URL) => postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} })

/** Does TEST_DATABASE_URL answer `select 1` within 2 s? Asked anew on every call. */
export async function pgAvailable(): Promise<boolean> {
  const sql = admin()
  try {
    await withDeadline(sql`select 1`, AVAILABLE_DEADLINE_MS)
    return true
  } catch {
    return false
  } finally {
    sql.end({ timeout: 0 }).catch(() => {})
  }
}

/**
 * Whether a PostgreSQL suite runs. Unreachable: throws when REQUIRE_POSTGRES=1 (CI must not skip
 * silently), else prints one loud line and returns false. Use: `describe.skipIf(!ok)(...)`.
 */
export function requirePostgres(available: boolean, suite: string): boolean {
  if (available) return true
  const where = redactUrl(TEST_DATABASE_URL)
  if (process.env.REQUIRE_POSTGRES === '1')
    throw new Error(`${suite}: PostgreSQL unreachable at ${where} and REQUIRE_POSTGRES=1`)
  console.warn(`SKIPPED ${suite}: PostgreSQL unreachable at ${where}`)
  return false
}

export interface TestDatabase {
  url: string
  name: string
  drop(): Promise<void>
}

/** CREATE DATABASE with a unique name; drop() removes it WITH (FORCE), closing what is still connected. */
export async function createTestDatabase(prefix = 'test', baseUrl = TEST_DATABASE_URL): Promise<TestDatabase> {
  const name = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`
  const sql = admin(baseUrl)
  try {
    await sql`create database ${sql(name)}`
  } finally {
    await sql.end({ timeout: 1 })
  }
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    async drop() {
      const sql = admin(baseUrl)
      try {
        await sql`drop database if exists ${sql(name)} with (force)`
      } finally {
        await sql.end({ timeout: 1 })
      }
    },
  }
}
