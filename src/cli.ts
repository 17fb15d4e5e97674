// `bun run db <command>`: the database chores, without starting the server. It opens the databases
// exactly as the server does (same configuration, same fallback file), so run it beside the app.
import type { Logger } from 'pino'
import { APP_MIGRATION_DIRS, newMigration, rollbackCommand, UsageError, withMigrationTargets, type MigrationDirs } from './cli/migrations.ts'
import { runReplicaCommand } from './cli/replica.ts'
import { runSeedCommand } from './cli/seed.ts'
import { configSecrets, loadConfig } from './config.ts'
import { ConfigError, type Config } from './config-types.ts'
import { FailoverStore } from './db/failover-store.ts'
import { upSql } from './db/migration-files.ts'
import { BootError, oneLine, openStores, type OpenedStores } from './db/open.ts'
import { createLogger } from './logger.ts'
import { redactConnectionStrings } from './redact.ts'

const USAGE = `usage: bun run db <command>

  new <name>            write the next numbered migration, NNNN_<name>.sql, for PostgreSQL and SQLite
  migrate [--dry-run]   apply pending migrations to both databases (--dry-run: print their SQL only)
  rollback [--dry-run]  undo the last applied migration of each database, by its "-- down" section
  status                migrations, mode and outbox depth
  seed                  create the declared seed accounts (SEED_*) in the active database
  backup                copy the SQLite fallback into BACKUP_DIR (VACUUM INTO, mode 0600)
  copy-to-fallback      replace the fallback's rows with a snapshot of PostgreSQL
  sync-to-primary       replay the fallback's outbox (writes PostgreSQL has not received) into it now
  replica status        what the replica (REPLICA_URL) holds, per generation
  replica restore       fill an empty SQLite file from the replica (--force: replace a non-empty one;
                        stop the server first)`

type Print = (line: string) => void

interface Context {
  config: Config
  logger: Logger
  opened: OpenedStores
  print: Print
  migrationDirs: MigrationDirs
}

export interface CliOptions {
  /** the folders `new` writes to and `migrate`, `rollback` and `status` read: the app's by default (tests pass temp folders) */
  migrationDirs?: MigrationDirs
  /** where a failed command's one line goes: stderr by default */
  printError?: Print
}

const COMMANDS: Record<string, (ctx: Context, args: string[]) => Promise<void>> = {
  async migrate({ config, opened, print, migrationDirs }, args) {
    const dryRun = args.includes('--dry-run')
    if (!opened.primaryUp && opened.primaryConfigured) print(`postgresql: unreachable (${opened.primaryError}); only SQLite is handled`)
    await withMigrationTargets(config, opened, migrationDirs, async (targets) => {
      for (const t of targets) {
        if (dryRun) {
          const pending = await t.pending()
          print(`-- ${t.name}: ${pending.length} pending migration(s)`)
          for (const m of pending) print(`-- ${String(m.version).padStart(4, '0')}_${m.name}.sql\n${upSql(m).trimEnd()}\n`)
        } else {
          const report = await t.migrate()
          print(`${t.name}: applied ${report.applied.length ? report.applied.join(', ') : 'nothing'} (${report.current.length} already applied)`)
        }
      }
    })
  },

  async rollback({ config, opened, print, migrationDirs }, args) {
    // Both databases step back together: SQLite alone now, PostgreSQL later, would undo two different migrations.
    if (!opened.primaryUp && opened.primaryConfigured)
      throw new Error(`postgresql: unreachable (${opened.primaryError}); a rollback undoes the last migration of both databases together, so nothing was rolled back: run it again when PostgreSQL answers`)
    await withMigrationTargets(config, opened, migrationDirs, (targets) => rollbackCommand(targets, args.includes('--dry-run'), print))
  },

  async status(ctx) {
    const { opened, print } = ctx
    const [sqlite, postgresql] = await withMigrationTargets(ctx.config, opened, ctx.migrationDirs, (targets) =>
      Promise.all(targets.map(async (t) => (await t.pending()).length)),
    )
    const pending = sqlite!
    // An unmigrated file has no outbox yet: no write was recorded in it.
    const outbox = pending > 0 ? 0 : opened.fallback.outbox.count()
    print(`sqlite: ${opened.fallback.path}, ${pending} pending migration(s), outbox ${outbox} entries`)
    if (!opened.primaryConfigured) print('postgresql: not configured')
    else if (postgresql === undefined) print(`postgresql: down (${opened.primaryError})`)
    else print(`postgresql: up (${ctx.config.database.source}), ${postgresql} pending migration(s)`)
    if (pending === 0) print(`conflicts recorded here: ${opened.fallback.listConflicts().length}`)
  },

  async seed(ctx) {
    await withRuntime(ctx, (db) => runSeedCommand({ store: db.store, config: ctx.config, logger: ctx.logger, print: ctx.print }))
  },

  async backup(ctx) {
    await withRuntime(ctx, async (db) => {
      const b = await db.backup()
      ctx.print(`backup ${b.file} (${b.size_bytes} bytes) in ${ctx.config.backup.dir}`)
    })
  },

  async 'copy-to-fallback'(ctx) {
    await withRuntime(ctx, async (db) => {
      const r = await db.copyToFallback()
      ctx.print(`copied ${Object.entries(r.tables).map(([t, n]) => `${t}=${n}`).join(' ')} in ${r.duration_ms} ms`)
    })
  },

  // the replay, under its public name
  async 'sync-to-primary'(ctx) {
    await withRuntime(ctx, async (db) => {
      const r = await db.replay()
      ctx.print(`replayed: ${r.applied} applied, ${r.conflicts} conflicts, ${r.remaining} remaining`)
    })
  },
}

