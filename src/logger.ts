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

const keyPath = (key: string): string => (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)

/** Each key at the top level and one and two levels down (`password`, `*.password`, `*.*.password`). */
const REDACT_PATHS = [...SECRET_KEYS, ...URL_KEYS].flatMap((key) => {
  const path = keyPath(key)
  return [path.startsWith('.') ? path.slice(1) : path, `*${path}`, `*.*${path}`]
})
const URL_KEY_SET = new Set(URL_KEYS)

const censor = (value: unknown, path: string[]): unknown =>
  typeof value === 'string' && URL_KEY_SET.has(path.at(-1) ?? '') ? redactUrl(value) : '[Redacted]'

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
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor },
      hooks: { streamWrite: (line) => redactConnectionStrings(redactSecrets(line)) },
    },
    stream,
  )
}
