// Where the databases are: the primary PostgreSQL URL from every source of DESIGN §7, in order, and
// the fallback SQLite location.
import { ConfigError, type SslMode } from '../config-types.ts'
import { redactUrl } from '../redact.ts'
import { DEFAULT_SECRETS_PATH, defaultReadFile, get, integer, readNamedFile, secret, shown, type ConfigSources, type Env, type ReadFile } from './env-values.ts'

const URL_VARIABLES = ['SQL_URL', 'DB_URL', 'DATABASE_URL', 'DATABASE_URL_PRIVATE', 'PRIVATE_SQL_URL'] as const
const POSTGRES_SCHEME = /^(postgres|postgresql|postgresql\+[a-z0-9_]+):\/\//i
export const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']

/** Only the scheme of a value that may hold a password. */
function schemeOf(value: string): string {
  const m = /^([a-z][a-z0-9+.-]{0,30}):(\/\/)?/i.exec(value)
  return m ? `${m[1]}:${m[2] ?? ''}…` : 'a value without a scheme'
}

export function sslmodeOf(url: URL, label: string): SslMode | undefined {
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

// ---- The fallback SQLite location ----

const SQLITE_FORMS = 'sqlite:///relative/path.db, sqlite:////absolute/path.db, :memory: or a file path'

/** `sqlite:///./data/app.db` → `./data/app.db`, `sqlite:////abs/app.db` → `/abs/app.db`, `:memory:` forms. */
export function sqlitePath(name: string, value: string): string {
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

