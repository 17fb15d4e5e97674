import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configSecrets, describeConfig, loadConfig, resolvePrimaryUrl, type ConfigSources } from '../src/config.ts'
import { ConfigError, type Config } from '../src/config-types.ts'

type Env = Record<string, string | undefined>

let dir = ''
let fileCount = 0

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'config-test-'))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

/** A file in this suite's temp dir, with a unique name. */
function tempFile(content: string): string {
  const path = join(dir, `file-${++fileCount}`)
  writeFileSync(path, content)
  return path
}
const absentPath = () => join(dir, `absent-${++fileCount}`)

/** loadConfig isolated from the machine: no real secrets file, no real terminal. */
const load = (env: Env, extra: Partial<ConfigSources> = {}): Config =>
  loadConfig({ env, secretsPath: absentPath(), isTTY: false, ...extra })
const resolve = (env: Env, extra: Partial<ConfigSources> = {}) =>
  resolvePrimaryUrl({ env, secretsPath: absentPath(), ...extra })

/** Asserts a one-line ConfigError naming `variable`, matching `pattern`, and free of `secrets`. */
function expectConfigError(env: Env, variable: string, pattern?: RegExp, secrets: string[] = [], extra: Partial<ConfigSources> = {}): string {
  let caught: unknown
  try {
    load(env, extra)
  } catch (e) {
    caught = e
  }
  expect(caught).toBeInstanceOf(ConfigError)
  const message = (caught as ConfigError).message
  expect(message).toContain(variable)
  expect(message).not.toContain('\n')
  if (pattern) expect(message).toMatch(pattern)
  for (const secret of secrets) expect(message).not.toContain(secret)
  return message
}

const URL_VARS = ['SQL_URL', 'DB_URL', 'DATABASE_URL', 'DATABASE_URL_PRIVATE', 'PRIVATE_SQL_URL'] as const
const urlFor = (name: string) => `postgres://user:pw@${name.toLowerCase().replaceAll('_', '-')}.example:5432/app`

describe('primary URL sources, in order', () => {
  test('nothing configured → no primary', () => {
    const c = load({})
    expect(c.database).toMatchObject({ url: null, source: null, urlError: null })
    expect(resolve({})).toEqual({ url: null, source: null })
  })

  test.each(URL_VARS.map((name) => [name]))('%s alone is used and reported as the source', (name) => {
    const c = load({ [name]: urlFor(name) })
    expect(c.database.url).toBe(urlFor(name))
    expect(c.database.source).toBe(name)
  })

  test.each(URL_VARS.slice(0, -1).map((name, i) => [name, i]))('%s beats every later variable', (name, i) => {
    const env: Env = {}
    for (const later of URL_VARS.slice(i)) env[later] = urlFor(later)
    expect(load(env).database.source).toBe(name)
    expect(load(env).database.url).toBe(urlFor(name))
  })

  test('SQL_URL beats DATABASE_URL', () => {
    const c = load({ DATABASE_URL: 'postgres://a@database-host/x', SQL_URL: 'postgres://a@sql-host/x' })
    expect(c.database.url).toBe('postgres://a@sql-host/x')
    expect(c.database.source).toBe('SQL_URL')
  })

  test('the variable beats its _FILE; the _FILE content is trimmed', () => {
    const path = tempFile('  postgres://u:pw@from-file/db\n')
    expect(load({ DB_URL: 'postgres://u:pw@direct/db', DB_URL_FILE: path }).database.source).toBe('DB_URL')
    const c = load({ DB_URL_FILE: path })
    expect(c.database.url).toBe('postgres://u:pw@from-file/db')
    expect(c.database.source).toBe('DB_URL_FILE')
  })

  test('an earlier _FILE beats a later variable (DB_URL_FILE beats DATABASE_URL)', () => {
    const path = tempFile('postgres://u:pw@from-file/db')
    const c = load({ DB_URL_FILE: path, DATABASE_URL: 'postgres://u:pw@direct/db' })
    expect(c.database.source).toBe('DB_URL_FILE')
  })

  test.each(URL_VARS.map((name) => [name]))('%s_FILE is read', (name) => {
    const c = load({ [`${name}_FILE`]: tempFile(urlFor(name)) })
    expect(c.database.url).toBe(urlFor(name))
    expect(c.database.source).toBe(`${name}_FILE`)
  })

  test('an explicit _FILE that cannot be read is a URL error (strict: a ConfigError), never a skip', () => {
    const path = absentPath()
    const c = load({ DATABASE_URL_FILE: path, DB_HOST: 'parts-host' })
    expect(c.database.url).toBeNull()
    expect(c.database.source).toBe('DATABASE_URL_FILE')
    expect(c.database.urlError).toBe(`DATABASE_URL_FILE could not be read: ${path} (ENOENT)`)
    expectConfigError({ DATABASE_URL_FILE: path, DATABASE_FALLBACK: 'false' }, 'DATABASE_URL_FILE', /could not be read/)
  })

  test('an explicit _FILE that is empty is a URL error', () => {
    const c = load({ DATABASE_URL_FILE: tempFile(' \n') })
    expect(c.database.urlError).toMatch(/^DATABASE_URL_FILE names an empty file/)
  })

  test('the secrets file comes after every variable and before the parts', () => {
    const secretsPath = tempFile('postgres://u:pw@secret-host/db\n')
    const fromSecrets = load({ DB_HOST: 'parts-host' }, { secretsPath })
    expect(fromSecrets.database.url).toBe('postgres://u:pw@secret-host/db')
    expect(fromSecrets.database.source).toBe(secretsPath)
    const fromVariable = load({ PRIVATE_SQL_URL: 'postgres://u:pw@var-host/db' }, { secretsPath })
    expect(fromVariable.database.source).toBe('PRIVATE_SQL_URL')
  })

  test('the secrets path defaults to /run/secrets/database_url, read through readFile', () => {
    const asked: string[] = []
    const readFile = (path: string) => {
      asked.push(path)
      return path === '/run/secrets/database_url' ? 'postgresql://u:pw@swarm-host/db' : null
    }
    const r = resolvePrimaryUrl({ env: {}, readFile })
    expect(asked).toEqual(['/run/secrets/database_url'])
    expect(r).toEqual({ url: 'postgres://u:pw@swarm-host/db', source: '/run/secrets/database_url' })
  })

  test('a missing, empty or unreadable secrets file is skipped', () => {
    const empty = tempFile('\n')
    expect(load({ DB_HOST: 'h' }, { secretsPath: empty }).database.source).toBe('DB_* parts')
    expect(load({ DB_HOST: 'h' }, { secretsPath: absentPath() }).database.source).toBe('DB_* parts')
    expect(load({ DB_HOST: 'h' }, { secretsPath: dir }).database.source).toBe('DB_* parts')
    const throwing = () => {
      throw new Error('EACCES')
    }
    expect(resolvePrimaryUrl({ env: {}, readFile: throwing })).toEqual({ url: null, source: null })
  })

  test('a garbage URL in the secrets file is a URL error naming the file', () => {
    const secretsPath = tempFile('mysql://u:hunter22@h/db')
    const c = load({}, { secretsPath })
    expect(c.database.urlError).toBe(`the URL in ${secretsPath} must be a postgres:// or postgresql:// URL (got mysql://…)`)
    expect(c.database.source).toBe(secretsPath)
  })

  test('empty strings count as unset', () => {
    const c = load({ SQL_URL: '', DB_URL: '  ', DB_URL_FILE: '', DATABASE_URL: 'postgres://u@h/db' })
    expect(c.database.source).toBe('DATABASE_URL')
  })
})

