// `bun run db <command>` as an operator runs it: a real process, its stdout, its exit code.
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import postgres from 'postgres'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'

const CLI = resolve(import.meta.dir, '../src/cli.ts')
const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cli-'))
  dirs.push(dir)
  return dir
}

async function db(cwd: string, args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(['bun', CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? cwd, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { stdout, stderr, code }
}

const ADMIN = { SEED_ADMIN_EMAIL: 'Root@Example.com', SEED_ADMIN_PASSWORD: 'correct horse battery' }

describe('bun run db (SQLite only)', () => {
  test('no command prints the usage; an unknown one exits 2', async () => {
    const cwd = workdir()
    const none = await db(cwd, [])
    expect(none.code).toBe(0)
    expect(none.stdout).toContain('usage: bun run db <command>')
    const unknown = await db(cwd, ['frobnicate'])
    expect(unknown.code).toBe(2)
  })

  test('migrate --dry-run prints the SQL and applies nothing; migrate applies it once', async () => {
    const cwd = workdir()
    const dry = await db(cwd, ['migrate', '--dry-run'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('-- sqlite: 1 pending migration(s)')
    expect(dry.stdout).toMatch(/create table/i)
    expect((await db(cwd, ['status'])).stdout).toContain('1 pending migration(s)')

    const first = await db(cwd, ['migrate'])
    expect(first.stdout).toContain('sqlite: applied 0001_init')
    const second = await db(cwd, ['migrate'])
    expect(second.stdout).toContain('sqlite: applied nothing (1 already applied)')
    expect((await db(cwd, ['status'])).stdout).toContain('0 pending migration(s), outbox 0 entries')
  }, 30_000)

  test('seed creates the declared accounts once, and never prints a password', async () => {
    const cwd = workdir()
    const first = await db(cwd, ['seed'], ADMIN)
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('created  root@example.com')
    const again = await db(cwd, ['seed'], ADMIN)
    expect(again.stdout).toContain('kept     root@example.com')
    expect(first.stdout + first.stderr + again.stdout + again.stderr).not.toContain(ADMIN.SEED_ADMIN_PASSWORD)
  }, 30_000)

  test('invalid seed configuration: exit 1 with one line naming the variable', async () => {
    const out = await db(workdir(), ['seed'], { SEED_ADMIN_EMAIL: 'root@example.com', SEED_ADMIN_PASSWORD: 'short' })
    expect(out.code).toBe(1)
    expect(out.stderr.trim().split('\n')).toHaveLength(1)
    expect(out.stderr).toContain('SEED_ADMIN_PASSWORD')
    expect(out.stderr).not.toContain('short')
  })

  test('backup writes an owner-only file into BACKUP_DIR and keeps BACKUP_KEEP of them', async () => {
    const cwd = workdir()
    for (let i = 0; i < 3; i++) {
      const out = await db(cwd, ['backup'], { BACKUP_KEEP: '2' })
      expect(out.code).toBe(0)
      expect(out.stdout).toMatch(/^backup app-\d{8}T\d{9}Z-[0-9a-f]{8}\.db \(\d+ bytes\)/)
      await Bun.sleep(5)
    }
    const files = readdirSync(join(cwd, 'data/backups'))
    expect(files).toHaveLength(2)
    for (const f of files) expect(statSync(join(cwd, 'data/backups', f)).mode & 0o777).toBe(0o600)
  }, 30_000)

  test('copy-to-fallback without a primary says so and exits 1', async () => {
    const out = await db(workdir(), ['copy-to-fallback'])
    expect(out.code).toBe(1)
    expect(out.stderr).toContain('no usable primary database is configured')
  })
})

const ok = requirePostgres(await pgAvailable(), 'bun run db (PostgreSQL)')
describe.skipIf(!ok)('bun run db (PostgreSQL)', () => { // skipped only when PostgreSQL is unreachable and not required
  let database: TestDatabase
  afterAll(async () => database && (await database.drop()), 30_000)

  test('migrate, status, seed, copy-to-fallback and sync-to-primary against both databases', async () => {
    database = await createTestDatabase('cli')
    const cwd = workdir()
    const env = { DATABASE_URL: database.url, DATABASE_TIMEOUT: '2', DATABASE_STARTUP_RETRIES: '0' }

    const dry = await db(cwd, ['migrate', '--dry-run'], env)
    expect(dry.stdout).toContain('-- postgresql: 2 pending migration(s)')
    const migrated = await db(cwd, ['migrate'], env)
    expect(migrated.stdout).toContain('postgresql: applied 0001_init')
    expect((await db(cwd, ['status'], env)).stdout).toContain('postgresql: up (DATABASE_URL), 0 pending migration(s)')

    const seeded = await db(cwd, ['seed'], { ...env, ...ADMIN })
    expect(seeded.stdout).toContain('seeded postgresql: 1 created')
    const sql = postgres(database.url, { max: 1, onnotice: () => {} })
    try {
      const rows = await sql`select email from users`
      expect(rows.map((r) => r.email)).toEqual(['root@example.com'])
    } finally {
      await sql.end({ timeout: 1 })
    }

    const copied = await db(cwd, ['copy-to-fallback'], env)
    expect(copied.code).toBe(0)
    expect(copied.stdout).toMatch(/copied users=1 /)
    const synced = await db(cwd, ['sync-to-primary'], env)
    expect(synced.stdout).toContain('replayed: 0 applied, 0 conflicts, 0 remaining')
  }, 60_000)
})
