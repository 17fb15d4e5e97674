// Process entry (DESIGN §2): config → logger → databases → migrate → seed → app → listen.
// Whatever the primary does, the server comes up (on SQLite if need be) within
// DATABASE_TIMEOUT × (1 + DATABASE_STARTUP_RETRIES) + 1 s, or, in strict mode, exits 1 with one line.
import { createApp, serverRoutes } from './app.ts'
import { resolveJwtSecret } from './auth/jwt-secret.ts'
import { configSecrets, loadConfig } from './config.ts'
import { ConfigError, type Config } from './config-types.ts'
import { FailoverStore } from './db/failover-store.ts'
import { BootError, oneLine, openStores } from './db/open.ts'
import { prepareReplica, startReplica } from './db/replica/wiring.ts'
import { createLogger } from './logger.ts'
import { redactConnectionStrings } from './redact.ts'
import { seedAccounts } from './seed.ts'
import { gracefulShutdown, onTerminationSignals } from './shutdown.ts'

const DRAIN_MS = 5_000
const CLOSE_MS = 4_000

/** One line on stderr and exit 1: no stack trace, no secret (messages are made redacted). */
function die(message: string): never {
  process.stderr.write(`${oneLine(redactConnectionStrings(message), 1_000)}\n`)
  process.exit(1)
}

async function main(): Promise<void> {
  let config: Config
  try {
    config = loadConfig({ env: process.env, isTTY: Boolean(process.stdout.isTTY) })
  } catch (e) {
    if (e instanceof ConfigError) die(e.message)
    throw e
  }
  const logger = createLogger(config, { secrets: configSecrets(config) })

  // Before the store opens the file: an empty disk is filled from the replica first.
  const preparedReplica = await prepareReplica({ config, logger })

  let opened
  try {
    opened = await openStores({ config, logger })
  } catch (e) {
    if (e instanceof BootError) die(e.message)
    throw e
  }

  const db = new FailoverStore({
    ...opened,
    logger,
    probeIntervalMs: config.database.healthCheckIntervalMs,
    idleAfterMs: config.database.idleAfterS * 1000,
    autoFailback: config.database.autoFailback,
    backup: config.backup,
    // A recovered PostgreSQL gets the declared accounts again (it may be a fresh database).
    afterRecovery: async (primary) => {
      await seedAccounts({ store: primary, config, logger })
    },
  })
  await db.init()
  const replica = startReplica({ config, logger, prepared: preparedReplica, fallbackPath: opened.fallback.path })
  await seedAccounts({ store: db.store, config, logger })
  const jwtSecret = await resolveJwtSecret({ store: db.store, config, logger })

  const deps = { config, logger, store: db.store, db, replica, jwtSecret, startedAt: Math.round(performance.timeOrigin) }
  const app = createApp(deps)
  const server = Bun.serve({
    port: config.port,
    hostname: config.host,
    routes: serverRoutes(deps, app),
    fetch: app.fetch,
    development: false,
    // Bun's default (10 s) would cut a request still waiting on a slow statement.
    idleTimeout: Math.min(255, Math.ceil(config.database.statementTimeoutMs / 1000) + 10),
  })
  db.startMonitor()

  const status = db.status()
  logger.info(
    {
      port: server.port,
      host: config.host,
      mode: status.mode,
      database_type: status.activeKind,
      primary_source: config.database.source,
      fallback_persistent: status.fallback.persistent,
      boot_ms: Math.round(performance.now()),
      version: config.version,
    },
    'listening',
  )

  // A stray rejection from a driver's background socket (postgres.js cancel connections do this)
  // must not take down a server whose whole point is to stay up: log it, keep serving.
  process.on('unhandledRejection', (reason) => {
    logger.error({ error: { name: reason instanceof Error ? reason.name : typeof reason, message: reason instanceof Error ? reason.message : String(reason) } }, 'unhandled rejection')
  })

  // The replica last: its final round ships what the store's last writes left in the log.
  const closeDatabases = async () => {
    await db.close()
    await replica?.close()
  }
  onTerminationSignals(
    gracefulShutdown({ server, db: { close: closeDatabases }, logger, drainMs: DRAIN_MS, closeMs: CLOSE_MS, exit: (code) => process.exit(code) }),
  )
}

main().catch((e: unknown) => {
  // Seeding checks the declared accounts too: its ConfigError is a configuration line like any other.
  if (e instanceof ConfigError) die(e.message)
  die(`startup failed: ${e instanceof Error ? e.message : String(e)}`)
})
