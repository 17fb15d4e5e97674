// `bun run db new | migrate | rollback`, run in-process (runCli) on copies of the migration folders in
// a temp folder, so nothing is ever written into src/db/*/migrations.
import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import postgres from 'postgres'
import { runCli } from '../src/cli.ts'
import { newMigration, type MigrationDirs } from '../src/cli/migrations.ts'
import { migrationLabel, readMigrations, splitMigration } from '../src/db/migration-files.ts'
import { POSTGRES_MIGRATIONS_DIR } from '../src/db/postgres/migrate.ts'
import { SQLITE_MIGRATIONS_DIR } from '../src/db/sqlite/migrate.ts'
import { defineTable, lastWriterWins, TABLES } from '../src/db/tables.ts'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { expectedIndexes, expectedShape, postgresIndexes, postgresShape, sqliteIndexes, sqliteShape } from './helpers/table-shape.ts'

setDefaultTimeout(60_000)

const CLI = resolve(import.meta.dir, '../src/cli.ts')
const temps: string[] = []
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })))

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cli-migrations-'))
  temps.push(dir)
  return dir
}

/** copies of the app's migration folders, or folders holding `files` */
function migrationDirs(files?: { postgres: string[]; sqlite: string[] }): MigrationDirs {
  const root = tempDir()
  const dirs = { postgres: join(root, 'postgres'), sqlite: join(root, 'sqlite') }
  if (!files) {
    cpSync(POSTGRES_MIGRATIONS_DIR, dirs.postgres, { recursive: true })
    cpSync(SQLITE_MIGRATIONS_DIR, dirs.sqlite, { recursive: true })
    return dirs
  }
  for (const dialect of ['postgres', 'sqlite'] as const) {
    mkdirSync(dirs[dialect])
    for (const f of files[dialect]) writeFileSync(join(dirs[dialect], f), 'select 1;\n')
  }
  return dirs
}

const listing = (dirs: MigrationDirs) => ({ postgres: readdirSync(dirs.postgres).sort(), sqlite: readdirSync(dirs.sqlite).sort() })

async function db(args: string[], dirs: MigrationDirs, env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(args, env, (l) => void out.push(l), { migrationDirs: dirs, printError: (l) => void err.push(l) })
  return { code, stdout: out.join('\n'), stderr: err.join('\n'), errLines: err }
}

/** `db new add_tags`, then the SQL of a tags table written into both files */
async function newTagsMigration(dirs: MigrationDirs): Promise<string> {
  const made = await db(['new', 'add_tags'], dirs)
  expect(made.code).toBe(0)
  const label = made.stdout.match(/(\d{4}_add_tags)\.sql/)![1]!
  const fill = (dir: string, up: string, down: string) => {
    const path = join(dir, `${label}.sql`)
    // the generated header and markers, the template's hints replaced by the SQL
    const header = readFileSync(path, 'utf8').split('\n-- up\n')[0]
    writeFileSync(path, `${header}\n-- up\n${up}\n\n-- down\n${down}\n`)
  }
  fill(dirs.postgres, 'create table tags (id uuid primary key, label text not null);', 'drop table tags;')
  fill(dirs.sqlite, 'CREATE TABLE tags (id TEXT PRIMARY KEY, label TEXT NOT NULL) STRICT;', 'DROP TABLE tags;')
  return label
}

