// pino, with secrets kept out of every line in two layers: redaction of known keys (password, token,
// url, ...) in logged objects, then a pass over each finished line that masks the configured secret
// values and any password inside a connection string, for the secret that slips into free text.
import pino, { type DestinationStream, type Logger } from 'pino'
import type { Config } from './config-types.ts'
import { createSecretRedactor, redactConnectionStrings, redactUrl } from './redact.ts'

const SECRET_KEYS = [
  'password', 'new_password', 'current_password', 'password_hash', 'passwordHash',
  'refresh_token', 'refreshToken', 'access_token', 'accessToken', 'token',
  'authorization', 'cookie', 'set-cookie', 'jwtSecret', 'jwt_secret', 'secret',
]
/** Keys that hold URLs: kept readable, with the password masked. */
const URL_KEYS = ['url', 'databaseUrl', 'database_url', 'DATABASE_URL']

const SECRET_KEY_SET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()))
const URL_KEY_SET = new Set(URL_KEYS)
/** how deep inside a logged object keys are still looked at */
const REDACT_DEPTH = 3

/**
 * The logged object with secret keys masked and URL keys' passwords hidden, copied only where it
 * changes. One pass of our own rather than pino's `redact`: its wildcard paths (`*.password`) cost
 * 20-90 µs per line, more than the request the line describes.
 */
function redactFields<T>(value: T, depth = 0): T {
  if (depth > REDACT_DEPTH || value === null || typeof value !== 'object' || value instanceof Error) return value
  if (Array.isArray(value)) {
    const items = value.map((item) => redactFields(item, depth + 1))
    return (items.some((item, i) => item !== value[i]) ? items : value) as T
  }
  let copy: Record<string, unknown> | null = null
  for (const [key, field] of Object.entries(value)) {
    const masked = SECRET_KEY_SET.has(key.toLowerCase())
      ? '[Redacted]'
      : URL_KEY_SET.has(key) && typeof field === 'string'
        ? redactUrl(field)
        : redactFields(field, depth + 1)
    if (masked !== field) (copy ??= { ...(value as Record<string, unknown>) })[key] = masked
  }
  return (copy ?? value) as T
}

const OMITTED_IN_PRETTY = new Set(['time', 'level', 'msg', 'pid', 'hostname'])

const prettyValue = (value: unknown): string =>
  typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)

/** `12:34:56.789 INFO  message key=value`: a small human-readable line for a developer's terminal. */
export function prettyLine(line: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : ''
  const level = String(entry.level ?? '').toUpperCase().padEnd(5)
  const fields = Object.entries(entry)
    .filter(([key]) => !OMITTED_IN_PRETTY.has(key))
    .map(([key, value]) => ` ${key}=${prettyValue(value)}`)
    .join('')
  return `${time} ${level} ${String(entry.msg ?? '')}${fields}\n`
}

export interface LoggerOptions {
  /** where lines go; default stdout */
  destination?: DestinationStream
  /** values masked wherever they appear in a line (see configSecrets) */
  secrets?: string[]
}

export function createLogger(config: Pick<Config, 'logLevel' | 'prettyLogs'>, options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination(1)
  const redactSecrets = createSecretRedactor(options.secrets ?? [])
  const stream: DestinationStream = config.prettyLogs
    ? { write: (line: string) => destination.write(prettyLine(line)) }
    : destination
  return pino(
    {
      level: config.logLevel,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: (object) => redactFields(object) },
      hooks: { streamWrite: (line) => redactConnectionStrings(redactSecrets(line)) },
    },
    stream,
  )
}
