// The only reader of the environment: every variable of DESIGN §7 and the seed accounts of §6, checked
// and turned into a Config. Each bad value stops the start with one line that names the variable and
// what was expected, and never echoes a value that may hold a secret (of a URL, only its scheme).
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { ConfigError, type Config, type SeedAccount, type SslMode } from './config-types.ts'
import { normalizeEmail, type Role } from './db/store.ts'
import { redactUrl } from './redact.ts'

export interface ConfigSources {
  env: Record<string, string | undefined>
  /**
   * Reads a file for <NAME>_FILE and the secrets path; default: fs readFileSync utf8. Null or a throw means
   * missing: skipped for the secrets path, an error for an explicit _FILE.
   */
  readFile?: (path: string) => string | null
  /** default '/run/secrets/database_url' */
  secretsPath?: string
  /** whether stdout is a terminal; default process.stdout.isTTY */
  isTTY?: boolean
}

type Env = ConfigSources['env']
type ReadFile = (path: string) => string | null

export const DEFAULT_SECRETS_PATH = '/run/secrets/database_url'

const defaultReadFile: ReadFile = (path) => readFileSync(path, 'utf8')

// ---------------------------------------------------------------------------------------------------
// Scalar readers. An empty (or blank) variable counts as unset everywhere.

function get(env: Env, name: string): string | undefined {
  const value = env[name]?.trim()
  return value ? value : undefined
}

/** The first set variable among a name and its aliases, with the name actually used (for messages). */
function getAliased(env: Env, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = get(env, name)
    if (value !== undefined) return { name, value }
  }
  return undefined
}

/** A non-secret value for an error message: quoted and cut short. */
const shown = (value: string): string => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!(n >= min && n <= max)) throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got ${shown(value)})`)
  return n
}

/** Seconds, fractions allowed (`0.5`). */
function seconds(name: string, value: string | undefined, fallback: number, opts: { allowZero: boolean; max: number }): number {
  if (value === undefined) return fallback
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(value) ? Number(value) : Number.NaN
  const low = opts.allowZero ? n >= 0 : n > 0
  if (!(low && n <= opts.max)) {
    const range = opts.allowZero ? `from 0 to ${opts.max}` : `greater than 0 and at most ${opts.max}`
    throw new ConfigError(`${name} must be a number of seconds ${range} (got ${shown(value)})`)
  }
  return n
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on'])
const FALSE_WORDS = new Set(['false', '0', 'no', 'off'])

function boolean(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback
  const word = value.toLowerCase()
  if (TRUE_WORDS.has(word)) return true
  if (FALSE_WORDS.has(word)) return false
  throw new ConfigError(`${name} must be true or false (or 1/0, yes/no, on/off) (got ${shown(value)})`)
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }
const MAX_DURATION_S = 10 * 366 * 86400

/** `45s`, `15m`, `12h`, `30d`, or a bare number of seconds; returns whole seconds. */
export function parseDuration(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const m = /^(\d+)\s*([smhd])?$/i.exec(value)
  const n = m ? Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()]! : Number.NaN
  if (!(n >= 1 && n <= MAX_DURATION_S)) {
    throw new ConfigError(`${name} must be a duration like 45s, 15m, 12h, 30d or a number of seconds, at least 1s and at most 10 years (got ${shown(value)})`)
  }
  return n
}

function oneOf<T extends string>(name: string, value: string | undefined, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback
  const lower = value.toLowerCase()
  const found = allowed.find((a) => a === lower)
  if (found === undefined) throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got ${shown(value)})`)
  return found
}

const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2 }
const MAX_BODY_LIMIT = 1024 ** 3

function byteSize(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const m = /^(\d+)\s*([a-z]+)?$/i.exec(value)
  const unit = m ? SIZE_UNITS[(m[2] ?? 'b').toLowerCase()] : undefined
  const n = m && unit !== undefined ? Number(m[1]) * unit : Number.NaN
  if (!(n >= 1 && n <= MAX_BODY_LIMIT)) {
    throw new ConfigError(`${name} must be a size in bytes from 1 to ${MAX_BODY_LIMIT}, optionally with a kb or mb suffix (got ${shown(value)})`)
  }
  return n
}

