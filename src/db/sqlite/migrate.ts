// Applies src/db/sqlite/migrations/*.sql in order, one IMMEDIATE transaction per file, recorded in
// schema_migrations. A changed applied file stops with planMigrations' message. Rolling back the
// last migration (`bun run db rollback`) is one IMMEDIATE transaction too.
import type { Database } from 'bun:sqlite'
import { join } from 'node:path'
import {
  migrationLabel,
  planMigrations,
  planRollback,
  readMigrations,
  upSql,
  type AppliedMigration,
  type MigrationFile,
  type RollbackStep,
} from '../migration-files.ts'
import { StoreError, type MigrationReport } from '../store.ts'

export { migrationLabel }

export const SQLITE_MIGRATIONS_DIR = join(import.meta.dir, 'migrations')

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`

function appliedMigrations(db: Database): AppliedMigration[] {
  // Read-only on purpose: the CLI's dry run must not create the table.
  const exists = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()
  if (!exists) return []
  return db.query<AppliedMigration, []>('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all()
}

/** planMigrations' and planRollback's one-line reasons as StoreErrors; migrate's say `SQLite: ` first */
function plan<T>(make: () => T, prefix = 'SQLite: '): T {
  try {
    return make()
  } catch (e) {
    throw new StoreError('invalid', `${prefix}${(e as Error).message}`, { cause: e })
  }
}

/** what migrateSqlite would apply, without writing anything (the CLI's dry run prints their SQL) */
export function pendingSqliteMigrations(db: Database, dir = SQLITE_MIGRATIONS_DIR): MigrationFile[] {
  return plan(() => planMigrations(readMigrations(dir), appliedMigrations(db)))
}

export function migrateSqlite(db: Database, dir = SQLITE_MIGRATIONS_DIR): MigrationReport {
  db.run(CREATE_TABLE)
  const before = appliedMigrations(db)
  // every pending file's up part first: a malformed file stops the run before any is applied
  const pending = plan(() => planMigrations(readMigrations(dir), before).map((file) => ({ file, up: upSql(file) })))
  const apply = db.transaction(({ file, up }: { file: MigrationFile; up: string }): boolean => {
    // Another process may have applied it since we planned; under the write lock this check is final.
    if (db.query('SELECT 1 FROM schema_migrations WHERE version = ?').get(file.version)) return false
    db.run(up)
    db.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
      file.version,
      file.name,
      file.checksum,
      new Date().toISOString(),
    )
    return true
  })
  const applied: string[] = []
  for (const step of pending) {
    try {
      if (apply.immediate(step)) applied.push(migrationLabel(step.file))
    } catch (e) {
      if (e instanceof StoreError) throw e
      const code = (e as { code?: string }).code ?? 'error'
      throw new StoreError('invalid', `SQLite migration ${migrationLabel(step.file)}.sql failed (${code}); none of it was applied`, { cause: e })
    }
  }
  return { applied, current: before.map(migrationLabel) }
}

// The rollback's messages name no database: the CLI puts `sqlite: ` in front.

/** What rollbackSqlite would run, without writing anything; null when nothing is applied. */
export function sqliteRollbackStep(db: Database, dir = SQLITE_MIGRATIONS_DIR): RollbackStep | null {
  return plan(() => planRollback(readMigrations(dir), appliedMigrations(db)), '')
}

/**
 * Undoes the last applied migration: its down part and the removal of its schema_migrations row, in
 * one IMMEDIATE transaction. Null when nothing is applied. A migration without a down part is refused
 * (StoreError 'invalid') and nothing changes.
 */
export function rollbackSqlite(db: Database, dir = SQLITE_MIGRATIONS_DIR): RollbackStep | null {
  const files = readMigrations(dir)
  let step: RollbackStep | null = null
  const rollback = db.transaction(() => {
    // planned under the write lock: what is last cannot change before the commit
    step = plan(() => planRollback(files, appliedMigrations(db)), '')
    if (!step) return
    db.run(step.sql)
    db.query('DELETE FROM schema_migrations WHERE version = ?').run(step.version)
  })
  try {
    rollback.immediate()
  } catch (e) {
    if (e instanceof StoreError) throw e
    const code = (e as { code?: string }).code ?? 'error'
    const what = step ? `the "-- down" part of ${(step as RollbackStep).label}` : 'the rollback'
    throw new StoreError('invalid', `${what} failed (${code}: ${(e as Error).message}); nothing was rolled back`, { cause: e })
  }
  return step
}