function sqliteState(path: string) {
  const file = new Database(path, { readonly: true })
  try {
    return {
      versions: file.query<{ version: number }, []>('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => r.version),
      tags: file.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tags'").get() !== null,
    }
  } finally {
    file.close()
  }
}

describe('the "-- down" line', () => {
  const file = (sql: string) => ({ version: 7, name: 'x', sql, checksum: '' })

  test('splits a file: the up part above it, the down part below it; no line, no down part', () => {
    expect(splitMigration(file('create table a (x int);\n-- down\ndrop table a;\n'))).toEqual({ up: 'create table a (x int);\n', down: '\ndrop table a;\n' })
    expect(splitMigration(file('create table a (x int);\r\n-- down  \r\ndrop table a;'))).toEqual({ up: 'create table a (x int);\r\n', down: '\ndrop table a;' })
    // only the line alone counts: comments that mention it do not
    const plain = '-- down the road: not a marker\ncreate table a (x int); -- down\n'
    expect(splitMigration(file(plain))).toEqual({ up: plain, down: null })
    expect(() => splitMigration(file('select 1;\n-- down\nselect 2;\n-- down\nselect 3;\n'))).toThrow(
      'migration 0007_x.sql has 2 "-- down" lines; a file has at most one',
    )
  })

  test('the app\'s applied migrations have none: unchanged, and not rollbackable', () => {
    for (const dir of [POSTGRES_MIGRATIONS_DIR, SQLITE_MIGRATIONS_DIR])
      for (const m of readMigrations(dir)) expect(splitMigration(m)).toEqual({ up: m.sql, down: null })
  })

  test('migrate applies the up part only, records the whole file\'s checksum, and refuses an up part without SQL', async () => {
    const dirs = migrationDirs({ postgres: [], sqlite: [] })
    writeFileSync(join(dirs.sqlite, '0001_a.sql'), '-- up\nCREATE TABLE a (x TEXT) STRICT;\n-- down\nDROP TABLE a;\n')
    const path = join(tempDir(), 'app.db')
    expect((await db(['migrate'], dirs, { FALLBACK_DATABASE_URL: path })).stdout).toBe('sqlite: applied 0001_a (0 already applied)')
    const check = new Database(path, { readonly: true })
    expect(check.query("SELECT name FROM sqlite_master WHERE name = 'a'").get()).toEqual({ name: 'a' })
    expect(check.query('SELECT checksum FROM schema_migrations').get()).toEqual({ checksum: readMigrations(dirs.sqlite)[0]!.checksum })
    check.close()

    writeFileSync(join(dirs.sqlite, '0002_b.sql'), '-- up\n-- nothing yet\n-- down\nDROP TABLE b;\n')
    const refused = await db(['migrate'], dirs, { FALLBACK_DATABASE_URL: path })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe('SQLite: migration 0002_b.sql has no SQL to apply above its "-- down" line; write the change there first')
  })
})

describe('bun run db new', () => {
  test('writes the next numbered pair, one more than the highest number in either folder, with an up and a down part', async () => {
    const dirs = migrationDirs() // postgres: 0001, 0002; sqlite: 0001
    const out = await db(['new', 'add_tags'], dirs)
    expect(out.code).toBe(0)
    expect(out.stderr).toBe('')
    const pg = join(dirs.postgres, '0003_add_tags.sql')
    const lite = join(dirs.sqlite, '0003_add_tags.sql')
    expect(out.stdout).toBe(`created ${pg}\ncreated ${lite}`)
    for (const [path, dialect] of [[pg, 'PostgreSQL'], [lite, 'SQLite']] as const) {
      const text = readFileSync(path, 'utf8')
      expect(text).toContain(`-- 0003_add_tags (${dialect})`)
      expect(text).toMatch(/^-- up$/m)
      expect(text).toMatch(/^-- down$/m)
    }
    for (const f of readMigrations(dirs.sqlite).filter((m) => m.version === 3)) expect(splitMigration(f).down).not.toBeNull()

    // the highest number may be in the SQLite folder
    const other = migrationDirs({ postgres: ['0001_init.sql'], sqlite: ['0001_init.sql', '0007_fork_only.sql'] })
    expect((await db(['new', 'next_one'], other)).code).toBe(0)
    expect(listing(other)).toEqual({ postgres: ['0001_init.sql', '0008_next_one.sql'], sqlite: ['0001_init.sql', '0007_fork_only.sql', '0008_next_one.sql'] })
  })

  test('a bad or missing name: one usage line naming what is expected, exit 2, nothing written', async () => {
    const dirs = migrationDirs()
    const before = listing(dirs)
    for (const args of [['new'], ['new', 'Add-Tags'], ['new', 'add tags'], ['new', '../escape'], ['new', 'a', 'b']]) {
      const out = await db(args, dirs)
      expect(out.code).toBe(2)
      expect(out.stdout).toBe('')
      expect(out.errLines).toHaveLength(1)
      expect(out.stderr).toStartWith('usage: bun run db new <name>, the name lower-case letters, digits and _')
    }
    expect(listing(dirs)).toEqual(before)
  })

  test('the command line: exit 2 and the line on stderr', async () => {
    const proc = Bun.spawn(['bun', CLI, 'new', 'Bad-Name'], { cwd: tempDir(), env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? tmpdir() }, stdout: 'pipe', stderr: 'pipe' })
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr.trim().split('\n')).toEqual([
      'usage: bun run db new <name>, the name lower-case letters, digits and _ (e.g. add_note_tags); got "Bad-Name"',
    ])
  })

  test('never overwrites: a name already taken, or a file in the way, leaves the folders as they were', async () => {
    const dirs = migrationDirs()
    const before = listing(dirs)
    const taken = await db(['new', 'caller_check'], dirs)
    expect(taken.code).toBe(1)
    expect(taken.stderr).toBe(`${join(dirs.postgres, '0002_caller_check.sql')} has that name already; choose another (nothing was written)`)
    expect(listing(dirs)).toEqual(before)

    // both dialects pointed at one folder: the second file of the pair would overwrite the first
    const same = migrationDirs({ postgres: ['0001_init.sql'], sqlite: [] })
    const original = readdirSync(same.postgres)
    const clash = await db(['new', 'add_tags'], { postgres: same.postgres, sqlite: same.postgres })
    expect(clash.code).toBe(1)
    expect(clash.stderr).toBe(`${join(same.postgres, '0002_add_tags.sql')} exists already; nothing was written`)
    expect(readdirSync(same.postgres)).toEqual(original)
  })
})

