// Maps postgres.js and network errors to StoreError kinds. Messages carry codes and constraint
// names only: PostgreSQL's own messages and details can quote values ("Key (email)=(...)"), and
// postgres.js errors can name the query, so neither is passed on, not even as `cause`.
import { callerForbidden, callerUnauthorized, StoreError, type ConnectionFailure } from '../store.ts'

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'ECONNABORTED',
  // postgres.js's own connection errors
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  'SASL_SIGNATURE_MISMATCH', 'AUTH_TYPE_NOT_IMPLEMENTED', 'MESSAGE_NOT_SUPPORTED',
])

// SQLSTATEs that say "this server cannot serve us now", not "this request is wrong".
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '57014', '53300', '3D000'])

const SQLSTATE = /^[0-9A-Z]{5}$/

// Words for the codes an operator meets at boot or in /health: what to fix, not just a code.
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens at that host and port',
  ECONNRESET: 'connection reset by the server or the network',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'host name lookup failed for now (DNS)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  CONNECTION_CLOSED: 'the server closed the connection',
  CONNECTION_DESTROYED: 'the connection was dropped',
  CONNECT_TIMEOUT: 'connecting took longer than DATABASE_TIMEOUT',
  '28P01': 'password authentication failed: check the user and password',
  '28000': 'authentication rejected: check the user name and pg_hba rules',
  '3D000': 'the database does not exist: check the database name',
  '53300': 'the server has too many connections',
  '08P01': 'the server or its pooler rejected the connection (protocol violation)',
  '57P01': 'the server terminated the connection (admin shutdown)',
  '57P02': 'the server is shutting down (crash shutdown)',
  '57P03': 'the server is starting up or shutting down',
  '57014': 'the statement was cancelled (DB_STATEMENT_TIMEOUT_MS exceeded)',
}

// Refusals that are not about a row: what the server refused, in words.
const REFUSALS: Record<string, string> = {
  '22023': 'a parameter has an invalid value; when connecting, check options= and the other parameters in the URL',
  '42704': 'a parameter is unknown to the server; when connecting, check the parameters in the URL',
  '0A000': 'the server or pooler does not support what was asked (feature not supported)',
}

interface ErrorShape {
  code?: unknown
  errno?: unknown
  syscall?: unknown
  address?: unknown
  message?: unknown
  constraint_name?: unknown
  table_name?: unknown
}

const codeOf = (e: ErrorShape): string => (typeof e.code === 'string' ? e.code : '')

/** TLS and socket failures without a code we list: still the connection, not the data. */
function isConnectionLevel(e: ErrorShape, code: string): boolean {
  if (typeof e.syscall === 'string') return true
  return /^(E[A-Z]+$|ERR_(TLS|SSL|SOCKET)|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/.test(code)
}

export function isUnavailableCode(code: string): boolean {
  return NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08') || code.startsWith('28')
}

/** the server or the network ended a connection that was open: its pool's other connections are suspect */
const LOST_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'ECONNRESET', 'EPIPE', '57P01', '57P02', '57P03'])
export const isConnectionLost = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && LOST_CODES.has(codeOf(error as ErrorShape))

/** no connection could be made: nothing listens there, or the name does not resolve (no nap looks like this) */
const REFUSED_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])

function connectionFailure(code: string): ConnectionFailure | undefined {
  if (LOST_CODES.has(code)) return 'lost'
  if (REFUSED_CODES.has(code)) return 'refused'
  return undefined
}

const messageOf = (e: ErrorShape): string => (typeof e.message === 'string' ? e.message : '')

/** What a transaction-mode pooler refused: a startup parameter (which), or named prepared statements. */
export type PoolerRefusal =
  | { kind: 'startup_parameter'; parameter: string }
  | { kind: 'startup_parameters_ignored' }
  | { kind: 'prepared_statements' }

export function poolerRefusal(error: unknown): PoolerRefusal | null {
  const e: ErrorShape = typeof error === 'object' && error !== null ? error : {}
  const message = messageOf(e)
  const param = /unsupported startup parameter:?\s*([\w.]+)/i.exec(message)
  if (param) return { kind: 'startup_parameter', parameter: param[1]! }
  const code = codeOf(e)
  // 26000: a prepared statement another server connection made; 42P05: one made there before
  if (code === '26000' || code === '42P05' || /prepared statement "?[\w-]*"? (does not exist|already exists)/i.test(message))
    return { kind: 'prepared_statements' }
  return null
}

export function refusalReason(r: PoolerRefusal): string {
  switch (r.kind) {
    case 'startup_parameter':
      return `the connection pooler refuses the startup parameter ${r.parameter} (a transaction-mode pooler such as PgBouncer): connecting without startup parameters, statement_timeout set per transaction, unnamed statements`
    case 'startup_parameters_ignored':
      return 'a connection pooler ignores startup parameters (the server did not get our statement_timeout): statement_timeout set per transaction, unnamed statements'
    case 'prepared_statements':
      return 'the connection pooler does not keep prepared statements between transactions (transaction mode): using unnamed statements'
  }
}