/** Reads a file named by a variable; the reason (not the content) goes into the message. */
function readNamedFile(readFile: ReadFile, variable: string, path: string): string {
  let content: string | null
  let reason = 'not found'
  try {
    content = readFile(path)
  } catch (e) {
    content = null
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') reason = code
  }
  if (content === null) throw new ConfigError(`${variable} could not be read: ${path} (${reason})`)
  return content
}

/**
 * A secret from `NAME` (used as-is) or else from the file named by `NAME_FILE` (trailing newlines
 * dropped, as Docker and Kubernetes secrets usually end with one).
 */
function secret(env: Env, readFile: ReadFile, name: string): { value: string; from: string } | undefined {
  const direct = env[name]
  if (direct) return { value: direct, from: name }
  const fileVar = `${name}_FILE`
  const path = get(env, fileVar)
  if (path === undefined) return undefined
  const value = readNamedFile(readFile, fileVar, path).replace(/[\r\n]+$/, '')
  if (!value) throw new ConfigError(`${fileVar} names an empty file: ${path}`)
  return { value, from: fileVar }
}

// ---------------------------------------------------------------------------------------------------
// The primary PostgreSQL URL.

const URL_VARIABLES = ['SQL_URL', 'DB_URL', 'DATABASE_URL', 'DATABASE_URL_PRIVATE', 'PRIVATE_SQL_URL'] as const
const POSTGRES_SCHEME = /^(postgres|postgresql|postgresql\+[a-z0-9_]+):\/\//i
const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']

/** Only the scheme of a value that may hold a password. */
function schemeOf(value: string): string {
  const m = /^([a-z][a-z0-9+.-]{0,30}):(\/\/)?/i.exec(value)
  return m ? `${m[1]}:${m[2] ?? ''}…` : 'a value without a scheme'
}

function sslmodeOf(url: URL, label: string): SslMode | undefined {
  const mode = url.searchParams.get('sslmode')
  if (mode === null) return undefined
  const found = SSL_MODES.find((m) => m === mode)
  if (found === undefined) throw new ConfigError(`${label} has sslmode ${shown(mode)}; expected one of ${SSL_MODES.join(', ')}`)
  return found
}

const decodes = (s: string): boolean => {
  try {
    decodeURIComponent(s)
    return true
  } catch {
    return false
  }
}

interface UrlParts {
  authority: string
  /** index of the '@' ending the userinfo inside the authority, or -1 */
  at: number
  hosts: string[]
  /** path, query and fragment */
  tail: string
}

