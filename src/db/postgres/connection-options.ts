// Turns our options into a postgres.js URL + options. postgres.js lets an options object win over
// the URL, while we promise that an explicit `sslmode` in the URL wins, so the URL is read here.
import { readFileSync } from 'node:fs'
import type postgres from 'postgres'
import type { PoolMode, SslMode } from '../../config-types.ts'
import { StoreError } from '../store.ts'
import { createSocketFactory, type SocketFactory } from './socket.ts'

export interface ConnectionSettings {
  url: string
  poolSize: number
  connectTimeoutS: number
  statementTimeoutMs: number
  sslmode: SslMode
  /** default 'auto': learn the pooler's ways from the URL and from its errors */
  poolMode?: PoolMode
  /** seconds an unused connection stays open; default 30 */
  idleTimeoutS?: number
}

/**
 * What the server in front of us accepts (DESIGN §12). Transaction-mode poolers (PgBouncer,
 * Supavisor) refuse or ignore startup parameters and lose named prepared statements between
 * transactions. Starts from the URL and DATABASE_POOL_MODE; the pool learns the rest from errors.
 */
export interface PoolerStyle {
  /** statement_timeout goes as a startup parameter; else SET LOCAL in each transaction */
  startupParams: boolean
  /** named prepared statements (postgres.js `prepare`) */
  prepare: boolean
}

/** The signs of a transaction-mode pooler in a URL (Neon's -pooler hosts, Supabase's port 6543, pgbouncer=true), in words. */
export function poolerSigns(raw: string): string | null {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return null
  }
  const host = url.hostname.toLowerCase()
  if (host.split('.')[0]!.endsWith('-pooler')) return `the host ${host} is a pooler host`
  if (host.includes('pooler.supabase.com')) return `the host ${host} is Supabase's pooler`
  if (url.port === '6543') return 'port 6543 is the transaction pooler port'
  if (url.searchParams.get('pgbouncer') === 'true') return 'the URL says pgbouncer=true'
  return null
}

export function initialStyle(url: string, mode: PoolMode = 'auto'): PoolerStyle {
  if (mode === 'session') return { startupParams: true, prepare: true }
  if (mode === 'transaction' || poolerSigns(url) !== null) return { startupParams: false, prepare: false }
  return { startupParams: true, prepare: true }
}

// libpq client-side parameters. postgres.js would send unknown URL parameters to the server as
// startup parameters, and PostgreSQL refuses unknown ones (a Neon URL carries channel_binding).
const CLIENT_ONLY_PARAMS = [
  'sslmode', 'ssl', 'sslrootcert', 'sslcert', 'sslkey', 'sslcrl', 'sslcrldir', 'sslpassword', 'sslsni',
  'sslcompression', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'requiressl',
  'channel_binding', 'gssencmode', 'gsslib', 'krbsrvname', 'passfile', 'service', 'hostaddr',
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout',
  'load_balance_hosts', 'fallback_application_name', 'require_auth', 'requirepeer', 'connect_timeout',
  // Prisma's marker for a PgBouncer URL: ours too (poolerSigns), never a server parameter
  'pgbouncer',
]

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']

export const APPLICATION_NAME = 'hono-failover-api'

/** How the server's certificate is checked: libpq's sslmode, its sslrootcert, the host it must name. */
export interface TlsChoice {
  mode: SslMode
  /** sslrootcert: a CA file, or 'system' for the platform's trusted CAs */
  rootCert?: string | null
  /** the host of the URL: the name a verify-full certificate must carry (an IP included) */
  host?: string
}

const readRootCert = (path: string): string => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    throw new StoreError('unavailable', `sslrootcert ${path} cannot be read: give the path of the CA certificate file (PEM)`)
  }
}