describe('primary URL from parts', () => {
  const SPECIAL = 'p@ss:w/rd?#%&'

  test('DB_* parts: a password with special characters survives into a URL that parses back to it', () => {
    const c = load({ DB_HOST: 'db.internal', DB_PORT: '6543', DB_NAME: 'my db', DB_USER: 'app@corp', DB_PASSWORD: SPECIAL })
    expect(c.database.source).toBe('DB_* parts')
    const url = new URL(c.database.url!)
    expect(url.protocol).toBe('postgres:')
    expect(url.hostname).toBe('db.internal')
    expect(url.port).toBe('6543')
    expect(decodeURIComponent(url.password)).toBe(SPECIAL)
    expect(decodeURIComponent(url.username)).toBe('app@corp')
    expect(decodeURIComponent(url.pathname.slice(1))).toBe('my db')
  })

  test('DB_PASSWORD is used as-is, spaces included', () => {
    const c = load({ DB_HOST: 'h', DB_USER: 'u', DB_PASSWORD: ' two words ' })
    expect(decodeURIComponent(new URL(c.database.url!).password)).toBe(' two words ')
  })

  test('DB_PASSWORD_FILE: the trailing newline is dropped; DB_PASSWORD wins over it', () => {
    const path = tempFile(`${SPECIAL}\n`)
    const c = load({ DB_HOST: 'h', DB_USER: 'u', DB_PASSWORD_FILE: path })
    expect(decodeURIComponent(new URL(c.database.url!).password)).toBe(SPECIAL)
    const direct = load({ DB_HOST: 'h', DB_USER: 'u', DB_PASSWORD: 'direct-pw', DB_PASSWORD_FILE: path })
    expect(new URL(direct.database.url!).password).toBe('direct-pw')
  })

  test('DB_PASSWORD_FILE that cannot be read is a URL error', () => {
    const c = load({ DB_HOST: 'h', DB_PASSWORD_FILE: absentPath() })
    expect(c.database.urlError).toMatch(/^DB_PASSWORD_FILE could not be read/)
    expect(c.database.source).toBe('DB_* parts')
  })

  test('DB_PARAMS becomes the query string (a leading ? is fine)', () => {
    const c = load({ DB_HOST: 'h', DB_PARAMS: '?sslmode=require&application_name=x' })
    expect(c.database.url).toBe('postgres://h?sslmode=require&application_name=x')
    expect(new URL(c.database.url!).searchParams.get('application_name')).toBe('x')
    expect(c.database.sslmode).toBe('require')
  })

  test('only the host is required; an IPv6 host gets brackets', () => {
    expect(load({ DB_HOST: 'h' }).database.url).toBe('postgres://h')
    expect(load({ DB_HOST: '::1', DB_PORT: '5432' }).database.url).toBe('postgres://[::1]:5432')
  })

  test('parts without a host are not a configuration', () => {
    expect(load({ DB_USER: 'u', DB_PASSWORD: 'x', POSTGRES_USER: 'u', POSTGRES_PASSWORD: 'y', POSTGRES_DB: 'd' }).database.url).toBeNull()
  })

  test('POSTGRES_* parts', () => {
    const c = load({ POSTGRES_HOST: 'pg', POSTGRES_PORT: '5433', POSTGRES_DB: 'app', POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: SPECIAL })
    expect(c.database.source).toBe('POSTGRES_* parts')
    const url = new URL(c.database.url!)
    expect([url.hostname, url.port, url.pathname, url.username]).toEqual(['pg', '5433', '/app', 'postgres'])
    expect(decodeURIComponent(url.password)).toBe(SPECIAL)
  })

  test('POSTGRES_PASSWORD_FILE is read like DB_PASSWORD_FILE', () => {
    const c = load({ POSTGRES_HOST: 'pg', POSTGRES_USER: 'u', POSTGRES_PASSWORD_FILE: tempFile('from-file\n') })
    expect(new URL(c.database.url!).password).toBe('from-file')
  })

  test('DB_* parts beat POSTGRES_* parts', () => {
    expect(load({ DB_HOST: 'a', POSTGRES_HOST: 'b' }).database.url).toBe('postgres://a')
  })

  test('bad parts are URL errors naming the part, without the password', () => {
    expect(load({ DB_HOST: 'h', DB_PORT: '70000', DB_PASSWORD: SPECIAL }).database.urlError).toBe('DB_PORT must be an integer from 1 to 65535 (got "70000")')
    expect(load({ DB_HOST: 'bad host/x' }).database.urlError).toMatch(/^DB_HOST must be a host name or an IP address/)
    expect(load({ POSTGRES_HOST: 'h', POSTGRES_PORT: 'x' }).database.urlError).toMatch(/^POSTGRES_PORT must be an integer/)
    const params = load({ DB_HOST: 'h', DB_PARAMS: 'password=hunter22 x' }).database.urlError!
    expect(params).toBe('DB_PARAMS must be a query string like sslmode=require&application_name=app')
    expect(load({ DB_HOST: 'h', DB_PARAMS: 'sslmode=bogus' }).database.urlError).toMatch(/^DB_PARAMS has sslmode "bogus"/)
  })
})

