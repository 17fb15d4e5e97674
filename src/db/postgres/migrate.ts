// Applies src/db/postgres/migrations/*.sql in order. One transaction holding an advisory lock, so
// instances starting together migrate once: the second waits, then finds nothing pending.
import { join } from 'node:path'
import { planMigrations, readMigrations, type AppliedMigration, type MigrationFile } from '../migration-files.ts'
import { StoreError, type MigrationReport } from '../store.ts'
import type { PgExecutor } from './executor.ts'

export const POSTGRES_MIGRATIONS_DIR = join(import.meta.dir, 'migrations')

/** Any fixed bigint, the same in every instance: the key of the migration lock. */
const MIGRATION_LOCK_KEY = 7_245_119_836_201_554n

const label = (m: { version: number; name: string }) => `${String(m.version).padStart(4, '0')}_${m.name}`

/** planMigrations' errors (changed or missing files) name files only: their message is kept. */
function plan(files: MigrationFile[], applied: AppliedMigration[]): MigrationFile[] {
  try {
    return planMigrations(files, applied)
  } catch (e) {
    throw new StoreError('invalid', e instanceof Error ? e.message : 'the migrations cannot be planned')
  }
}

async function readApplied(ex: PgExecutor): Promise<AppliedMigration[]> {
  return ex.run((sql) => sql<AppliedMigration[]>`
    select version, name, checksum from schema_migrations order by version`)
}

export async function migratePostgres(ex: PgExecutor, files = readMigrations(POSTGRES_MIGRATIONS_DIR)): Promise<MigrationReport> {
  return ex.transaction(async (tx) => {
    await tx.run((sql) => sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`)
    // lock first: two concurrent `create table if not exists` can still collide
    await tx.run((sql) => sql`
      create table if not exists schema_migrations (
        version    integer primary key,
        name       text not null,
        checksum   text not null,
        applied_at timestamptz(3) not null default now()
      )`)
    const applied = await readApplied(tx)
    const pending = plan(files, applied)
    for (const m of pending) {
      await tx.run((sql) => sql.unsafe(m.sql))
      await tx.run((sql) => sql`
        insert into schema_migrations (version, name, checksum) values (${m.version}, ${m.name}, ${m.checksum})`)
    }
    return { applied: pending.map(label), current: applied.map(label) }
  })
}

/** What migrate() would apply, without applying it (the CLI's dry run). */
export async function pendingPostgresMigrations(ex: PgExecutor, files = readMigrations(POSTGRES_MIGRATIONS_DIR)): Promise<MigrationFile[]> {
  const [table] = await ex.run((sql) => sql<{ exists: boolean }[]>`
    select to_regclass('schema_migrations') is not null as exists`)
  return plan(files, table?.exists ? await readApplied(ex) : [])
}