/**
 * The reason in words for errors whose code alone would mislead: TLS, pooler limits, provider
 * quotas, an IPv6-only host. Server messages are matched, never passed on, except a provider's
 * quota sentence, which is quoted because it is what the operator must act on.
 */
function reasonFromMessage(e: ErrorShape, code: string): string | null {
  const message = messageOf(e)
  const refusal = poolerRefusal(e)
  if (refusal) return refusalReason(refusal)
  const quota = /[^.]*exceeded the [\w ]*quota[^.]*\.?/i.exec(message)
  if (quota) return `the database provider refuses connections: "${quota[0].trim()}"`
  if (/max client connections reached|no more connections allowed|too many (clients|connections)/i.test(message) || code === '53300')
    return 'too many connections: the server or its pooler reached its connection limit (lower DATABASE_POOL_SIZE or use the pooled URL)'
  if (/\bSSL off\b|no encryption/i.test(message))
    return 'the server accepts no unencrypted connection from here: it most likely requires TLS (use sslmode=require or verify-full in the URL), or this user and database are not allowed from this host'
  if (/requires? (SSL|TLS)|SSL (connection )?is required/i.test(message))
    return 'the server requires TLS: use sslmode=require (or verify-full) in the URL'
  if (code === 'TLS_REFUSED' || /does not support SSL|server does not support TLS/i.test(message))
    return 'the server does not accept TLS, but the URL asks for it (sslmode): use sslmode=prefer or disable, or enable TLS on the server'
  if (/^(ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH)$/.test(code) || /does not match certificate|Hostname\/IP does not match/i.test(message))
    return "the server's TLS certificate does not name this host (sslmode=verify-full): connect by the name on the certificate, or use verify-ca"
  if (/^(UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|CERT_)/.test(code) || /self[- ]signed certificate|unable to (get|verify)/i.test(message))
    return "the server's TLS certificate is not trusted: give its CA with sslrootcert=/path/ca.pem (or sslrootcert=system)"
  if ((code === 'ENETUNREACH' || code === 'EHOSTUNREACH' || code === 'EADDRNOTAVAIL') && typeof e.address === 'string' && e.address.includes(':'))
    return "network unreachable: the host has only an IPv6 address and this network has no IPv6 (Hugging Face has none): use the provider's pooler host, which has IPv4"
  return null
}

/** A code with words, never bare: the listed ones, else by SQLSTATE class. */
function codeInWords(code: string): string {
  if (REASONS[code]) return `${code}: ${REASONS[code]}`
  if (code.startsWith('08')) return `${code}: the connection failed`
  if (code.startsWith('28')) return `${code}: authentication failed: check the user and password`
  if (code.startsWith('57')) return `${code}: the server is not accepting work now`
  return code ? `${code}: connection error` : 'connection error'
}

export function toStoreError(error: unknown): StoreError {
  if (error instanceof StoreError) return error
  const e: ErrorShape = typeof error === 'object' && error !== null ? error : {}
  const code = codeOf(e)
  // raised by app_caller (migration 0002) in a statement made for a caller
  if (code === 'AU401') return callerUnauthorized()
  if (code === 'AU403') return callerForbidden(messageOf(e) === 'user' ? 'user' : 'admin')
  const reason = reasonFromMessage(e, code)
  if (reason !== null || isUnavailableCode(code) || isConnectionLevel(e, code))
    return new StoreError('unavailable', `PostgreSQL is unavailable (${reason ?? codeInWords(code)})`, { connection: connectionFailure(code) })
  if (code === '23505') {
    const where = typeof e.constraint_name === 'string' ? ` (${e.constraint_name})` : ''
    return new StoreError('conflict', `a row with the same unique key already exists${where}`)
  }
  if (REFUSALS[code]) return new StoreError('invalid', `PostgreSQL refused (SQLSTATE ${code}: ${REFUSALS[code]})`)
  if (code.startsWith('22') || code.startsWith('23'))
    return new StoreError('invalid', `PostgreSQL rejected the data (SQLSTATE ${code})`)
  const suffix = SQLSTATE.test(code) ? ` (SQLSTATE ${code})` : ''
  return new StoreError('invalid', `PostgreSQL query failed${suffix}`)
}

/** The SQLSTATE of a PostgreSQL error, for the few places that branch on it (23505, 23503). */
export const sqlState = (error: unknown): string =>
  typeof error === 'object' && error !== null ? codeOf(error as ErrorShape) : ''

export const constraintOf = (error: unknown): string | null => {
  const name = typeof error === 'object' && error !== null ? (error as ErrorShape).constraint_name : null
  return typeof name === 'string' ? name : null
}

/**
 * A failed `select 1` (ping, probe) as 'unavailable' whatever the cause: a server that refuses our
 * connection settings (SQLSTATE 22023 for a startup option it rejects) cannot be used any more than
 * one that is down, and the reason stays in words.
 */
export function pingFailure(error: unknown): StoreError {
  const err = toStoreError(error)
  return err.kind === 'unavailable' ? err : new StoreError('unavailable', err.message)
}