describe('URL schemes and normalization', () => {
  test.each([
    ['postgres://u:pw@h:5432/db'],
    ['postgresql://u:pw@h:5432/db'],
    ['postgresql+asyncpg://u:pw@h:5432/db'],
    ['postgresql+psycopg2://u:pw@h:5432/db'],
    ['POSTGRESQL://u:pw@h:5432/db'],
  ])('%s is accepted and normalized to postgres://', (raw) => {
    expect(load({ DATABASE_URL: raw }).database.url).toBe('postgres://u:pw@h:5432/db')
  })

  test('a percent-encoded password survives byte for byte', () => {
    const raw = 'postgres://user:p%40ss%3Aw%2Frd%3F%23%25%26@h:5432/db?sslmode=require'
    const c = load({ DATABASE_URL: raw })
    expect(c.database.url).toBe(raw)
    expect(decodeURIComponent(new URL(c.database.url!).password)).toBe('p@ss:w/rd?#%&')
  })

  test('a raw @ in the password is encoded, so every driver reads the same password', () => {
    const c = load({ DATABASE_URL: 'postgresql://user:p@ss@h/db' })
    expect(c.database.url).toBe('postgres://user:p%40ss@h/db')
  })

  test('a URL without credentials, or with several hosts, is kept as is', () => {
    expect(load({ DATABASE_URL: 'postgres://h/db' }).database.url).toBe('postgres://h/db')
    expect(load({ DATABASE_URL: 'postgres://u:pw@h1:5432,h2:5433/db' }).database.url).toBe('postgres://u:pw@h1:5432,h2:5433/db')
  })

  const SECRET = 'hunter2-Secret'
  const bad: Array<[string, string, RegExp]> = [
    ['mysql scheme', `mysql://u:${SECRET}@h/db`, /^DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL \(got mysql:\/\/…\)$/],
    ['no scheme', `u:${SECRET}@h/db`, /^DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL \(got u:…\)$/],
    ['plain garbage', `${SECRET} garbage`, /\(got a value without a scheme\)$/],
    ['no host', `postgres://:${SECRET}@/db`, /^DATABASE_URL must include a host \(got postgres:\/\/…\)$/],
    ['empty host', 'postgres:///db', /^DATABASE_URL must include a host \(got postgres:\/\/…\)$/],
    ['bad port', `postgres://u:${SECRET}@h:99999/db`, /^DATABASE_URL is not a valid URL/],
    ['unencoded slash in password', `postgres://u:12/${SECRET}@h/db`, /^DATABASE_URL has an '@' after the host; percent-encode/],
    ['unencoded @ and slash in password', `postgres://u:${SECRET}@x/y@h/db`, /^DATABASE_URL has an '@' after the host/],
    ['empty host in a host list', `postgres://u:${SECRET}@h1,,h2/db`, /^DATABASE_URL is not a valid URL/],
    ['broken percent-encoding', `postgres://u:${SECRET}%zz@h/db`, /^DATABASE_URL has an invalid percent-encoding/],
    ['unknown sslmode', `postgres://u:${SECRET}@h/db?sslmode=sometimes`, /^DATABASE_URL has sslmode "sometimes"; expected one of disable, allow/],
  ]

  test.each(bad)('%s: with the fallback on, a redacted urlError and no crash', (_what, raw, pattern) => {
    const c = load({ DATABASE_URL: raw })
    expect(c.database.url).toBeNull()
    expect(c.database.source).toBe('DATABASE_URL')
    expect(c.database.urlError).toMatch(pattern)
    expect(c.database.urlError).not.toContain(SECRET)
    expect(c.database.urlError).not.toContain('\n')
  })

  test.each(bad)('%s: in strict mode, a ConfigError', (_what, raw, pattern) => {
    expectConfigError({ DATABASE_URL: raw, DATABASE_FALLBACK: 'false' }, 'DATABASE_URL', pattern, [SECRET])
  })

  test('resolvePrimaryUrl reports the error with its source instead of throwing', () => {
    expect(resolve({ DB_URL: `mysql://u:${SECRET}@h/db` })).toEqual({
      error: 'DB_URL must be a postgres:// or postgresql:// URL (got mysql://…)',
      source: 'DB_URL',
    })
  })

  test('strict mode without any primary is a ConfigError', () => {
    expectConfigError({ DATABASE_FALLBACK: 'false' }, 'DATABASE_FALLBACK', /no primary database is configured/)
    expectConfigError({ ENABLE_SQLITE_FALLBACK: 'off' }, 'ENABLE_SQLITE_FALLBACK', /no primary database is configured/)
  })

  test('strict mode with a good URL loads', () => {
    const c = load({ DATABASE_URL: 'postgres://u@h/db', DATABASE_FALLBACK: 'false' })
    expect(c.database.fallbackEnabled).toBe(false)
    expect(c.database.url).toBe('postgres://u@h/db')
  })
})

describe('sslmode', () => {
  test('the URL sslmode beats DB_SSLMODE', () => {
    expect(load({ DATABASE_URL: 'postgres://h/db?sslmode=verify-full', DB_SSLMODE: 'disable' }).database.sslmode).toBe('verify-full')
  })
  test('DB_SSLMODE when the URL has none', () => {
    expect(load({ DATABASE_URL: 'postgres://h/db', DB_SSLMODE: 'require' }).database.sslmode).toBe('require')
    expect(load({ DB_SSLMODE: 'VERIFY-CA' }).database.sslmode).toBe('verify-ca')
  })
  test('default prefer', () => {
    expect(load({ DATABASE_URL: 'postgres://h/db' }).database.sslmode).toBe('prefer')
  })
  test('DB_SSLMODE still counts when the URL is unusable', () => {
    const c = load({ DATABASE_URL: 'mysql://h/db', DB_SSLMODE: 'require' })
    expect(c.database.sslmode).toBe('require')
  })
})