/** postgres.js's `ssl` for a libpq sslmode (and sslrootcert, which libpq reads as the trusted CA). */
export function sslOption({ mode, rootCert, host }: TlsChoice): postgres.Options<{}>['ssl'] {
  const ca = rootCert && rootCert !== 'system' ? { ca: readRootCert(rootCert) } : {}
  switch (mode) {
    case 'disable':
      return false
    // libpq tries plain first, then TLS; postgres.js has no such mode, and 'prefer' connects to
    // every server 'allow' connects to.
    case 'allow':
    case 'prefer':
      return 'prefer'
    // libpq: with a root certificate given, require verifies the chain as verify-ca does
    case 'require':
      return rootCert && rootCert !== 'system' ? { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...ca } : 'require'
    // verify the chain, not the host name
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...ca }
    // Node checks the name against `servername`, which postgres.js leaves out for an IP host, and
    // then against `host`: without it an IP host would be checked as "localhost".
    case 'verify-full':
      return { rejectUnauthorized: true, ...ca, ...(host ? { host } : {}) }
  }
}

/** The sslmode in effect: the URL's when it names a valid one, else the configured one. */
export function effectiveSslMode(url: URL, configured: SslMode): SslMode {
  const fromUrl = url.searchParams.get('sslmode')
  if (fromUrl && (SSL_MODES as readonly string[]).includes(fromUrl)) return fromUrl as SslMode
  if (url.searchParams.get('sslrootcert') === 'system') return 'verify-full'
  return configured
}

/** The URL without client-only parameters, and how TLS is chosen. */
function readUrl(raw: string, configured: SslMode): { url: string; tls: TlsChoice } {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    // e.g. a multi-host URL, which WHATWG URL cannot parse but postgres.js can
    return { url: raw, tls: { mode: configured } }
  }
  const tls: TlsChoice = {
    mode: effectiveSslMode(url, configured),
    rootCert: url.searchParams.get('sslrootcert'),
    host: url.hostname.replace(/^\[|\]$/g, ''),
  }
  for (const p of CLIENT_ONLY_PARAMS) url.searchParams.delete(p)
  return { url: url.toString(), tls }
}

/** postgres.js documents the `socket` option but does not type it. */
export type ClientOptions = postgres.Options<{}> & { socket: SocketFactory }

export function connectionOptions(
  s: ConnectionSettings,
  style: PoolerStyle = initialStyle(s.url, s.poolMode),
  onFirstByte?: (byte: number) => void,
): { url: string; options: ClientOptions; tlsRequired: boolean } {
  const { url, tls } = readUrl(s.url, s.sslmode)
  const ssl = sslOption(tls)
  return {
    tlsRequired: ssl !== false && ssl !== 'prefer',
    url,
    options: {
      max: s.poolSize,
      connect_timeout: s.connectTimeoutS,
      idle_timeout: s.idleTimeoutS ?? 30,
      max_lifetime: 30 * 60,
      // No wait before a connection that failed is made again. postgres.js counts every connection
      // reset as a failure and waits for its backoff before the next connect, so one reset of the
      // pool's open connections held the next request back 100–500 ms before it could even learn
      // that PostgreSQL was gone. The pace of attempts comes from the store instead: after a
      // failover only the monitor's probes reach PostgreSQL.
      backoff: () => 0,
      // As startup parameters no statement carries them and no SET is needed; a pooler that refuses
      // them gets only application_name (PgBouncer tracks it), and transactions SET LOCAL the timeout.
      connection: style.startupParams
        ? { statement_timeout: s.statementTimeoutMs, application_name: APPLICATION_NAME }
        : { application_name: APPLICATION_NAME },
      ssl,
      prepare: style.prepare,
      // No array-type lookup on each new connection: it is a round trip of its own, and when the
      // connection dies during it postgres.js rejects it with nobody listening. We send no arrays.
      fetch_types: false,
      debug: false,
      // postgres.js prints notices with console.log otherwise
      onnotice: () => {},
      socket: createSocketFactory(onFirstByte),
    },
  }
}