/** The same FailoverStore the server runs, initialised (migrated, replayed, warmed) but not probing. */
async function withRuntime(ctx: Context, fn: (db: FailoverStore) => Promise<unknown>): Promise<void> {
  const db = new FailoverStore({
    ...ctx.opened,
    logger: ctx.logger,
    probeIntervalMs: ctx.config.database.healthCheckIntervalMs,
    autoFailback: ctx.config.database.autoFailback,
    backup: ctx.config.backup,
  })
  try {
    await db.init()
    await fn(db)
  } finally {
    await db.close()
  }
}

export async function runCli(
  argv: string[],
  env: Record<string, string | undefined>,
  print: Print = console.log,
  options: CliOptions = {},
): Promise<number> {
  const [name, ...args] = argv
  const migrationDirs = options.migrationDirs ?? APP_MIGRATION_DIRS
  const printError = options.printError ?? ((line: string) => void process.stderr.write(`${line}\n`))
  const fail = (message: string): number => {
    printError(oneLine(redactConnectionStrings(message), 1_000))
    return 1
  }
  // Writes files only: no configuration, no database.
  if (name === 'new') {
    try {
      for (const path of newMigration(args, migrationDirs)) print(`created ${path}`)
      return 0
    } catch (e) {
      if (e instanceof UsageError) {
        printError(e.message)
        return 2
      }
      return fail(e instanceof Error ? e.message : String(e))
    }
  }
  const command = name ? COMMANDS[name] : undefined
  if (!command && name !== 'replica') {
    print(USAGE)
    return name ? 2 : 0
  }
  let config: Config
  try {
    config = loadConfig({ env, isTTY: false })
  } catch (e) {
    if (e instanceof ConfigError) return fail(e.message)
    throw e
  }
  // Operators read the command's own lines; the log only carries warnings.
  const logger = createLogger({ ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }, { secrets: configSecrets(config) })
  // Before the store opens (and so creates) the file: a restore must find it as it is.
  if (!command) {
    try {
      await runReplicaCommand({ config, logger, args, print })
      return 0
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e))
    }
  }
  let opened: OpenedStores
  try {
    opened = await openStores({ config, logger })
  } catch (e) {
    if (e instanceof BootError) return fail(e.message)
    throw e
  }
  try {
    await command({ config, logger, opened, print, migrationDirs }, args)
    return 0
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e))
  } finally {
    await opened.primary?.close().catch(() => undefined)
    await opened.fallback.close().catch(() => undefined)
  }
}

if (import.meta.main) process.exit(await runCli(process.argv.slice(2), process.env))
