// Maps postgres.js and network errors to StoreError kinds. Messages carry codes and constraint
// names only: PostgreSQL's own messages and details can quote values ("Key (email)=(...)"), and
// postgres.js errors can name the query, so neither is passed on, not even as `cause`.
import { StoreError } from '../store.ts'

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

export function toStoreError(error: unknown): StoreError {
  if (error instanceof StoreError) return error
  const e: ErrorShape = typeof error === 'object' && error !== null ? error : {}
  const code = codeOf(e)
  if (isUnavailableCode(code) || isConnectionLevel(e, code))
    return new StoreError('unavailable', `PostgreSQL is unavailable (${REASONS[code] ? `${code}: ${REASONS[code]}` : code || 'connection error'})`)
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
