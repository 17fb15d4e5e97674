// Applies src/db/postgres/migrations/*.sql in order. One transaction holding an advisory lock, so
// instances starting together migrate once: the second waits, then finds nothing pending. Rolling
// back the last migration (`bun run db rollback`) takes the same lock.
import { join } from 'node:path'
import {
  migrationLabel as label,
  planMigrations,
  planRollback,
  readMigrations,
  upSql,
  type AppliedMigration,
  type MigrationFile,
  type RollbackStep,
} from '../migration-files.ts'
import { StoreError, type MigrationReport } from '../store.ts'
import type { PgExecutor } from './executor.ts'

export const POSTGRES_MIGRATIONS_DIR = join(import.meta.dir, 'migrations')

/** Any fixed bigint, the same in every instance: the key of the migration lock. */
const MIGRATION_LOCK_KEY = 7_245_119_836_201_554n

/** planMigrations' errors (changed or missing files) name files only: their message is kept. */
function plan<T>(make: () => T): T {
  try {
    return make()
  } catch (e) {
    throw new StoreError('invalid', e instanceof Error ? e.message : 'the migrations cannot be planned')
  }
}

async function readApplied(ex: PgExecutor): Promise<AppliedMigration[]> {
  return ex.run((sql) => sql<AppliedMigration[]>`
    select version, name, checksum from schema_migrations order by version`)
}

/** the applied migrations, without creating the table: a dry run writes nothing */
async function readAppliedIfAny(ex: PgExecutor): Promise<AppliedMigration[]> {
  const [table] = await ex.run((sql) => sql<{ exists: boolean }[]>`
    select to_regclass('schema_migrations') is not null as exists`)
  return table?.exists ? readApplied(ex) : []
}

const lock = (tx: PgExecutor) => tx.run((sql) => sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`)

export async function migratePostgres(ex: PgExecutor, files = readMigrations(POSTGRES_MIGRATIONS_DIR)): Promise<MigrationReport> {
  return ex.transaction(async (tx) => {
    await lock(tx)
    // lock first: two concurrent `create table if not exists` can still collide
    await tx.run((sql) => sql`
      create table if not exists schema_migrations (
        version    integer primary key,
        name       text not null,
        checksum   text not null,
        applied_at timestamptz(3) not null default now()
      )`)
    const applied = await readApplied(tx)
    // every pending file's up part first: a malformed file stops the run before any is applied
    const pending = plan(() => planMigrations(files, applied).map((m) => ({ m, up: upSql(m) })))
    for (const { m, up } of pending) {
      await tx.run((sql) => sql.unsafe(up))
      await tx.run((sql) => sql`
        insert into schema_migrations (version, name, checksum) values (${m.version}, ${m.name}, ${m.checksum})`)
    }
    return { applied: pending.map(({ m }) => label(m)), current: applied.map(label) }
  })
}

/** What migrate() would apply, without applying it (the CLI's dry run). */
export async function pendingPostgresMigrations(ex: PgExecutor, files = readMigrations(POSTGRES_MIGRATIONS_DIR)): Promise<MigrationFile[]> {
  const applied = await readAppliedIfAny(ex)
  return plan(() => planMigrations(files, applied))
}

/** What rollbackPostgres would run, without running it; null when nothing is applied. */
export async function postgresRollbackStep(ex: PgExecutor, files = readMigrations(POSTGRES_MIGRATIONS_DIR)): Promise<RollbackStep | null> {
  const applied = await readAppliedIfAny(ex)
  return plan(() => planRollback(files, applied))
}

/**
 * Undoes the last applied migration: its down part and the removal of its schema_migrations row, in
 * one transaction under the migration lock. Null when nothing is applied. A migration without a down
 * part is refused (StoreError 'invalid') and nothing changes.
 */
export async function rollbackPostgres(ex: PgExecutor, files = readMigrations(POSTGRES_MIGRATIONS_DIR)): Promise<RollbackStep | null> {
  return ex.transaction(async (tx) => {
    await lock(tx)
    const step = await postgresRollbackStep(tx, files)
    if (!step) return null
    try {
      await tx.run((sql) => sql.unsafe(step.sql))
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e)
      throw new StoreError(e instanceof StoreError ? e.kind : 'invalid', `the "-- down" part of ${step.label} failed (${reason}); nothing was rolled back`, { cause: e })
    }
    await tx.run((sql) => sql`delete from schema_migrations where version = ${step.version}`)
    return step
  })
}
