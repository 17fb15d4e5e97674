// The bench's own PostgreSQL database: created fresh for the run, dropped at its end.
import postgres from 'postgres'

export interface BenchDatabase {
  url: string
  name: string
  drop(): Promise<void>
}

const admin = (url: string) => postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} })

/** The URL with its password hidden, for messages and RESULTS.md. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '<unparseable URL>'
  }
}

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

export async function createBenchDatabase(url: string): Promise<BenchDatabase> {
  const name = `bench_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`
  const sql = admin(url)
  try {
    await sql`create database ${sql(name)}`
  } finally {
    await sql.end({ timeout: 1 })
  }
  const u = new URL(url)
  u.pathname = `/${name}`
  return {
    url: u.toString(),
    name,
    async drop() {
      const sql = admin(url)
      try {
        await sql`drop database if exists ${sql(name)} with (force)`
      } finally {
        await sql.end({ timeout: 1 })
      }
    },
  }
}

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
