// `bun run db new | migrate | rollback` (and the counts of `status`): the migration chores of src/cli.ts.
// They read the migration folders given to runCli (the app's own by default; tests pass temp folders)
// and reach each database over a connection of their own, since the stores read the app's folders.
import { Database } from 'bun:sqlite'
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Config } from '../config-types.ts'
import { createsTable, createTableSql, dropTableSql } from '../db/create-table-sql.ts'
import { highestMigrationNumber, MIGRATION_NAME, migrationLabel, readMigrations, type MigrationFile, type RollbackStep } from '../db/migration-files.ts'
import type { OpenedStores } from '../db/open.ts'
import { PgExecutor } from '../db/postgres/executor.ts'
import {
  migratePostgres,
  pendingPostgresMigrations,
  POSTGRES_MIGRATIONS_DIR,
  postgresRollbackStep,
  rollbackPostgres,
} from '../db/postgres/migrate.ts'
import { PgPool } from '../db/postgres/pool.ts'
import { migrateSqlite, pendingSqliteMigrations, rollbackSqlite, SQLITE_MIGRATIONS_DIR, sqliteRollbackStep } from '../db/sqlite/migrate.ts'
import type { MigrationReport } from '../db/store.ts'
import { TABLES, type TableDefinition } from '../db/tables.ts'

export interface MigrationDirs {
  postgres: string
  sqlite: string
}

export const APP_MIGRATION_DIRS: MigrationDirs = { postgres: POSTGRES_MIGRATIONS_DIR, sqlite: SQLITE_MIGRATIONS_DIR }

/** A wrong command line: src/cli.ts prints its one-line message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

const HIGHEST_NUMBER = 9999

/** a path as the operator reads it: relative to the working directory when inside it */
const shown = (path: string): string => {
  const rel = relative(process.cwd(), path)
  return rel && !rel.startsWith('..') ? rel : path
}

const header = (label: string, dialect: string, twin: string) => `-- ${label} (${dialect}). \`bun run db migrate\` runs the part above the \`-- down\` line in one
-- transaction and records this file's checksum: once it is applied anywhere, leave the file as it
-- is and add a new migration instead. Keep ${twin} the same schema.
`

/** the up and down parts of a new migration before the user writes them: hints, to be replaced */
const HINTS: Record<keyof MigrationDirs, { up: string; down: string }> = {
  postgres: {
    up: `-- The change, in PostgreSQL: create table, alter table ... add column, create index ... Ids are
-- uuid and timestamps timestamptz(3), as in 0001_init.sql. It all runs in one transaction, so no
-- create index concurrently.

`,
    down: `-- What undoes the up part, in reverse order: drop index, alter table ... drop column, drop table.
-- \`bun run db rollback\` runs it and forgets the migration; it refuses while this part holds no SQL.
`,
  },
  sqlite: {
    up: `-- The change, in SQLite: CREATE TABLE ... STRICT, ALTER TABLE ... ADD COLUMN, CREATE INDEX ... Ids
-- and timestamps are TEXT, booleans INTEGER 0/1, as in 0001_init.sql. ALTER TABLE cannot change a
-- column: create the new table, copy the rows over, drop the old one and rename the new one.

`,
    down: `-- What undoes the up part, in reverse order: DROP INDEX, ALTER TABLE ... DROP COLUMN, DROP TABLE.
-- \`bun run db rollback\` runs it and forgets the migration; it refuses while this part holds no SQL.
`,
  },
}

const HEADERS: Record<keyof MigrationDirs, (label: string) => string> = {
  postgres: (label) => header(label, 'PostgreSQL', `its SQLite twin (sqlite/migrations/${label}.sql)`),
  sqlite: (label) => header(label, 'SQLite', `its PostgreSQL twin (postgres/migrations/${label}.sql)`),
}

/** The parts of a migration that creates `table` as its definition says, in `dialect` (`tables`: what its foreign keys may point at). */
const tableParts = (dialect: keyof MigrationDirs, table: TableDefinition, tables: readonly TableDefinition[]) => ({
  up: `-- made from the definition of ${table.name} in src/db/tables.ts
${createTableSql(dialect, table, tables)}
`,
  down: `${dropTableSql(table)}
`,
})

/**
 * The table a migration named `name` should create: the definition of that name, when neither
 * folder's migrations create it yet; else null (the migration is written with hints instead).
 */
function tableToCreate(name: string, dirs: MigrationDirs, tables: readonly TableDefinition[]): TableDefinition | null {
  const table = tables.find((t) => t.name === name)
  if (!table) return null
  const created = [dirs.postgres, dirs.sqlite].some((dir) => readMigrations(dir).some((m) => createsTable(m.sql, name)))
  return created ? null : table
}

/**
 * `db new <name>`: writes NNNN_<name>.sql into both folders, NNNN one more than the highest number in
 * either, and returns the two paths. Never overwrites: a file in the way leaves nothing written. When
 * `name` is a table of `tables` (default: src/db/tables.ts) that no migration creates yet, the pair creates it
 * (and drops it in its down part); otherwise its parts hold hints to replace.
 */
