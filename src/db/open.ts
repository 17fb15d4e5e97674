// Boot-time resolution of the databases (DESIGN §4): reach the primary within a bound we control,
// else say so once and open the SQLite fallback; in strict mode refuse to start instead.
//
// The bound: every attempt runs under our own deadline (postgres.js alone can hang forever on a
// blackholed or FIN-on-connect socket: porsager/postgres#1089, #1193), and the pauses between
// attempts only use time that earlier attempts left unused. So reaching a verdict on the primary
// never takes longer than DATABASE_TIMEOUT × (1 + DATABASE_STARTUP_RETRIES); the documented boot
// bound adds 1 s for everything else.
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config-types.ts'
import { redactConnectionStrings, redactSecrets, redactUrl } from '../redact.ts'
import { PostgresStore } from './postgres/postgres-store.ts'
import { SqliteStore } from './sqlite/sqlite-store.ts'

/** A reason not to start: `message` is one line, printed as is, and the process exits 1. */
export class BootError extends Error {
  override readonly name = 'BootError'
}

export interface OpenedStores {
  /** null when none is configured or the URL is unusable */
  primary: PostgresStore | null
  primaryConfigured: boolean
  /** did the boot check reach it */
  primaryUp: boolean
  /** redacted one-line reason when not up */
  primaryError: string | null
  fallback: SqliteStore
  /** false when an in-memory SQLite stands in (unwritable file, or `:memory:` asked for) */
  fallbackPersistent: boolean
  /** a new, empty fallback at the same place (the admin cleanup removes the file and reopens) */
  reopenFallback: () => SqliteStore
}

export interface Pingable {
  ping(deadlineMs?: number): Promise<void>
  close(): Promise<void>
}

export type ReachResult<P> =
  | { up: true; store: P; attempts: number; elapsedMs: number }
  | { up: false; reason: string; attempts: number; elapsedMs: number }

