// The only reader of the environment: every variable of DESIGN §7 and the seed accounts of §6, checked
// and turned into a Config. Each bad value stops the start with one line that names the variable and
// what was expected, and never echoes a value that may hold a secret (of a URL, only its scheme).
import { readFileSync } from 'node:fs'
import { ConfigError, type Config, type PoolMode } from './config-types.ts'
import { parsePostgresUrl, resolvePrimaryUrl, sqlitePath, sslmodeOf, SSL_MODES } from './config/database-urls.ts'
import { boolean, byteSize, defaultReadFile, get, getAliased, integer, oneOf, parseDuration, seconds, secret, shown, type ConfigSources } from './config/env-values.ts'
import { describeReplicaTarget, replicaConfig } from './config/replica.ts'
import { seedAccounts } from './config/seed-accounts.ts'
import { redactUrl } from './redact.ts'

export type { ConfigSources } from './config/env-values.ts'
export { DEFAULT_SECRETS_PATH, parseDuration } from './config/env-values.ts'
export { parsePostgresUrl, resolvePrimaryUrl, type PrimaryUrl } from './config/database-urls.ts'

function corsOrigins(value: string | undefined): string[] {
  if (value === undefined) return []
  const items = value.split(',').map((s) => s.trim()).filter(Boolean)
  if (items.includes('*')) {
    if (items.length > 1) throw new ConfigError('CORS_ORIGINS must be * alone or a comma-separated list of origins, not both')
    return ['*']
  }
  return items.map((item) => {
    let url: URL | undefined
    try {
      url = new URL(item)
    } catch {
      url = undefined
    }
    const isOrigin = url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password
    if (!url || !isOrigin) {
      throw new ConfigError(`CORS_ORIGINS must be * or a comma-separated list of origins like https://app.example.com (got ${shown(item)})`)
    }
    return url.origin
  })
}

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    const version = (pkg as { version?: unknown }).version
    return typeof version === 'string' ? version : '0.0.0'
  } catch {
    return '0.0.0'
  }
}

const POOL_MODES: readonly PoolMode[] = ['auto', 'session', 'transaction']
const LOG_LEVELS: readonly Config['logLevel'][] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const MIN_JWT_SECRET_LENGTH = 32