describe('defaults', () => {
  test('an empty environment gives every default', () => {
    const c = load({})
    expect(c).toEqual({
      port: 7860,
      host: '0.0.0.0',
      nodeEnv: null,
      logLevel: 'info',
      prettyLogs: false,
      version: JSON.parse(readFileSync(join(import.meta.dir, '..', 'package.json'), 'utf8')).version,
      spaceId: null,
      bodyLimitBytes: 1048576,
      corsOrigins: [],
      database: {
        url: null,
        source: null,
        urlError: null,
        fallbackEnabled: true,
        fallbackPath: './data/app.db',
        timeoutS: 5,
        startupRetries: 2,
        poolSize: 10,
        statementTimeoutMs: 15000,
        sslmode: 'prefer',
        sqliteBusyTimeoutS: 5,
        healthCheckIntervalMs: 2000,
        idleAfterS: 60,
        poolMode: 'auto',
        autoFailback: true,
      },
      backup: { dir: './data/backups', keep: 5 },
      replica: null,
      auth: {
        jwtSecret: null,
        accessTokenTtlS: 900,
        refreshTokenTtlS: 2592000,
        bcryptCost: 10,
        allowRegistration: false,
        trustProxy: false,
        trustedProxyHops: 1,
        loginMaxFailures: 10,
        loginAccountMaxFailures: 50,
        loginWindowS: 900,
        refreshReuseGraceS: 10,
      },
      notes: { maxPerUser: 10000, maxBytesPerUser: 104857600 },
      seed: { accounts: [], resetPasswords: false },
    })
  })

  test('empty strings fall back to the defaults', () => {
    const env: Env = {}
    for (const name of ['PORT', 'HOST', 'LOG_LEVEL', 'DATABASE_POOL_SIZE', 'BCRYPT_COST', 'DATABASE_FALLBACK', 'BACKUP_KEEP', 'JWT_SECRET']) env[name] = ''
    expect(load(env)).toEqual(load({}))
  })
})