const BACKOFF_BASE_MS = 250

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export const oneLine = (text: string, max = 300): string => {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** Rejects with our own deadline error when `target.ping` has not settled within `ms`. */
export async function pingWithin(target: Pingable, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const ping = target.ping(ms)
  // After our deadline wins the race, a late rejection must not surface as unhandled.
  ping.catch(() => {})
  try {
    await Promise.race([
      ping,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Up to `attempts` pings, each on a fresh client (a timed-out client may hold a hung socket),
 * each under min(timeoutMs, what is left of attempts × timeoutMs). Between attempts a backoff of
 * 250 ms, 500 ms, … but only out of the slack that fast failures left, so the total stays bounded.
 */
export async function reachPrimary<P extends Pingable>(opts: {
  attempts: number
  timeoutMs: number
  create: () => P
  describe: (e: unknown) => string
  onAttemptFailed?: (attempt: number, reason: string) => void
}): Promise<ReachResult<P>> {
  const start = performance.now()
  const budgetEnd = start + opts.attempts * opts.timeoutMs
  const elapsed = () => Math.round(performance.now() - start)
  let reason = 'not attempted'
  let made = 0
  for (let i = 0; i < opts.attempts; i++) {
    const left = budgetEnd - performance.now()
    if (left <= 0) break
    made++
    const store = opts.create()
    try {
      await pingWithin(store, Math.min(opts.timeoutMs, Math.ceil(left)))
      return { up: true, store, attempts: made, elapsedMs: elapsed() }
    } catch (e) {
      reason = opts.describe(e)
      opts.onAttemptFailed?.(made, reason)
      abandon(store)
    }
    const remaining = opts.attempts - 1 - i
    if (remaining > 0) {
      const slack = budgetEnd - performance.now() - remaining * opts.timeoutMs
      const pause = Math.min(BACKOFF_BASE_MS * 2 ** i, slack)
      if (pause > 0) await sleep(pause)
    }
  }
  return { up: false, reason, attempts: made, elapsedMs: elapsed() }
}

/** Close a client we gave up on, without ever waiting on it: its socket may be hung. */
function abandon(store: Pingable): void {
  void store.close().catch(() => {})
}

const passwordOf = (url: string | null): string[] => {
  if (!url) return []
  try {
    const p = new URL(url).password
    return p ? [p, decodeURIComponent(p)] : []
  } catch {
    return []
  }
}

export async function openStores({ config, logger }: { config: Config; logger: Logger }): Promise<OpenedStores> {
  const db = config.database
  const strict = !db.fallbackEnabled
  const variable = db.source ?? 'DATABASE_URL'
  const secrets = passwordOf(db.url)
  const describe = (e: unknown): string =>
    oneLine(redactSecrets(redactConnectionStrings(e instanceof Error ? e.message : String(e)), secrets))
  const notOnSqlite = 'DATABASE_FALLBACK=false, so the server does not start on SQLite'

  let primary: PostgresStore | null = null
  let primaryUp = false
  let primaryError: string | null = null
  let warn: { fields: Record<string, unknown>; msg: string } | null = null

  if (db.urlError) {
    primaryError = oneLine(db.urlError)
    const reason = primaryError.startsWith(variable) ? primaryError : `${variable}: ${primaryError}`
    if (strict) throw new BootError(`${reason}; ${notOnSqlite}`)
    warn = { fields: { source: variable, reason: primaryError }, msg: 'primary database URL unusable; serving from the SQLite fallback' }
  } else if (db.url) {
    const url = db.url
    const create = () =>
      new PostgresStore({
        url,
        poolSize: db.poolSize,
        connectTimeoutS: db.timeoutS,
        statementTimeoutMs: db.statementTimeoutMs,
        sslmode: db.sslmode,
        poolMode: db.poolMode,
        // an idle server closes its connections by the time it stops probing (DATABASE_IDLE_AFTER)
        idleTimeoutS: Math.min(30, db.idleAfterS),
      })
    const attempts = 1 + db.startupRetries
    const result = await reachPrimary({
      attempts,
      timeoutMs: db.timeoutS * 1000,
      create,
      describe,
      onAttemptFailed: (attempt, reason) => logger.debug({ attempt, of: attempts, reason }, 'primary database attempt failed'),
    })
    if (result.up) {
      primary = result.store
      primaryUp = true
      logger.debug({ attempts: result.attempts, elapsed_ms: result.elapsedMs }, 'primary database reachable')
    } else {
      if (strict) {
        throw new BootError(
          `${variable}: cannot use PostgreSQL at ${redactUrl(url)}: ${result.reason} (${result.attempts} attempt(s), ${db.timeoutS}s each); ${notOnSqlite}`,
        )
      }
      // A fresh, unconnected client for the monitor: the boot ones may hold hung sockets.
      primary = create()
      primaryError = result.reason
      warn = {
        fields: { source: variable, url: redactUrl(url), reason: result.reason, attempts: result.attempts, elapsed_ms: result.elapsedMs },
        msg: 'primary database unavailable at boot; serving from the SQLite fallback and probing the primary in the background',
      }
    }
  } else if (strict) {
    throw new BootError(
      'DATABASE_URL is not set (nor any alias) and DATABASE_FALLBACK=false: set DATABASE_URL to a PostgreSQL URL, or allow the SQLite fallback',
    )
  }

  const fallback = openFallback(config, logger, describe)
  if (warn) logger.warn({ ...warn.fields, fallback: fallback.path, persistent: fallback.persistent }, warn.msg)
  return {
    primary,
    primaryConfigured: db.urlError != null || db.url != null,
    primaryUp,
    primaryError,
    fallback: fallback.store,
    fallbackPersistent: fallback.persistent,
    reopenFallback: () => new SqliteStore({ path: fallback.path, busyTimeoutS: db.sqliteBusyTimeoutS }),
  }
}

/**
 * The SQLite file (SqliteStore creates its folder and proves the file writable by rewriting its
 * header). When it cannot be written (read-only image, wrong owner: a Hugging Face Space runs as
 * uid 1000 with only its data folder writable), an in-memory database stands in so the server
 * still starts, and the log says loudly what that costs.
 */
function openFallback(
  config: Config,
  logger: Logger,
  describe: (e: unknown) => string,
): { store: SqliteStore; persistent: boolean; path: string } {
  const busyTimeoutS = config.database.sqliteBusyTimeoutS
  const configured = config.database.fallbackPath
  if (configured === ':memory:') {
    logger.info('fallback database is in memory (FALLBACK_DATABASE_URL=:memory:): nothing written to it survives a restart')
    return { store: new SqliteStore({ path: ':memory:', busyTimeoutS }), persistent: false, path: ':memory:' }
  }
  const path = resolve(configured)
  try {
    return { store: new SqliteStore({ path, busyTimeoutS }), persistent: true, path }
  } catch (e) {
    logger.error(
      { path, reason: describe(e) },
      'FALLBACK DATABASE FILE NOT WRITABLE: using an in-memory SQLite database instead. NOTHING WRITTEN TO THE FALLBACK WILL PERSIST: ' +
        'writes made while PostgreSQL is unavailable are lost on restart. Make the folder writable or set FALLBACK_DATABASE_URL.',
    )
    return { store: new SqliteStore({ path: ':memory:', busyTimeoutS }), persistent: false, path: ':memory:' }
  }
}