/** Reads and checks the whole configuration; throws ConfigError (one line, no secret) on the first bad value. */
export function loadConfig(sources: ConfigSources): Config {
  const env = sources.env
  const readFile = sources.readFile ?? defaultReadFile
  const nodeEnv = get(env, 'NODE_ENV') ?? null

  const fallbackVar = getAliased(env, ['DATABASE_FALLBACK', 'ENABLE_SQLITE_FALLBACK'])
  const fallbackEnabled = boolean(fallbackVar?.name ?? 'DATABASE_FALLBACK', fallbackVar?.value, true)
  const sqliteVar = getAliased(env, ['FALLBACK_DATABASE_URL', 'SQLITE_DATABASE_PATH'])
  const fallbackPath = sqliteVar ? sqlitePath(sqliteVar.name, sqliteVar.value) : './data/app.db'
  const timeoutVar = getAliased(env, ['DATABASE_TIMEOUT', 'DB_CONNECT_TIMEOUT'])
  const timeoutS = seconds(timeoutVar?.name ?? 'DATABASE_TIMEOUT', timeoutVar?.value, 5, { allowZero: false, max: 3600 })

  const primary = resolvePrimaryUrl(sources)
  const urlError = 'error' in primary ? primary.error : null
  const url = 'error' in primary ? null : primary.url
  if (!fallbackEnabled) {
    const strictName = fallbackVar?.name ?? 'DATABASE_FALLBACK'
    if (urlError !== null) throw new ConfigError(urlError)
    if (url === null) {
      throw new ConfigError(`${strictName} is false but no primary database is configured (set DATABASE_URL or one of its alternatives)`)
    }
  }
  const sslmodeFromUrl = url === null ? undefined : sslmodeOf(parsePostgresUrl(url), primary.source ?? 'DATABASE_URL')

  const jwt = secret(env, readFile, 'JWT_SECRET')
  if (jwt && jwt.value.length < MIN_JWT_SECRET_LENGTH) throw new ConfigError(`${jwt.from} must be at least ${MIN_JWT_SECRET_LENGTH} characters long`)

  return {
    port: integer('PORT', get(env, 'PORT'), 7860, 0, 65535),
    host: get(env, 'HOST') ?? '0.0.0.0',
    nodeEnv,
    logLevel: oneOf('LOG_LEVEL', get(env, 'LOG_LEVEL'), 'info', LOG_LEVELS),
    prettyLogs: (sources.isTTY ?? process.stdout.isTTY === true) && nodeEnv !== 'production',
    version: packageVersion(),
    spaceId: get(env, 'SPACE_ID') ?? null,
    bodyLimitBytes: byteSize('BODY_LIMIT', get(env, 'BODY_LIMIT'), 1024 * 1024),
    corsOrigins: corsOrigins(get(env, 'CORS_ORIGINS')),
    database: {
      url,
      source: primary.source,
      urlError,
      fallbackEnabled,
      fallbackPath,
      timeoutS,
      startupRetries: integer('DATABASE_STARTUP_RETRIES', get(env, 'DATABASE_STARTUP_RETRIES'), 2, 0, 100),
      poolSize: integer('DATABASE_POOL_SIZE', get(env, 'DATABASE_POOL_SIZE'), 10, 1, 1000),
      statementTimeoutMs: integer('DB_STATEMENT_TIMEOUT_MS', get(env, 'DB_STATEMENT_TIMEOUT_MS'), 15000, 1, 3_600_000),
      sslmode: sslmodeFromUrl ?? oneOf('DB_SSLMODE', get(env, 'DB_SSLMODE'), 'prefer', SSL_MODES),
      sqliteBusyTimeoutS: seconds('SQLITE_FALLBACK_TIMEOUT', get(env, 'SQLITE_FALLBACK_TIMEOUT'), 5, { allowZero: true, max: 3600 }),
      healthCheckIntervalMs: integer('HEALTH_CHECK_INTERVAL_MS', get(env, 'HEALTH_CHECK_INTERVAL_MS'), 2000, 10, 3_600_000),
      idleAfterS: seconds('DATABASE_IDLE_AFTER', get(env, 'DATABASE_IDLE_AFTER'), 60, { allowZero: false, max: 86_400 }),
      poolMode: oneOf('DATABASE_POOL_MODE', get(env, 'DATABASE_POOL_MODE'), 'auto', POOL_MODES),
      autoFailback: boolean('AUTO_FAILBACK', get(env, 'AUTO_FAILBACK'), true),
    },
    backup: {
      dir: get(env, 'BACKUP_DIR') ?? './data/backups',
      keep: integer('BACKUP_KEEP', get(env, 'BACKUP_KEEP'), 5, 1, 1000),
    },
    replica: replicaConfig(env, fallbackPath),
    auth: {
      jwtSecret: jwt?.value ?? null,
      accessTokenTtlS: parseDuration('ACCESS_TOKEN_TTL', get(env, 'ACCESS_TOKEN_TTL'), 15 * 60),
      refreshTokenTtlS: parseDuration('REFRESH_TOKEN_TTL', get(env, 'REFRESH_TOKEN_TTL'), 30 * 86400),
      bcryptCost: integer('BCRYPT_COST', get(env, 'BCRYPT_COST'), 10, 4, 15),
      allowRegistration: boolean('ALLOW_REGISTRATION', get(env, 'ALLOW_REGISTRATION'), false),
      // Hugging Face Spaces (SPACE_ID set) sit behind a proxy that sets X-Forwarded-For.
      trustProxy: boolean('TRUST_PROXY', get(env, 'TRUST_PROXY'), get(env, 'SPACE_ID') !== undefined),
      trustedProxyHops: integer('TRUSTED_PROXY_HOPS', get(env, 'TRUSTED_PROXY_HOPS'), 1, 1, 10),
      loginMaxFailures: integer('LOGIN_MAX_FAILURES', get(env, 'LOGIN_MAX_FAILURES'), 10, 1, 1_000_000),
      loginAccountMaxFailures: integer('LOGIN_ACCOUNT_MAX_FAILURES', get(env, 'LOGIN_ACCOUNT_MAX_FAILURES'), 50, 1, 1_000_000),
      loginWindowS: parseDuration('LOGIN_WINDOW', get(env, 'LOGIN_WINDOW'), 15 * 60),
      refreshReuseGraceS: seconds('REFRESH_REUSE_GRACE', get(env, 'REFRESH_REUSE_GRACE'), 10, { allowZero: true, max: 300 }),
    },
    notes: {
      maxPerUser: integer('NOTES_MAX_PER_USER', get(env, 'NOTES_MAX_PER_USER'), 10_000, 1, 100_000_000),
      maxBytesPerUser: byteSize('NOTES_MAX_BYTES_PER_USER', get(env, 'NOTES_MAX_BYTES_PER_USER'), 100 * 1024 ** 2, 1024 ** 4),
    },
    seed: {
      accounts: seedAccounts(env, readFile),
      resetPasswords: boolean('SEED_RESET_PASSWORDS', get(env, 'SEED_RESET_PASSWORDS'), false),
    },
  }
}