describe('every variable', () => {
  test('each value is read', () => {
    const jwt = 'x'.repeat(40)
    const c = load({
      PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'development', LOG_LEVEL: 'DEBUG', BODY_LIMIT: '2048',
      CORS_ORIGINS: 'https://a.example, http://localhost:5173', DATABASE_FALLBACK: 'yes', FALLBACK_DATABASE_URL: 'sqlite:////var/data/app.db',
      DATABASE_TIMEOUT: '0.5', DATABASE_STARTUP_RETRIES: '0', DATABASE_POOL_SIZE: '1000', DB_STATEMENT_TIMEOUT_MS: '250',
      SQLITE_FALLBACK_TIMEOUT: '0', HEALTH_CHECK_INTERVAL_MS: '50', DATABASE_IDLE_AFTER: '3', DATABASE_POOL_MODE: 'Transaction', AUTO_FAILBACK: 'off', BACKUP_DIR: '/backups', BACKUP_KEEP: '1',
      JWT_SECRET: jwt, ACCESS_TOKEN_TTL: '45s', REFRESH_TOKEN_TTL: '12h', BCRYPT_COST: '4', ALLOW_REGISTRATION: 'TRUE',
      TRUST_PROXY: '1', LOGIN_MAX_FAILURES: '3', LOGIN_WINDOW: '1h', SEED_RESET_PASSWORDS: 'on',
      TRUSTED_PROXY_HOPS: '2', LOGIN_ACCOUNT_MAX_FAILURES: '7', REFRESH_REUSE_GRACE: '0',
      NOTES_MAX_PER_USER: '5', NOTES_MAX_BYTES_PER_USER: '3mb',
    })
    expect(c).toMatchObject({
      port: 0, host: '127.0.0.1', nodeEnv: 'development', logLevel: 'debug', bodyLimitBytes: 2048,
      corsOrigins: ['https://a.example', 'http://localhost:5173'],
      database: {
        fallbackEnabled: true, fallbackPath: '/var/data/app.db', timeoutS: 0.5, startupRetries: 0, poolSize: 1000,
        statementTimeoutMs: 250, sqliteBusyTimeoutS: 0, healthCheckIntervalMs: 50, idleAfterS: 3, poolMode: 'transaction', autoFailback: false,
      },
      backup: { dir: '/backups', keep: 1 },
      auth: {
        jwtSecret: jwt, accessTokenTtlS: 45, refreshTokenTtlS: 43200, bcryptCost: 4, allowRegistration: true,
        trustProxy: true, loginMaxFailures: 3, loginWindowS: 3600,
        trustedProxyHops: 2, loginAccountMaxFailures: 7, refreshReuseGraceS: 0,
      },
      notes: { maxPerUser: 5, maxBytesPerUser: 3 * 1024 * 1024 },
      seed: { resetPasswords: true },
    })
  })

  test('JWT_SECRET_FILE is read (trailing newline dropped)', () => {
    const jwt = 'y'.repeat(32)
    expect(load({ JWT_SECRET_FILE: tempFile(`${jwt}\n`) }).auth.jwtSecret).toBe(jwt)
  })

  test('TRUST_PROXY defaults to true on Hugging Face (SPACE_ID set), and can still be turned off', () => {
    expect(load({ SPACE_ID: 'user/space' }).auth.trustProxy).toBe(true)
    expect(load({ SPACE_ID: 'user/space', TRUST_PROXY: 'false' }).auth.trustProxy).toBe(false)
    expect(load({ SPACE_ID: '' }).auth.trustProxy).toBe(false)
  })

  test('prettyLogs only on a TTY and not in production', () => {
    expect(load({}, { isTTY: true }).prettyLogs).toBe(true)
    expect(load({ NODE_ENV: 'development' }, { isTTY: true }).prettyLogs).toBe(true)
    expect(load({ NODE_ENV: 'production' }, { isTTY: true }).prettyLogs).toBe(false)
    expect(load({ NODE_ENV: 'development' }, { isTTY: false }).prettyLogs).toBe(false)
  })

  test.each([['fatal'], ['error'], ['warn'], ['info'], ['debug'], ['trace'], ['silent']])('LOG_LEVEL %s', (level) => {
    expect(load({ LOG_LEVEL: level }).logLevel).toBe(level as Config['logLevel'])
  })

  test('CORS_ORIGINS: * alone, origins normalized', () => {
    expect(load({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*'])
    expect(load({ CORS_ORIGINS: 'https://App.Example/, ,http://x:8080' }).corsOrigins).toEqual(['https://app.example', 'http://x:8080'])
  })

  test.each([['2048', 2048], ['512kb', 524288], ['2MB', 2097152], ['1 mib', 1048576], ['10b', 10]])('BODY_LIMIT %s', (value, bytes) => {
    expect(load({ BODY_LIMIT: value }).bodyLimitBytes).toBe(bytes)
  })
})

describe('aliases', () => {
  test('ENABLE_SQLITE_FALLBACK for DATABASE_FALLBACK; the main name wins', () => {
    expect(load({ ENABLE_SQLITE_FALLBACK: 'false', DATABASE_URL: 'postgres://h/db' }).database.fallbackEnabled).toBe(false)
    expect(load({ ENABLE_SQLITE_FALLBACK: 'false', DATABASE_FALLBACK: 'true' }).database.fallbackEnabled).toBe(true)
  })

  test('SQLITE_DATABASE_PATH for FALLBACK_DATABASE_URL; the main name wins', () => {
    expect(load({ SQLITE_DATABASE_PATH: '/tmp/x.db' }).database.fallbackPath).toBe('/tmp/x.db')
    expect(load({ SQLITE_DATABASE_PATH: '/tmp/x.db', FALLBACK_DATABASE_URL: 'sqlite:///y.db' }).database.fallbackPath).toBe('y.db')
  })

  test('DB_CONNECT_TIMEOUT for DATABASE_TIMEOUT; the main name wins', () => {
    expect(load({ DB_CONNECT_TIMEOUT: '2.5' }).database.timeoutS).toBe(2.5)
    expect(load({ DB_CONNECT_TIMEOUT: '2.5', DATABASE_TIMEOUT: '7' }).database.timeoutS).toBe(7)
  })

  test('an error names the alias that was actually used', () => {
    expectConfigError({ ENABLE_SQLITE_FALLBACK: 'maybe' }, 'ENABLE_SQLITE_FALLBACK', /must be true or false/)
    expectConfigError({ SQLITE_DATABASE_PATH: 'mysql://x' }, 'SQLITE_DATABASE_PATH')
    expectConfigError({ DB_CONNECT_TIMEOUT: '0' }, 'DB_CONNECT_TIMEOUT', /greater than 0/)
  })
})

describe('fallback location', () => {
  test.each([
    ['sqlite:///./data/app.db', './data/app.db'],
    ['sqlite:///app.db', 'app.db'],
    ['sqlite:////abs/path/app.db', '/abs/path/app.db'],
    ['SQLite:////abs/app.db', '/abs/app.db'],
    [':memory:', ':memory:'],
    ['sqlite://:memory:', ':memory:'],
    ['sqlite:///:memory:', ':memory:'],
    ['./plain/path.db', './plain/path.db'],
  ])('FALLBACK_DATABASE_URL %s → %s', (value, path) => {
    expect(load({ FALLBACK_DATABASE_URL: value }).database.fallbackPath).toBe(path)
  })

  test.each([['sqlite:///'], ['sqlite://host/x.db'], ['sqlite:///x.db?mode=ro'], ['postgres://u:pw@h/db']])('FALLBACK_DATABASE_URL %s is an error', (value) => {
    expectConfigError({ FALLBACK_DATABASE_URL: value }, 'FALLBACK_DATABASE_URL', /must be sqlite:\/\/\/relative/, ['pw@'])
  })
})

describe('bad values: one line naming the variable', () => {
  test.each([
    ['PORT', 'abc', 'PORT must be an integer from 0 to 65535 (got "abc")'],
    ['PORT', '65536', 'PORT must be an integer from 0 to 65535 (got "65536")'],
    ['PORT', '-1', 'PORT must be an integer from 0 to 65535 (got "-1")'],
    ['PORT', '80.5', 'PORT must be an integer from 0 to 65535 (got "80.5")'],
    ['DATABASE_POOL_SIZE', '0', 'DATABASE_POOL_SIZE must be an integer from 1 to 1000 (got "0")'],
    ['DATABASE_POOL_SIZE', '1001', 'DATABASE_POOL_SIZE must be an integer from 1 to 1000 (got "1001")'],
    ['DATABASE_STARTUP_RETRIES', 'two', 'DATABASE_STARTUP_RETRIES must be an integer from 0 to 100 (got "two")'],
    ['DB_STATEMENT_TIMEOUT_MS', '0', 'DB_STATEMENT_TIMEOUT_MS must be an integer from 1 to 3600000 (got "0")'],
    ['HEALTH_CHECK_INTERVAL_MS', '5', 'HEALTH_CHECK_INTERVAL_MS must be an integer from 10 to 3600000 (got "5")'],
    ['DATABASE_POOL_MODE', 'pgbouncer', 'DATABASE_POOL_MODE must be one of auto, session, transaction (got "pgbouncer")'],
    ['DATABASE_IDLE_AFTER', '0', 'DATABASE_IDLE_AFTER must be a number of seconds greater than 0 and at most 86400 (got "0")'],
    ['BACKUP_KEEP', '0', 'BACKUP_KEEP must be an integer from 1 to 1000 (got "0")'],
    ['BCRYPT_COST', '3', 'BCRYPT_COST must be an integer from 4 to 15 (got "3")'],
    ['BCRYPT_COST', '16', 'BCRYPT_COST must be an integer from 4 to 15 (got "16")'],
    ['LOGIN_MAX_FAILURES', '0', 'LOGIN_MAX_FAILURES must be an integer from 1 to 1000000 (got "0")'],
    ['TRUSTED_PROXY_HOPS', '0', 'TRUSTED_PROXY_HOPS must be an integer from 1 to 10 (got "0")'],
    ['LOGIN_ACCOUNT_MAX_FAILURES', 'many', 'LOGIN_ACCOUNT_MAX_FAILURES must be an integer from 1 to 1000000 (got "many")'],
    ['REFRESH_REUSE_GRACE', '10s', 'REFRESH_REUSE_GRACE must be a number of seconds from 0 to 300 (got "10s")'],
    ['NOTES_MAX_PER_USER', '0', 'NOTES_MAX_PER_USER must be an integer from 1 to 100000000 (got "0")'],
    ['NOTES_MAX_BYTES_PER_USER', 'lots', 'NOTES_MAX_BYTES_PER_USER must be a size in bytes from 1 to 1099511627776, optionally with a kb or mb suffix (got "lots")'],
    ['DATABASE_TIMEOUT', '0', 'DATABASE_TIMEOUT must be a number of seconds greater than 0 and at most 3600 (got "0")'],
    ['DATABASE_TIMEOUT', '5s', 'DATABASE_TIMEOUT must be a number of seconds greater than 0 and at most 3600 (got "5s")'],
    ['DATABASE_TIMEOUT', '-1', 'DATABASE_TIMEOUT must be a number of seconds greater than 0 and at most 3600 (got "-1")'],
    ['SQLITE_FALLBACK_TIMEOUT', 'x', 'SQLITE_FALLBACK_TIMEOUT must be a number of seconds from 0 to 3600 (got "x")'],
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")'],
    ['DB_SSLMODE', 'on', 'DB_SSLMODE must be one of disable, allow, prefer, require, verify-ca, verify-full (got "on")'],
    ['AUTO_FAILBACK', 'maybe', 'AUTO_FAILBACK must be true or false (or 1/0, yes/no, on/off) (got "maybe")'],
    ['BODY_LIMIT', '0', 'BODY_LIMIT must be a size in bytes from 1 to 1073741824, optionally with a kb or mb suffix (got "0")'],
    ['BODY_LIMIT', '1gb', 'BODY_LIMIT must be a size in bytes from 1 to 1073741824, optionally with a kb or mb suffix (got "1gb")'],
    ['CORS_ORIGINS', 'https://a.example/path', 'CORS_ORIGINS must be * or a comma-separated list of origins like https://app.example.com (got "https://a.example/path")'],
    ['CORS_ORIGINS', 'a.example', 'CORS_ORIGINS must be * or a comma-separated list of origins like https://app.example.com (got "a.example")'],
    ['CORS_ORIGINS', '*, https://a.example', 'CORS_ORIGINS must be * alone or a comma-separated list of origins, not both'],
  ])('%s=%s', (name, value, message) => {
    expect(expectConfigError({ [name]: value }, name)).toBe(message)
  })

  test('a long value is cut short in the message', () => {
    const message = expectConfigError({ PORT: '9'.repeat(100) }, 'PORT')
    expect(message.length).toBeLessThan(120)
  })

  test('JWT_SECRET shorter than 32 characters, without echoing it', () => {
    const short = 'short-but-secret-value'
    expect(expectConfigError({ JWT_SECRET: short }, 'JWT_SECRET', undefined, [short])).toBe('JWT_SECRET must be at least 32 characters long')
    expectConfigError({ JWT_SECRET_FILE: tempFile(`${short}\n`) }, 'JWT_SECRET_FILE', /at least 32/, [short])
    expectConfigError({ JWT_SECRET_FILE: absentPath() }, 'JWT_SECRET_FILE', /could not be read/)
  })
})

describe('durations', () => {
  test.each([['45s', 45], ['15m', 900], ['12h', 43200], ['30d', 2592000], ['3600', 3600], ['2H', 7200], ['1 d', 86400]])('%s = %d s', (value, s) => {
    expect(load({ ACCESS_TOKEN_TTL: value }).auth.accessTokenTtlS).toBe(s)
    expect(load({ REFRESH_TOKEN_TTL: value }).auth.refreshTokenTtlS).toBe(s)
    expect(load({ LOGIN_WINDOW: value }).auth.loginWindowS).toBe(s)
  })

  test.each([['0'], ['0s'], ['15x'], ['1.5h'], ['-5m'], ['m'], ['9999d']])('%s is an error', (value) => {
    expectConfigError({ ACCESS_TOKEN_TTL: value }, 'ACCESS_TOKEN_TTL', /must be a duration like 45s, 15m, 12h, 30d/)
    expectConfigError({ LOGIN_WINDOW: value }, 'LOGIN_WINDOW', /must be a duration/)
  })
})

describe('booleans', () => {
  const truthy = ['true', 'TRUE', 'True', '1', 'yes', 'YES', 'on', 'On']
  const falsy = ['false', 'FALSE', '0', 'no', 'No', 'off', 'OFF']
  const names = ['DATABASE_FALLBACK', 'ENABLE_SQLITE_FALLBACK', 'AUTO_FAILBACK', 'ALLOW_REGISTRATION', 'TRUST_PROXY', 'SEED_RESET_PASSWORDS']
  const read = (c: Config, name: string): boolean =>
    ({
      DATABASE_FALLBACK: c.database.fallbackEnabled,
      ENABLE_SQLITE_FALLBACK: c.database.fallbackEnabled,
      AUTO_FAILBACK: c.database.autoFailback,
      ALLOW_REGISTRATION: c.auth.allowRegistration,
      TRUST_PROXY: c.auth.trustProxy,
      SEED_RESET_PASSWORDS: c.seed.resetPasswords,
    })[name]!

  test.each(names.map((n) => [n]))('%s accepts every spelling', (name) => {
    const withPrimary = { DATABASE_URL: 'postgres://h/db' }
    for (const word of truthy) expect(read(load({ ...withPrimary, [name]: word }), name)).toBe(true)
    for (const word of falsy) expect(read(load({ ...withPrimary, [name]: word }), name)).toBe(false)
  })

  test.each(names.map((n) => [n]))('%s rejects anything else', (name) => {
    for (const word of ['2', 'y', 'enabled', 'truthy']) expectConfigError({ [name]: word }, name, /must be true or false/)
  })
})

describe('seed accounts', () => {
  const HASH = `$2b$10$${'a'.repeat(53)}`
  const PASSWORD = 'Correct-Horse-42'

  test('SEED_ADMIN_* with a password', () => {
    const c = load({ SEED_ADMIN_EMAIL: ' Admin@Example.COM ', SEED_ADMIN_PASSWORD: PASSWORD, SEED_ADMIN_NAME: ' Ada ' })
    expect(c.seed.accounts).toEqual([{ email: 'admin@example.com', password: PASSWORD, name: 'Ada', role: 'admin', source: 'SEED_ADMIN_EMAIL' }])
  })

  test('SEED_ADMIN_* with a hash, and without a name', () => {
    const c = load({ SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD_HASH: HASH })
    expect(c.seed.accounts).toEqual([{ email: 'a@example.com', passwordHash: HASH, name: null, role: 'admin', source: 'SEED_ADMIN_EMAIL' }])
  })

  test('SEED_ADMIN_PASSWORD_FILE', () => {
    const c = load({ SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD_FILE: tempFile(`${PASSWORD}\n`) })
    expect(c.seed.accounts[0]!.password).toBe(PASSWORD)
  })

  test('the admin password is used as-is (no trimming)', () => {
    const c = load({ SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD: `  ${PASSWORD}  ` })
    expect(c.seed.accounts[0]!.password).toBe(`  ${PASSWORD}  `)
  })

  test.each([
    ['email without password', { SEED_ADMIN_EMAIL: 'a@example.com' }, 'SEED_ADMIN_EMAIL is set but neither SEED_ADMIN_PASSWORD nor SEED_ADMIN_PASSWORD_HASH is'],
    ['password without email', { SEED_ADMIN_PASSWORD: PASSWORD }, 'SEED_ADMIN_PASSWORD is set but SEED_ADMIN_EMAIL is not'],
    ['hash without email', { SEED_ADMIN_PASSWORD_HASH: HASH }, 'SEED_ADMIN_PASSWORD_HASH is set but SEED_ADMIN_EMAIL is not'],
    ['name without email', { SEED_ADMIN_NAME: 'Ada' }, 'SEED_ADMIN_NAME is set but SEED_ADMIN_EMAIL is not'],
    ['password and hash', { SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD: PASSWORD, SEED_ADMIN_PASSWORD_HASH: HASH }, 'set only one of SEED_ADMIN_PASSWORD and SEED_ADMIN_PASSWORD_HASH'],
    ['bad email', { SEED_ADMIN_EMAIL: 'not-an-email', SEED_ADMIN_PASSWORD: PASSWORD }, 'SEED_ADMIN_EMAIL must be an email address'],
    ['short password', { SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD: 'Short-7' }, 'SEED_ADMIN_PASSWORD must be 8 to 72 bytes'],
    ['73-byte password', { SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD: 'p'.repeat(73) }, 'SEED_ADMIN_PASSWORD must be 8 to 72 bytes'],
    ['37 characters but 74 bytes', { SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD: 'é'.repeat(37) }, 'SEED_ADMIN_PASSWORD must be 8 to 72 bytes'],
    ['bad hash', { SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD_HASH: '$2b$10$tooshort' }, 'SEED_ADMIN_PASSWORD_HASH must be a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)'],
    ['long name', { SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD: PASSWORD, SEED_ADMIN_NAME: 'n'.repeat(101) }, 'SEED_ADMIN_NAME must be at most 100 characters'],
  ] as Array<[string, Env, string]>)('admin: %s', (_what, env, message) => {
    const secrets = [env.SEED_ADMIN_PASSWORD, env.SEED_ADMIN_PASSWORD_HASH].filter((s): s is string => s !== undefined)
    let caught: unknown
    try {
      load(env)
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(ConfigError)
    expect((caught as Error).message).toBe(message)
    for (const secret of secrets) expect((caught as Error).message).not.toContain(secret)
  })

  test('72 bytes exactly is accepted (36 two-byte characters)', () => {
    expect(load({ SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD: 'é'.repeat(36) }).seed.accounts).toHaveLength(1)
  })

  test.each([['$2a$'], ['$2b$'], ['$2y$']])('%s hashes are accepted', (prefix) => {
    const hash = `${prefix}12$${'./AZaz09'.repeat(6)}abcde`
    expect(load({ SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD_HASH: hash }).seed.accounts[0]!.passwordHash).toBe(hash)
  })

  test('SEED_USERS: defaults for name and role, hash or password', () => {
    const users = [
      { email: 'One@Example.com', password: PASSWORD },
      { email: 'two@example.com', password_hash: HASH, name: 'Two', role: 'admin' },
      { email: 'three@example.com', password: PASSWORD, name: null, role: 'user' },
    ]
    expect(load({ SEED_USERS: JSON.stringify(users) }).seed.accounts).toEqual([
      { email: 'one@example.com', password: PASSWORD, name: null, role: 'user', source: 'SEED_USERS[0]' },
      { email: 'two@example.com', passwordHash: HASH, name: 'Two', role: 'admin', source: 'SEED_USERS[1]' },
      { email: 'three@example.com', password: PASSWORD, name: null, role: 'user', source: 'SEED_USERS[2]' },
    ])
  })

  test('SEED_USERS_FILE, and every source together in order', () => {
    const path = tempFile(JSON.stringify([{ email: 'file@example.com', password: PASSWORD }]))
    const c = load({
      SEED_ADMIN_EMAIL: 'admin@example.com', SEED_ADMIN_PASSWORD: PASSWORD,
      SEED_USERS: JSON.stringify([{ email: 'inline@example.com', password: PASSWORD }]),
      SEED_USERS_FILE: path,
    })
    expect(c.seed.accounts.map((a) => [a.email, a.source])).toEqual([
      ['admin@example.com', 'SEED_ADMIN_EMAIL'],
      ['inline@example.com', 'SEED_USERS[0]'],
      ['file@example.com', 'SEED_USERS_FILE[0]'],
    ])
  })

  test('SEED_USERS=[] is no accounts', () => {
    expect(load({ SEED_USERS: '[]' }).seed.accounts).toEqual([])
  })

  const ok = { email: 'ok@example.com', password: PASSWORD }
  test.each([
    ['invalid JSON', `[{"email": "a@example.com", "password": "${PASSWORD}"`, 'SEED_USERS must be a JSON array of {email, password | password_hash, name?, role?} (it is not valid JSON)'],
    ['not an array', JSON.stringify({ email: 'a@example.com', password: PASSWORD }), 'SEED_USERS must be a JSON array of {email, password | password_hash, name?, role?}'],
    ['an item that is not an object', JSON.stringify([ok, PASSWORD]), 'SEED_USERS[1] must be an object'],
    ['an unknown key', JSON.stringify([ok, { email: 'b@example.com', passwd: PASSWORD }]), 'SEED_USERS[1] has unknown key "passwd"; allowed: email, password, password_hash, name, role'],
    ['a missing email', JSON.stringify([{ password: PASSWORD }]), 'SEED_USERS[0].email is required'],
    ['a non-string email', JSON.stringify([{ email: 5, password: PASSWORD }]), 'SEED_USERS[0].email must be a string'],
    ['a non-string password', JSON.stringify([{ email: 'a@example.com', password: 12345678 }]), 'SEED_USERS[0].password must be a string'],
    ['a non-string name', JSON.stringify([{ email: 'a@example.com', password: PASSWORD, name: 5 }]), 'SEED_USERS[0].name must be a string or null'],
    ['a bad email', JSON.stringify([{ email: 'a@', password: PASSWORD }]), 'SEED_USERS[0].email must be an email address'],
    ['both password and hash', JSON.stringify([{ email: 'a@example.com', password: PASSWORD, password_hash: HASH }]), 'SEED_USERS[0] must have exactly one of password and password_hash'],
    ['neither password nor hash', JSON.stringify([{ email: 'a@example.com' }]), 'SEED_USERS[0] must have exactly one of password and password_hash'],
    ['a short password at index 2', JSON.stringify([ok, { ...ok, email: 'b@example.com' }, { email: 'c@example.com', password: 'Sh0rt!' }]), 'SEED_USERS[2].password must be 8 to 72 bytes'],
    ['a long password', JSON.stringify([{ email: 'a@example.com', password: 'x'.repeat(73) }]), 'SEED_USERS[0].password must be 8 to 72 bytes'],
    ['a bad hash', JSON.stringify([{ email: 'a@example.com', password_hash: '$2x$10$' + 'a'.repeat(53) }]), 'SEED_USERS[0].password_hash must be a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)'],
    ['a bad role', JSON.stringify([{ ...ok, role: 'root' }]), 'SEED_USERS[0].role must be "admin" or "user" (got "root")'],
    ['a long name', JSON.stringify([{ ...ok, name: 'n'.repeat(101) }]), 'SEED_USERS[0].name must be at most 100 characters'],
  ])('SEED_USERS with %s', (_what, json, message) => {
    expect(expectConfigError({ SEED_USERS: json }, 'SEED_USERS', undefined, [PASSWORD, 'Sh0rt!', 'x'.repeat(73)])).toBe(message)
  })

  test('SEED_USERS_FILE errors name the file variable and index', () => {
    const path = tempFile(JSON.stringify([{ email: 'a@example.com', password: 'Sh0rt!' }]))
    expect(expectConfigError({ SEED_USERS_FILE: path }, 'SEED_USERS_FILE', undefined, ['Sh0rt!'])).toBe('SEED_USERS_FILE[0].password must be 8 to 72 bytes')
    const missing = absentPath()
    expect(expectConfigError({ SEED_USERS_FILE: missing }, 'SEED_USERS_FILE')).toBe(`SEED_USERS_FILE could not be read: ${missing} (ENOENT)`)
    expect(expectConfigError({ SEED_USERS_FILE: tempFile(`{${PASSWORD}`) }, 'SEED_USERS_FILE', /not valid JSON/, [PASSWORD])).toBeTruthy()
  })

  test('duplicate emails across sources, case-insensitively', () => {
    const path = tempFile(JSON.stringify([{ email: 'Admin@Example.com', password: PASSWORD }]))
    expect(expectConfigError({ SEED_ADMIN_EMAIL: 'admin@example.com', SEED_ADMIN_PASSWORD: PASSWORD, SEED_USERS_FILE: path }, 'SEED_USERS_FILE'))
      .toBe('SEED_USERS_FILE[0].email "admin@example.com" is already declared by SEED_ADMIN_EMAIL')
    const twice = JSON.stringify([ok, { ...ok, email: 'OK@example.com ' }])
    expect(expectConfigError({ SEED_USERS: twice }, 'SEED_USERS')).toBe('SEED_USERS[1].email "ok@example.com" is already declared by SEED_USERS[0]')
  })
})

describe('describeConfig and configSecrets', () => {
  const SECRET_PW = 'p@ss:w/rd?#%&'
  const jwt = 'j'.repeat(40)
  const config = () => load({
    DB_HOST: 'h', DB_USER: 'u', DB_PASSWORD: SECRET_PW, JWT_SECRET: jwt,
    SEED_ADMIN_EMAIL: 'a@example.com', SEED_ADMIN_PASSWORD: 'Seed-Password-1',
  })

  test('describeConfig never holds a secret', () => {
    const text = JSON.stringify(describeConfig(config()))
    for (const secret of [SECRET_PW, encodeURIComponent(SECRET_PW), jwt, 'Seed-Password-1']) expect(text).not.toContain(secret)
    expect(text).toContain('postgres://u:***@h')
    expect(text).toContain('a@example.com')
  })

  test('configSecrets lists the database password (decoded), the JWT secret and seed passwords', () => {
    expect(configSecrets(config())).toEqual([SECRET_PW, jwt, 'Seed-Password-1'])
  })
})