export function newMigration(args: string[], dirs: MigrationDirs, tables: readonly TableDefinition[] = TABLES): string[] {
  const expected = 'bun run db new <name>, the name lower-case letters, digits and _ (e.g. add_note_tags)'
  const [name, ...rest] = args
  if (name === undefined) throw new UsageError(`usage: ${expected}`)
  if (rest.length > 0) throw new UsageError(`usage: ${expected}; got more than one name: ${args.join(' ')}`)
  if (!MIGRATION_NAME.test(name)) throw new UsageError(`usage: ${expected}; got ${JSON.stringify(name)}`)

  const folders = [dirs.postgres, dirs.sqlite]
  for (const dir of folders) {
    const taken = readMigrations(dir).find((m) => m.name === name)
    if (taken) throw new Error(`${shown(join(dir, `${migrationLabel(taken)}.sql`))} has that name already; choose another (nothing was written)`)
  }
  const version = Math.max(...folders.map(highestMigrationNumber)) + 1
  if (version > HIGHEST_NUMBER) throw new Error(`migration numbers end at ${HIGHEST_NUMBER} (NNNN_name.sql); nothing was written`)
  const label = migrationLabel({ version, name })
  const table = tableToCreate(name, dirs, tables)

  const written: string[] = []
  for (const dialect of ['postgres', 'sqlite'] as const) {
    const path = join(dirs[dialect], `${label}.sql`)
    try {
      mkdirSync(dirs[dialect], { recursive: true })
      const { up, down } = table ? tableParts(dialect, table, tables) : HINTS[dialect]
      writeFileSync(path, `${HEADERS[dialect](label)}-- up\n${up}\n-- down\n${down}\n`, { flag: 'wx' })
    } catch (e) {
      for (const p of written) unlinkSync(p)
      if ((e as { code?: string }).code === 'EEXIST') throw new Error(`${shown(path)} exists already; nothing was written`)
      throw e
    }
    written.push(path)
  }
  return written.map(shown)
}

/** One database as the migration commands see it. Messages of its methods name no database. */
export interface MigrationTarget {
  name: 'sqlite' | 'postgresql'
  pending(): Promise<MigrationFile[]>
  migrate(): Promise<MigrationReport>
  /** what rollback() would run; null: nothing applied. Throws when it would be refused */
  rollbackStep(): Promise<RollbackStep | null>
  rollback(): Promise<RollbackStep | null>
  close(): Promise<void>
}

function sqliteTarget(path: string, busyTimeoutS: number, dir: string): MigrationTarget {
  // the fallback store has created the file (WAL); this second connection behaves like its own
  const db = new Database(path, { create: true, readwrite: true, strict: true })
  db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.round(busyTimeoutS * 1000))}`)
  db.run('PRAGMA foreign_keys = ON')
  return {
    name: 'sqlite',
    pending: async () => pendingSqliteMigrations(db, dir),
    migrate: async () => migrateSqlite(db, dir),
    rollbackStep: async () => sqliteRollbackStep(db, dir),
    rollback: async () => rollbackSqlite(db, dir),
    close: async () => db.close(),
  }
}

function postgresTarget(config: Config, url: string, dir: string): MigrationTarget {
  const db = config.database
  // the settings open.ts gives the server's store, with one connection
  const pool = new PgPool({
    url,
    poolSize: 1,
    connectTimeoutS: db.timeoutS,
    statementTimeoutMs: db.statementTimeoutMs,
    sslmode: db.sslmode,
    poolMode: db.poolMode,
  })
  const ex = new PgExecutor(pool, db.statementTimeoutMs + 1000)
  const files = () => readMigrations(dir)
  return {
    name: 'postgresql',
    pending: () => pendingPostgresMigrations(ex, files()),
    migrate: () => migratePostgres(ex, files()),
    rollbackStep: () => postgresRollbackStep(ex, files()),
    rollback: () => rollbackPostgres(ex, files()),
    close: () => pool.end(2),
  }
}

/**
 * The SQLite fallback, and PostgreSQL when openStores reached it (as the server would use it), in
 * that order; closed after fn.
 */
export async function withMigrationTargets<T>(
  config: Config,
  opened: OpenedStores,
  dirs: MigrationDirs,
  fn: (targets: MigrationTarget[]) => Promise<T>,
): Promise<T> {
  const targets = [sqliteTarget(opened.fallback.path, config.database.sqliteBusyTimeoutS, dirs.sqlite)]
  try {
    if (opened.primary && opened.primaryUp && config.database.url) targets.push(postgresTarget(config, config.database.url, dirs.postgres))
    return await fn(targets)
  } finally {
    for (const t of targets) await t.close().catch(() => undefined)
  }
}

/** `db rollback [--dry-run]`: the last applied migration of each database, undone. */
export async function rollbackCommand(targets: MigrationTarget[], dryRun: boolean, print: (line: string) => void): Promise<void> {
  // undo in the reverse order of migrate
  const order = [...targets].reverse()
  // Every database's step first: a refusal on one changes nothing on any.
  const steps: Array<RollbackStep | null> = []
  const refusals: string[] = []
  for (const t of order) {
    try {
      steps.push(await t.rollbackStep())
    } catch (e) {
      refusals.push(`${t.name}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  if (refusals.length > 0) throw new Error(`${refusals.join('; ')}${dryRun ? '' : '; nothing was rolled back'}`)
  for (const [i, t] of order.entries()) {
    if (dryRun) {
      const step = steps[i]
      print(step ? `-- ${t.name}: would roll back ${step.label}\n${step.sql.trim()}\n` : `-- ${t.name}: nothing to roll back`)
      continue
    }
    let step: RollbackStep | null
    try {
      step = await t.rollback()
    } catch (e) {
      throw new Error(`${t.name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
    }
    print(step ? `${t.name}: rolled back ${step.label}` : `${t.name}: nothing to roll back`)
  }
}