/** `db new <table>` for every table of src/db/tables.ts, in their order, into empty folders */
async function newTableMigrations(): Promise<MigrationDirs> {
  const dirs = migrationDirs({ postgres: [], sqlite: [] })
  for (const t of TABLES) expect((await db(['new', t.name], dirs)).code).toBe(0)
  return dirs
}

const TABLE_LABELS = TABLES.map((t, i) => migrationLabel({ version: i + 1, name: t.name }))

describe('bun run db new <table>', () => {
  test('a table of src/db/tables.ts that no migration creates yet: the pair creates it as defined, and its down part drops it', async () => {
    const dirs = await newTableMigrations()
    for (const dialect of ['postgres', 'sqlite'] as const) {
      const files = readMigrations(dirs[dialect])
      expect(files.map(migrationLabel)).toEqual(TABLE_LABELS)
      for (const [i, t] of TABLES.entries()) {
        const { up, down } = splitMigration(files[i]!)
        expect(up).toContain(`-- made from the definition of ${t.name} in src/db/tables.ts\nCREATE TABLE ${t.name} (`)
        expect(down).toBe(`\nDROP TABLE ${t.name};\n\n`)
      }
    }
    const [users] = readMigrations(dirs.postgres)
    expect(users!.sql).toContain('CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;')
    expect(readMigrations(dirs.sqlite)[1]!.sql).toContain('  user_id TEXT NOT NULL REFERENCES users (id),')
    expect(readMigrations(dirs.postgres).at(-1)!.sql).toContain('  key text COLLATE "C" NOT NULL PRIMARY KEY,')
  })

  test('SQLite: the generated migrations apply, match the definitions (as schema-drift checks them) and roll back', async () => {
    const dirs = await newTableMigrations()
    const path = join(tempDir(), 'app.db')
    const env = { FALLBACK_DATABASE_URL: path }
    expect((await db(['migrate'], dirs, env)).stdout).toBe(`sqlite: applied ${TABLE_LABELS.join(', ')} (0 already applied)`)
    const file = new Database(path, { readonly: true })
    try {
      for (const t of TABLES) {
        expect(sqliteShape(file, t.name)).toEqual(expectedShape(t, 'sqlite'))
        expect(sqliteIndexes(file, t.name)).toEqual(expectedIndexes(t))
      }
    } finally {
      file.close()
    }
    for (const _ of TABLES) expect((await db(['rollback'], dirs, env)).code).toBe(0)
    const emptied = new Database(path, { readonly: true })
    expect(emptied.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (${TABLES.map((t) => `'${t.name}'`).join(', ')})`).all()).toEqual([])
    emptied.close()
  })

  test("a fork's table whose foreign key points at another of the fork's tables: the key comes from the tables given", () => {
    const lists = defineTable({
      name: 'lists',
      key: 'id',
      columns: { id: { kind: 'id' }, updated_at: { kind: 'timestamp' }, version: { kind: 'integer' } },
      merge: lastWriterWins(null),
    })
    const items = defineTable({
      name: 'items',
      key: 'id',
      columns: { id: { kind: 'id' }, list_id: { kind: 'id', references: 'lists' }, updated_at: { kind: 'timestamp' }, version: { kind: 'integer' } },
      merge: lastWriterWins(null),
    })
    const dirs = migrationDirs()
    const [, sqlite] = newMigration(['items'], dirs, [...TABLES, lists, items])
    expect(readFileSync(sqlite!, 'utf8')).toContain('  list_id TEXT NOT NULL REFERENCES lists (id),')
  })

  test('a table some migration creates already, in either folder, or a name no definition has: the pair of hints', async () => {
    const app = migrationDirs()
    const onlySqlite = migrationDirs({ postgres: [], sqlite: [] })
    writeFileSync(join(onlySqlite.sqlite, '0001_init.sql'), '-- create table settings (in a comment: not counted)\nCREATE TABLE IF NOT EXISTS "settings" (key TEXT PRIMARY KEY) STRICT;\n')
    for (const [dirs, name] of [[app, 'users'], [onlySqlite, 'settings'], [app, 'tags']] as const) {
      const out = await db(['new', name], dirs)
      expect(out.code).toBe(0)
      for (const path of out.stdout.split('\n').map((l) => l.replace('created ', ''))) {
        const text = readFileSync(path, 'utf8')
        expect(text).not.toContain('-- made from the definition')
        expect(text).toMatch(/^-- What undoes the up part/m)
      }
    }
  })
})

describe('bun run db migrate / rollback (SQLite only)', () => {
  test('a migration with a down part applies, rolls back (dry run first) and applies again', async () => {
    const dirs = migrationDirs()
    const path = join(tempDir(), 'app.db')
    const env = { FALLBACK_DATABASE_URL: path }
    const label = await newTagsMigration(dirs)
    expect(label).toBe('0003_add_tags')

    const dryMigrate = await db(['migrate', '--dry-run'], dirs, env)
    expect(dryMigrate.stdout).toContain('-- sqlite: 2 pending migration(s)')
    expect(dryMigrate.stdout).toContain('CREATE TABLE tags')
    expect(dryMigrate.stdout).not.toContain('DROP TABLE tags') // only the up part runs
    expect((await db(['migrate'], dirs, env)).stdout).toBe('sqlite: applied 0001_init, 0003_add_tags (0 already applied)')
    expect(sqliteState(path)).toEqual({ versions: [1, 3], tags: true })

    const dry = await db(['rollback', '--dry-run'], dirs, env)
    expect(dry.code).toBe(0)
    expect(dry.stdout).toBe('-- sqlite: would roll back 0003_add_tags\nDROP TABLE tags;\n')
    expect(sqliteState(path)).toEqual({ versions: [1, 3], tags: true })

    const undone = await db(['rollback'], dirs, env)
    expect(undone).toMatchObject({ code: 0, stdout: 'sqlite: rolled back 0003_add_tags', stderr: '' })
    expect(sqliteState(path)).toEqual({ versions: [1], tags: false })
    expect((await db(['status'], dirs, env)).stdout).toContain('1 pending migration(s)')

    expect((await db(['migrate'], dirs, env)).stdout).toBe('sqlite: applied 0003_add_tags (1 already applied)')
    expect(sqliteState(path)).toEqual({ versions: [1, 3], tags: true })
  })

  test('the last migration without a down part: one line, exit 1, nothing changed', async () => {
    const dirs = migrationDirs()
    const path = join(tempDir(), 'app.db')
    const env = { FALLBACK_DATABASE_URL: path }
    expect((await db(['migrate'], dirs, env)).code).toBe(0)
    for (const args of [['rollback'], ['rollback', '--dry-run']]) {
      const out = await db(args, dirs, env)
      expect(out.code).toBe(1)
      expect(out.errLines).toEqual([
        `sqlite: migration 0001_init has no "-- down" section; it cannot be rolled back${args.length === 1 ? '; nothing was rolled back' : ''}`,
      ])
    }
    expect(sqliteState(path).versions).toEqual([1])
    const file = new Database(path, { readonly: true })
    expect(file.query("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'sessions', 'notes')").get()).toEqual({ n: 3 })
    file.close()
  })

  test('an empty down part is refused too; nothing applied: nothing to roll back', async () => {
    const dirs = migrationDirs()
    const path = join(tempDir(), 'app.db')
    const env = { FALLBACK_DATABASE_URL: path }
    expect((await db(['rollback'], dirs, env)).stdout).toBe('sqlite: nothing to roll back')
    expect((await db(['new', 'half_done'], dirs)).code).toBe(0)
    const file = join(dirs.sqlite, '0003_half_done.sql')
    writeFileSync(file, readFileSync(file, 'utf8').replace('\n-- up\n', '\n-- up\nCREATE TABLE half (x TEXT) STRICT;\n'))
    expect((await db(['migrate'], dirs, env)).code).toBe(0)
    const out = await db(['rollback'], dirs, env)
    expect(out.code).toBe(1)
    expect(out.stderr).toBe(
      'sqlite: migration 0003_half_done has an empty "-- down" section; write the SQL that undoes it before rolling it back; nothing was rolled back',
    )
    expect(sqliteState(path).versions).toEqual([1, 3])
  })
})

const ok = requirePostgres(await pgAvailable(), 'bun run db migrate / rollback (PostgreSQL)')
describe.skipIf(!ok)('bun run db migrate / rollback (PostgreSQL and SQLite)', () => { // skipped only when PostgreSQL is unreachable and not required
  const databases: TestDatabase[] = []
  afterAll(async () => {
    for (const d of databases) await d.drop()
  }, 30_000)

  async function setup(prefix: string) {
    const database = await createTestDatabase(prefix)
    databases.push(database)
    const path = join(tempDir(), 'app.db')
    const env = { DATABASE_URL: database.url, DATABASE_TIMEOUT: '2', DATABASE_STARTUP_RETRIES: '0', FALLBACK_DATABASE_URL: path }
    const pg = postgres(database.url, { max: 1, onnotice: () => {} })
    const pgState = async () => ({
      versions: (await pg<{ version: number }[]>`select version from schema_migrations order by version`).map((r) => r.version),
      tags: (await pg<{ t: string | null }[]>`select to_regclass('tags')::text as t`)[0]!.t !== null,
    })
    return { env, path, pg, pgState }
  }

  test('apply, dry run, roll back on both, apply again; then a migration without a down part is refused', async () => {
    const { env, path, pg, pgState } = await setup('cli_rollback')
    try {
      const dirs = migrationDirs()
      await newTagsMigration(dirs)
      const migrated = await db(['migrate'], dirs, env)
      expect(migrated.stdout).toBe(
        'sqlite: applied 0001_init, 0003_add_tags (0 already applied)\npostgresql: applied 0001_init, 0002_caller_check, 0003_add_tags (0 already applied)',
      )
      expect(await pgState()).toEqual({ versions: [1, 2, 3], tags: true })

      const dry = await db(['rollback', '--dry-run'], dirs, env)
      expect(dry.stdout).toBe('-- postgresql: would roll back 0003_add_tags\ndrop table tags;\n\n-- sqlite: would roll back 0003_add_tags\nDROP TABLE tags;\n')
      expect(await pgState()).toEqual({ versions: [1, 2, 3], tags: true })

      const undone = await db(['rollback'], dirs, env)
      expect(undone).toMatchObject({ code: 0, stdout: 'postgresql: rolled back 0003_add_tags\nsqlite: rolled back 0003_add_tags' })
      expect(await pgState()).toEqual({ versions: [1, 2], tags: false })
      expect(sqliteState(path)).toEqual({ versions: [1], tags: false })

      expect((await db(['migrate'], dirs, env)).stdout).toBe(
        'sqlite: applied 0003_add_tags (1 already applied)\npostgresql: applied 0003_add_tags (2 already applied)',
      )
      expect(await pgState()).toEqual({ versions: [1, 2, 3], tags: true })
      expect(sqliteState(path)).toEqual({ versions: [1, 3], tags: true })

      // back to 0002_caller_check / 0001_init, which have no down part: refused on both, nothing changes
      expect((await db(['rollback'], dirs, env)).code).toBe(0)
      const refused = await db(['rollback'], dirs, env)
      expect(refused.code).toBe(1)
      expect(refused.errLines).toEqual([
        'postgresql: migration 0002_caller_check has no "-- down" section; it cannot be rolled back; ' +
          'sqlite: migration 0001_init has no "-- down" section; it cannot be rolled back; nothing was rolled back',
      ])
      expect(await pgState()).toEqual({ versions: [1, 2], tags: false })
      expect(sqliteState(path)).toEqual({ versions: [1], tags: false })
    } finally {
      await pg.end({ timeout: 1 })
    }
  })

  test('a refusal on PostgreSQL leaves SQLite as it was, though its last migration could be rolled back', async () => {
    const { env, path, pg, pgState } = await setup('cli_refuse')
    try {
      const dirs = migrationDirs()
      await newTagsMigration(dirs)
      // a PostgreSQL-only migration, without a down part
      writeFileSync(join(dirs.postgres, '0004_pg_only.sql'), 'create index tags_label on tags (label);\n')
      expect((await db(['migrate'], dirs, env)).code).toBe(0)
      expect(await pgState()).toEqual({ versions: [1, 2, 3, 4], tags: true })
      const out = await db(['rollback'], dirs, env)
      expect(out.code).toBe(1)
      expect(out.stderr).toBe('postgresql: migration 0004_pg_only has no "-- down" section; it cannot be rolled back; nothing was rolled back')
      expect(await pgState()).toEqual({ versions: [1, 2, 3, 4], tags: true })
      expect(sqliteState(path)).toEqual({ versions: [1, 3], tags: true })
    } finally {
      await pg.end({ timeout: 1 })
    }
  })

  test('with PostgreSQL configured but unreachable, nothing is rolled back, not even on SQLite', async () => {
    const { env, path, pg } = await setup('cli_unreachable')
    try {
      const dirs = migrationDirs()
      await newTagsMigration(dirs)
      expect((await db(['migrate'], dirs, env)).code).toBe(0)
      const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
      const port = listener.port
      listener.stop(true)
      const down = { ...env, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/nowhere` }
      const out = await db(['rollback'], dirs, down)
      expect(out.code).toBe(1)
      expect(out.stderr).toStartWith('postgresql: unreachable (')
      expect(out.stderr).toContain('nothing was rolled back')
      expect(sqliteState(path)).toEqual({ versions: [1, 3], tags: true })
    } finally {
      await pg.end({ timeout: 1 })
    }
  })

  test('a down part that fails rolls back nothing', async () => {
    const { env, path, pg, pgState } = await setup('cli_bad_down')
    try {
      const dirs = migrationDirs()
      await newTagsMigration(dirs)
      for (const dir of [dirs.postgres, dirs.sqlite]) {
        const file = join(dir, '0003_add_tags.sql')
        writeFileSync(file, readFileSync(file, 'utf8').replace(/-- down\n.*\n/, '-- down\ndrop table tags;\ndrop table no_such_table;\n'))
      }
      expect((await db(['migrate'], dirs, env)).code).toBe(0)
      const out = await db(['rollback'], dirs, env)
      expect(out.code).toBe(1)
      expect(out.stderr).toStartWith('postgresql: the "-- down" part of 0003_add_tags failed (')
      expect(out.stderr).toEndWith('); nothing was rolled back')
      expect(await pgState()).toEqual({ versions: [1, 2, 3], tags: true })
      expect(sqliteState(path)).toEqual({ versions: [1, 3], tags: true })

      // SQLite alone (no DATABASE_URL) fails the same way
      const lite = await db(['rollback'], dirs, { FALLBACK_DATABASE_URL: path })
      expect(lite.code).toBe(1)
      expect(lite.stderr).toBe('sqlite: the "-- down" part of 0003_add_tags failed (SQLITE_ERROR: no such table: no_such_table); nothing was rolled back')
      expect(sqliteState(path)).toEqual({ versions: [1, 3], tags: true })
    } finally {
      await pg.end({ timeout: 1 })
    }
  })

  test('the rollback waits for the migration lock', async () => {
    const { env, pg, pgState } = await setup('cli_lock')
    const holder = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} })
    try {
      const dirs = migrationDirs()
      await newTagsMigration(dirs)
      expect((await db(['migrate'], dirs, env)).code).toBe(0)
      // what another instance's migrate holds while it runs
      await holder`select pg_advisory_lock(7245119836201554)`
      let settled = false
      const rollback = db(['rollback'], dirs, env).finally(() => (settled = true))
      // the rollback's lock request is seen waiting in pg_locks before the lock is let go
      for (let i = 0; ; i++) {
        const [w] = await pg<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted
          and database = (select oid from pg_database where datname = current_database())`
        if (w!.n > 0) break
        if (i > 200) throw new Error('the rollback never waited for the lock')
        await Bun.sleep(25)
      }
      expect(settled).toBe(false)
      expect(await pgState()).toEqual({ versions: [1, 2, 3], tags: true })
      await holder`select pg_advisory_unlock(7245119836201554)`
      expect((await rollback).stdout).toBe('postgresql: rolled back 0003_add_tags\nsqlite: rolled back 0003_add_tags')
      expect(await pgState()).toEqual({ versions: [1, 2], tags: false })
    } finally {
      await holder.end({ timeout: 1 })
      await pg.end({ timeout: 1 })
    }
  })

  test('PostgreSQL: the migrations db new made for the tables apply and match the definitions (as schema-drift checks them)', async () => {
    const { env, pg } = await setup('cli_new_tables')
    try {
      const dirs = await newTableMigrations()
      const migrated = await db(['migrate'], dirs, env)
      expect(migrated.stdout).toBe(`sqlite: applied ${TABLE_LABELS.join(', ')} (0 already applied)\npostgresql: applied ${TABLE_LABELS.join(', ')} (0 already applied)`)
      for (const t of TABLES) {
        expect(await postgresShape(pg, t.name)).toEqual(expectedShape(t, 'postgres'))
        expect(await postgresIndexes(pg, t.name)).toEqual(expectedIndexes(t))
      }
      for (const _ of TABLES) expect((await db(['rollback'], dirs, env)).code).toBe(0)
      const left = await pg<{ t: string | null }[]>`select to_regclass(name)::text as t from unnest(${TABLES.map((t) => t.name)}::text[]) as name`
      expect(left.map((r) => r.t)).toEqual(TABLES.map(() => null))
    } finally {
      await pg.end({ timeout: 1 })
    }
  })
})