function splitAuthority(afterScheme: string): UrlParts {
  const authorityEnd = afterScheme.search(/[/?#]/)
  const authority = authorityEnd < 0 ? afterScheme : afterScheme.slice(0, authorityEnd)
  const at = authority.lastIndexOf('@')
  return { authority, at, hosts: authority.slice(at + 1).split(','), tail: afterScheme.slice(authority.length) }
}

/**
 * Parses a postgres URL with WHATWG URL. Several hosts (`h1:5432,h2:5433`, which postgres.js accepts)
 * do not parse as one URL, so the URL is parsed with the first host only.
 */
export function parsePostgresUrl(url: string): URL {
  const scheme = POSTGRES_SCHEME.exec(url)
  if (!scheme) throw new TypeError('not a postgres URL')
  const { authority, at, hosts, tail } = splitAuthority(url.slice(scheme[0].length))
  if (hosts.some((h) => !h) && hosts.length > 1) throw new TypeError('empty host in a host list')
  return new URL(`postgres://${authority.slice(0, at + 1)}${hosts[0]}${tail}`)
}

/**
 * Checks a postgres URL and returns it with the scheme normalized to postgres://. The userinfo is
 * rebuilt from the parsed URL: already percent-encoded passwords stay byte for byte the same, and a raw
 * '@' gets encoded, so every driver reads the same password.
 */
function normalizePostgresUrl(raw: string, label: string): string {
  const scheme = POSTGRES_SCHEME.exec(raw)
  if (!scheme) throw new ConfigError(`${label} must be a postgres:// or postgresql:// URL (got ${schemeOf(raw)})`)
  const afterScheme = raw.slice(scheme[0].length)
  const got = `${scheme[1]}://…`
  const { authority, at, hosts, tail } = splitAuthority(afterScheme)
  if (hosts.length === 1 && !hosts[0]) throw new ConfigError(`${label} must include a host (got ${got})`)
  let parsed: URL
  try {
    parsed = parsePostgresUrl(raw)
  } catch {
    throw new ConfigError(`${label} is not a valid URL; percent-encode special characters in the password (got ${got})`)
  }
  if (!parsed.hostname) throw new ConfigError(`${label} must include a host (got ${got})`)
  if (tail.includes('@')) {
    // An '@' after the host is almost always a password with a raw '/', '?' or '#' in it.
    throw new ConfigError(`${label} has an '@' after the host; percent-encode special characters in the password (/ → %2F, ? → %3F, # → %23) (got ${got})`)
  }
  if (!decodes(parsed.username) || !decodes(parsed.password)) {
    throw new ConfigError(`${label} has an invalid percent-encoding in its user name or password (got ${got})`)
  }
  sslmodeOf(parsed, label)
  const userinfo = at < 0 ? '' : `${parsed.username}${parsed.password ? `:${parsed.password}` : ''}@`
  return `postgres://${userinfo}${afterScheme.slice(at + 1)}`
}

interface PartNames {
  source: string
  host: string
  port: string
  database: string
  user: string
  password: string
  params?: string
}

const DB_PARTS: PartNames = {
  source: 'DB_* parts', host: 'DB_HOST', port: 'DB_PORT', database: 'DB_NAME', user: 'DB_USER', password: 'DB_PASSWORD', params: 'DB_PARAMS',
}
const POSTGRES_PARTS: PartNames = {
  source: 'POSTGRES_* parts', host: 'POSTGRES_HOST', port: 'POSTGRES_PORT', database: 'POSTGRES_DB', user: 'POSTGRES_USER', password: 'POSTGRES_PASSWORD',
}

const HOST_NAME = /^[A-Za-z0-9._~-]+$/
const IPV6 = /^\[?[0-9A-Fa-f:.]+\]?$/
const QUERY_STRING = /^[^&=#\s]+=[^&#\s]*(&[^&=#\s]+=[^&#\s]*)*$/

function buildFromParts(env: Env, readFile: ReadFile, names: PartNames): string {
  const host = get(env, names.host) ?? ''
  const isIpv6 = host.includes(':')
  if (!(isIpv6 ? IPV6.test(host) : HOST_NAME.test(host))) {
    throw new ConfigError(`${names.host} must be a host name or an IP address (got ${shown(host)})`)
  }
  const port = get(env, names.port)
  integer(names.port, port, 5432, 1, 65535)
  const database = get(env, names.database)
  const user = get(env, names.user)
  const password = secret(env, readFile, names.password)?.value
  const params = names.params ? get(env, names.params)?.replace(/^\?/, '') : undefined
  if (names.params && params !== undefined && !QUERY_STRING.test(params)) {
    throw new ConfigError(`${names.params} must be a query string like sslmode=require&application_name=app`)
  }
  const userinfo = user !== undefined || password !== undefined
    ? `${encodeURIComponent(user ?? '')}${password !== undefined ? `:${encodeURIComponent(password)}` : ''}@`
    : ''
  const hostPart = isIpv6 && !host.startsWith('[') ? `[${host}]` : host
  const url = `postgres://${userinfo}${hostPart}${port ? `:${port}` : ''}${database ? `/${encodeURIComponent(database)}` : ''}${params ? `?${params}` : ''}`
  return normalizePostgresUrl(url, names.params && params ? names.params : names.source)
}

interface Candidate {
  source: string
  build: () => string
}

/** Which source supplies the primary URL; reading and checking it is left to `build`. */
function primaryCandidate(env: Env, readFile: ReadFile, secretsPath: string): Candidate | undefined {
  for (const name of URL_VARIABLES) {
    const direct = get(env, name)
    if (direct !== undefined) return { source: name, build: () => normalizePostgresUrl(direct, name) }
    const fileVar = `${name}_FILE`
    const path = get(env, fileVar)
    if (path !== undefined) {
      return {
        source: fileVar,
        build: () => {
          const content = readNamedFile(readFile, fileVar, path).trim()
          if (!content) throw new ConfigError(`${fileVar} names an empty file: ${path}`)
          return normalizePostgresUrl(content, `the URL in ${fileVar}`)
        },
      }
    }
  }
  let fromSecrets: string | undefined
  try {
    fromSecrets = readFile(secretsPath)?.trim()
  } catch {
    // an absent or unreadable secrets file simply means "not configured this way"
  }
  if (fromSecrets) {
    const content = fromSecrets
    return { source: secretsPath, build: () => normalizePostgresUrl(content, `the URL in ${secretsPath}`) }
  }
  for (const names of [DB_PARTS, POSTGRES_PARTS]) {
    if (get(env, names.host) !== undefined) return { source: names.source, build: () => buildFromParts(env, readFile, names) }
  }
  return undefined
}

export type PrimaryUrl =
  | { url: string; source: string }
  | { error: string; source: string }
  | { url: null; source: null }

/**
 * The primary URL, first source wins: SQL_URL, DB_URL, DATABASE_URL, DATABASE_URL_PRIVATE,
 * PRIVATE_SQL_URL (each, then its _FILE), the secrets file, DB_* parts, POSTGRES_* parts.
 * A configured but unusable URL gives `{ error, source }` (a redacted line), never a throw, so that a
 * boot with the fallback on never crashes on a garbage URL.
 */
export function resolvePrimaryUrl(sources: ConfigSources): PrimaryUrl {
  const readFile = sources.readFile ?? defaultReadFile
  const candidate = primaryCandidate(sources.env, readFile, sources.secretsPath ?? DEFAULT_SECRETS_PATH)
  if (!candidate) return { url: null, source: null }
  try {
    return { url: candidate.build(), source: candidate.source }
  } catch (e) {
    if (e instanceof ConfigError) return { error: e.message, source: candidate.source }
    throw e
  }
}

// ---------------------------------------------------------------------------------------------------
// The fallback SQLite location.

const SQLITE_FORMS = 'sqlite:///relative/path.db, sqlite:////absolute/path.db, :memory: or a file path'

/** `sqlite:///./data/app.db` → `./data/app.db`, `sqlite:////abs/app.db` → `/abs/app.db`, `:memory:` forms. */
function sqlitePath(name: string, value: string): string {
  if (value === ':memory:') return ':memory:'
  const m = /^sqlite:\/\/(.*)$/i.exec(value)
  if (m) {
    const rest = m[1]!
    if (rest === '' || rest === ':memory:' || rest === '/:memory:') return ':memory:'
    if (rest.length > 1 && rest.startsWith('/') && !/[?#]/.test(rest)) return rest.slice(1)
    throw new ConfigError(`${name} must be ${SQLITE_FORMS} (got ${shown(value)})`)
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) && value.includes('://')) {
    throw new ConfigError(`${name} must be ${SQLITE_FORMS} (got ${schemeOf(value)})`)
  }
  return value
}

// ---------------------------------------------------------------------------------------------------
// Seed accounts.

const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/
const MAX_NAME_LENGTH = 100
const SEED_USER_KEYS = ['email', 'password', 'password_hash', 'name', 'role'] as const
const SEED_USERS_SHAPE = 'a JSON array of {email, password | password_hash, name?, role?}'
const ROLES: readonly Role[] = ['admin', 'user']

const seedUserSchema = z.strictObject({
  email: z.string(),
  password: z.string().optional(),
  password_hash: z.string().optional(),
  name: z.string().nullable().optional(),
  role: z.string().optional(),
})
const emailSchema = z.email()

interface SeedFields {
  email: string
  password?: string
  password_hash?: string
  name?: string | null
  role?: string
}

/** How each field is named in messages: `SEED_USERS[2].password` or `SEED_ADMIN_PASSWORD`. */
type FieldLabels = Record<keyof SeedFields, string> & { both: string }

function seedAccount(fields: SeedFields, labels: FieldLabels, source: string): SeedAccount {
  const email = normalizeEmail(fields.email)
  if (email.length > 254 || !emailSchema.safeParse(email).success) throw new ConfigError(`${labels.email} must be an email address`)
  const hasPassword = fields.password !== undefined
  if (hasPassword === (fields.password_hash !== undefined)) throw new ConfigError(labels.both)
  if (fields.password !== undefined) {
    const bytes = new TextEncoder().encode(fields.password).length
    if (bytes < 8 || bytes > 72) throw new ConfigError(`${labels.password} must be 8 to 72 bytes`)
  }
  const passwordHash = fields.password_hash?.trim()
  if (passwordHash !== undefined && !BCRYPT_HASH.test(passwordHash)) {
    throw new ConfigError(`${labels.password_hash} must be a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)`)
  }
  const name = fields.name?.trim() || null
  if (name !== null && name.length > MAX_NAME_LENGTH) throw new ConfigError(`${labels.name} must be at most ${MAX_NAME_LENGTH} characters`)
  const role = fields.role === undefined ? 'user' : ROLES.find((r) => r === fields.role)
  if (role === undefined) throw new ConfigError(`${labels.role} must be "admin" or "user" (got ${shown(fields.role ?? '')})`)
  return {
    email,
    ...(fields.password !== undefined ? { password: fields.password } : { passwordHash: passwordHash! }),
    name,
    role,
    source,
  }
}

function seedAdmin(env: Env, readFile: ReadFile): SeedAccount | undefined {
  const email = get(env, 'SEED_ADMIN_EMAIL')
  const password = secret(env, readFile, 'SEED_ADMIN_PASSWORD')
  const hash = get(env, 'SEED_ADMIN_PASSWORD_HASH')
  const name = get(env, 'SEED_ADMIN_NAME')
  if (email === undefined) {
    const orphan = password?.from ?? (hash !== undefined ? 'SEED_ADMIN_PASSWORD_HASH' : name !== undefined ? 'SEED_ADMIN_NAME' : undefined)
    if (orphan) throw new ConfigError(`${orphan} is set but SEED_ADMIN_EMAIL is not`)
    return undefined
  }
  const passwordLabel = password?.from ?? 'SEED_ADMIN_PASSWORD'
  if (password === undefined && hash === undefined) {
    throw new ConfigError('SEED_ADMIN_EMAIL is set but neither SEED_ADMIN_PASSWORD nor SEED_ADMIN_PASSWORD_HASH is')
  }
  const labels: FieldLabels = {
    email: 'SEED_ADMIN_EMAIL',
    password: passwordLabel,
    password_hash: 'SEED_ADMIN_PASSWORD_HASH',
    name: 'SEED_ADMIN_NAME',
    role: 'SEED_ADMIN_EMAIL', // never used: the seeded admin's role is always admin
    both: `set only one of ${passwordLabel} and SEED_ADMIN_PASSWORD_HASH`,
  }
  return seedAccount(
    { email, ...(password ? { password: password.value } : {}), ...(hash !== undefined ? { password_hash: hash } : {}), name: name ?? null, role: 'admin' },
    labels,
    'SEED_ADMIN_EMAIL',
  )
}

function seedIssueMessage(issue: z.core.$ZodIssue, where: string, raw: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    return `${where} has unknown key ${issue.keys.map((k) => shown(k)).join(', ')}; allowed: ${SEED_USER_KEYS.join(', ')}`
  }
  const key = issue.path[0]
  if (key === undefined) return `${where} must be an object`
  const field = `${where}.${String(key)}`
  if ((raw as Record<string, unknown>)[String(key)] === undefined) return `${field} is required`
  return key === 'name' ? `${field} must be a string or null` : `${field} must be a string`
}

function seedList(variable: string, json: string): SeedAccount[] {
  let data: unknown
  try {
    data = JSON.parse(json)
  } catch {
    // The parser's message can quote the input, which may hold a password: never pass it on.
    throw new ConfigError(`${variable} must be ${SEED_USERS_SHAPE} (it is not valid JSON)`)
  }
  if (!Array.isArray(data)) throw new ConfigError(`${variable} must be ${SEED_USERS_SHAPE}`)
  return data.map((item: unknown, i) => {
    const where = `${variable}[${i}]`
    const parsed = seedUserSchema.safeParse(item)
    if (!parsed.success) {
      const unknownKeys = parsed.error.issues.find((issue) => issue.code === 'unrecognized_keys')
      throw new ConfigError(seedIssueMessage(unknownKeys ?? parsed.error.issues[0]!, where, item))
    }
    const labels: FieldLabels = {
      email: `${where}.email`,
      password: `${where}.password`,
      password_hash: `${where}.password_hash`,
      name: `${where}.name`,
      role: `${where}.role`,
      both: `${where} must have exactly one of password and password_hash`,
    }
    return seedAccount(parsed.data, labels, where)
  })
}

function seedAccounts(env: Env, readFile: ReadFile): SeedAccount[] {
  const accounts: SeedAccount[] = []
  const admin = seedAdmin(env, readFile)
  if (admin) accounts.push(admin)
  const inline = get(env, 'SEED_USERS')
  if (inline !== undefined) accounts.push(...seedList('SEED_USERS', inline))
  const filePath = get(env, 'SEED_USERS_FILE')
  if (filePath !== undefined) accounts.push(...seedList('SEED_USERS_FILE', readNamedFile(readFile, 'SEED_USERS_FILE', filePath)))
  const seen = new Map<string, string>()
  for (const account of accounts) {
    const first = seen.get(account.email)
    if (first !== undefined) throw new ConfigError(`${account.source}.email ${shown(account.email)} is already declared by ${first}`)
    seen.set(account.email, account.source)
  }
  return accounts
}

// ---------------------------------------------------------------------------------------------------
// Everything else.

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
      autoFailback: boolean('AUTO_FAILBACK', get(env, 'AUTO_FAILBACK'), true),
    },
    backup: {
      dir: get(env, 'BACKUP_DIR') ?? './data/backups',
      keep: integer('BACKUP_KEEP', get(env, 'BACKUP_KEEP'), 5, 1, 1000),
    },
    auth: {
      jwtSecret: jwt?.value ?? null,
      accessTokenTtlS: parseDuration('ACCESS_TOKEN_TTL', get(env, 'ACCESS_TOKEN_TTL'), 15 * 60),
      refreshTokenTtlS: parseDuration('REFRESH_TOKEN_TTL', get(env, 'REFRESH_TOKEN_TTL'), 30 * 86400),
      bcryptCost: integer('BCRYPT_COST', get(env, 'BCRYPT_COST'), 10, 4, 15),
      allowRegistration: boolean('ALLOW_REGISTRATION', get(env, 'ALLOW_REGISTRATION'), false),
      // Hugging Face Spaces (SPACE_ID set) sit behind a proxy that sets X-Forwarded-For.
      trustProxy: boolean('TRUST_PROXY', get(env, 'TRUST_PROXY'), get(env, 'SPACE_ID') !== undefined),
      loginMaxFailures: integer('LOGIN_MAX_FAILURES', get(env, 'LOGIN_MAX_FAILURES'), 10, 1, 1_000_000),
      loginWindowS: parseDuration('LOGIN_WINDOW', get(env, 'LOGIN_WINDOW'), 15 * 60),
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
      auto_failback: db.autoFailback,
    },
    backup: config.backup,
    auth: {
      jwt_secret: auth.jwtSecret === null ? 'generated' : 'set',
      access_token_ttl_s: auth.accessTokenTtlS,
      refresh_token_ttl_s: auth.refreshTokenTtlS,
      bcrypt_cost: auth.bcryptCost,
      allow_registration: auth.allowRegistration,
      trust_proxy: auth.trustProxy,
    },
    cors_origins: config.corsOrigins,
    body_limit_bytes: config.bodyLimitBytes,
    seed: { accounts: seed.accounts.map((a) => `${a.email} (${a.role}, ${a.source})`), reset_passwords: seed.resetPasswords },
  }
}