/** Every secret value the configuration holds, for the logger's safety net (`createLogger(..., { secrets })`). */
export function configSecrets(config: Config): string[] {
  const secrets: string[] = []
  if (config.database.url) {
    const password = parsePostgresUrl(config.database.url).password
    if (password) secrets.push(decodeURIComponent(password))
  }
  if (config.auth.jwtSecret) secrets.push(config.auth.jwtSecret)
  if (config.replica?.target.kind === 's3') {
    const { secretAccessKey, sessionToken } = config.replica.target.credentials
    if (secretAccessKey) secrets.push(secretAccessKey)
    if (sessionToken) secrets.push(sessionToken)
  }
  for (const account of config.seed.accounts) {
    if (account.password) secrets.push(account.password)
    if (account.passwordHash) secrets.push(account.passwordHash)
  }
  return secrets
}

/** A summary safe to log at startup: the URL redacted, secrets reduced to whether they are set. */
export function describeConfig(config: Config): Record<string, unknown> {
  const { database: db, auth, seed } = config
  return {
    version: config.version,
    node_env: config.nodeEnv,
    listen: `${config.host}:${config.port}`,
    log_level: config.logLevel,
    database: {
      source: db.source,
      url: db.url === null ? null : redactUrl(db.url),
      url_error: db.urlError,
      fallback_enabled: db.fallbackEnabled,
      fallback_path: db.fallbackPath,
      timeout_s: db.timeoutS,
      startup_retries: db.startupRetries,
      pool_size: db.poolSize,
      statement_timeout_ms: db.statementTimeoutMs,
      sslmode: db.sslmode,
      health_check_interval_ms: db.healthCheckIntervalMs,
      idle_after_s: db.idleAfterS,
      pool_mode: db.poolMode,
      auto_failback: db.autoFailback,
    },
    backup: config.backup,
    replica: config.replica && {
      target: describeReplicaTarget(config.replica),
      sync: config.replica.sync,
      interval_ms: config.replica.intervalMs,
      snapshot_interval_s: config.replica.snapshotIntervalS,
    },
    auth: {
      jwt_secret: auth.jwtSecret === null ? 'generated' : 'set',
      access_token_ttl_s: auth.accessTokenTtlS,
      refresh_token_ttl_s: auth.refreshTokenTtlS,
      bcrypt_cost: auth.bcryptCost,
      allow_registration: auth.allowRegistration,
      trust_proxy: auth.trustProxy,
      trusted_proxy_hops: auth.trustedProxyHops,
      login_max_failures: auth.loginMaxFailures,
      login_account_max_failures: auth.loginAccountMaxFailures,
      refresh_reuse_grace_s: auth.refreshReuseGraceS,
    },
    notes: { max_per_user: config.notes.maxPerUser, max_bytes_per_user: config.notes.maxBytesPerUser },
    cors_origins: config.corsOrigins,
    body_limit_bytes: config.bodyLimitBytes,
    seed: { accounts: seed.accounts.map((a) => `${a.email} (${a.role}, ${a.source})`), reset_passwords: seed.resetPasswords },
  }
}

