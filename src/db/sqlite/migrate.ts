// Applies src/db/sqlite/migrations/*.sql in order, one IMMEDIATE transaction per file, recorded in
// schema_migrations. A changed applied file stops with planMigrations' message.
import type { Database } from 'bun:sqlite'
import { join } from 'node:path'
import { planMigrations, readMigrations, type AppliedMigration, type MigrationFile } from '../migration-files.ts'
import { StoreError, type MigrationReport } from '../store.ts'

export const SQLITE_MIGRATIONS_DIR = join(import.meta.dir, 'migrations')

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`

export const migrationLabel = (m: { version: number; name: string }): string => `${String(m.version).padStart(4, '0')}_${m.name}`

function appliedMigrations(db: Database): AppliedMigration[] {
  // Read-only on purpose: the CLI's dry run must not create the table.
  const exists = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()
  if (!exists) return []
  return db.query<AppliedMigration, []>('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all()
}

function plan(files: MigrationFile[], applied: AppliedMigration[]): MigrationFile[] {
  try {
    return planMigrations(files, applied)
  } catch (e) {
    throw new StoreError('invalid', `SQLite: ${(e as Error).message}`, { cause: e })
  }
}

/** what migrateSqlite would apply, without writing anything (the CLI's dry run prints their SQL) */
export function pendingSqliteMigrations(db: Database, dir = SQLITE_MIGRATIONS_DIR): MigrationFile[] {
  return plan(readMigrations(dir), appliedMigrations(db))
}

export function migrateSqlite(db: Database, dir = SQLITE_MIGRATIONS_DIR): MigrationReport {
  db.run(CREATE_TABLE)
  const before = appliedMigrations(db)
  const pending = plan(readMigrations(dir), before)
  const apply = db.transaction((file: MigrationFile): boolean => {
    // Another process may have applied it since we planned; under the write lock this check is final.
    if (db.query('SELECT 1 FROM schema_migrations WHERE version = ?').get(file.version)) return false
    db.run(file.sql)
    db.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
      file.version,
      file.name,
      file.checksum,
      new Date().toISOString(),
    )
    return true
  })
  const applied: string[] = []
  for (const file of pending) {
    try {
      if (apply.immediate(file)) applied.push(migrationLabel(file))
    } catch (e) {
      if (e instanceof StoreError) throw e
      const code = (e as { code?: string }).code ?? 'error'
      throw new StoreError('invalid', `SQLite migration ${migrationLabel(file)}.sql failed (${code}); none of it was applied`, { cause: e })
    }
  }
  return { applied, current: before.map(migrationLabel) }
}
