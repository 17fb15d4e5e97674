// The shape of the configuration. `src/config.ts` is the only reader of process.env and builds it.
import type { Role } from './db/store.ts'

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

/** How the pooler in front of PostgreSQL treats sessions (DESIGN §12): `auto` detects it. */
export type PoolMode = 'auto' | 'session' | 'transaction'

export interface SeedAccount {
  email: string
  /** exactly one of password / passwordHash */
  password?: string
  passwordHash?: string
  name: string | null
  role: Role
  /** where it came from, for messages: 'SEED_ADMIN_EMAIL', 'SEED_USERS[2]', 'SEED_USERS_FILE[0]' */
  source: string
}

export interface Config {
  port: number
  host: string
  nodeEnv: string | null
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** pretty logs: only on a TTY and not in production */
  prettyLogs: boolean
  version: string
  /** SPACE_ID: the Hugging Face Space this runs in ('owner/name'), null elsewhere */
  spaceId: string | null
  bodyLimitBytes: number
  corsOrigins: string[]
  database: {
    /** the primary PostgreSQL URL, normalized to postgres://; null when none is configured */
    url: string | null
    /** where the URL came from: 'DATABASE_URL', 'DB_URL_FILE', '/run/secrets/database_url', 'DB_* parts', ... */
    source: string | null
    /** why the configured primary URL is unusable (one redacted line), with url = null; only possible when fallbackEnabled */
    urlError: string | null
    fallbackEnabled: boolean
    /** SQLite file path, or ':memory:' */
    fallbackPath: string
    timeoutS: number
    startupRetries: number
    poolSize: number
    statementTimeoutMs: number
    sslmode: SslMode
    sqliteBusyTimeoutS: number
    healthCheckIntervalMs: number
    /** seconds without a database-bound request after which primary mode sends PostgreSQL nothing */
    idleAfterS: number
    poolMode: PoolMode
    autoFailback: boolean
  }
  backup: { dir: string; keep: number }
  /** the continuous replica of the SQLite database (DESIGN §13); null when REPLICA_URL is unset */
  replica: ReplicaConfig | null
  auth: {
    jwtSecret: string | null
    accessTokenTtlS: number
    refreshTokenTtlS: number
    bcryptCost: number
    allowRegistration: boolean
    trustProxy: boolean
    /** proxies we trust that append to X-Forwarded-For: the client is the entry this far from the right */
    trustedProxyHops: number
    /** failures per client IP + email in the window */
    loginMaxFailures: number
    /** failures per account from all IPs together in the window: gentler, so rotating IPs cannot guess on */
    loginAccountMaxFailures: number
    loginWindowS: number
    /** seconds in which a just-rotated refresh token presented again gets the same new pair; 0 = none */
    refreshReuseGraceS: number
  }
  notes: {
    /** live notes one user may keep */
    maxPerUser: number
    /** bytes of title + body (UTF-8) one user's live notes may hold together */
    maxBytesPerUser: number
  }
  seed: {
    accounts: SeedAccount[]
    resetPasswords: boolean
  }
}

/** what Bun's S3 client would read from S3_* / AWS_*, read by src/config instead */
export interface S3Credentials {
  accessKeyId?: string
  secretAccessKey?: string
  sessionToken?: string
  endpoint?: string
  region?: string
}

export interface ReplicaConfig {
  target: { kind: 'file'; path: string } | { kind: 's3'; bucket: string; prefix: string; credentials: S3Credentials }
  /** REPLICA_SYNC: acknowledge a write on SQLite only once the replica holds it */
  sync: boolean
  intervalMs: number
  snapshotIntervalS: number
  /** a new snapshot after this many segments, whatever the time */
  snapshotEverySegments: number
  /** one upload (or listing, or download) longer than this counts as failed */
  uploadTimeoutMs: number
}

/** A bad configuration value: `message` is one line naming the variable and what was expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}
