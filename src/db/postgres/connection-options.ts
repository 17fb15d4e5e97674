// Turns our options into a postgres.js URL + options. postgres.js lets an options object win over
// the URL, while we promise that an explicit `sslmode` in the URL wins, so the URL is read here.
import type postgres from 'postgres'
import type { SslMode } from '../../config-types.ts'
import { createSocketFactory, type SocketFactory } from './socket.ts'

export interface ConnectionSettings {
  url: string
  poolSize: number
  connectTimeoutS: number
  statementTimeoutMs: number
  sslmode: SslMode
}

// libpq client-side parameters. postgres.js would send unknown URL parameters to the server as
// startup parameters, and PostgreSQL refuses unknown ones (a Neon URL carries channel_binding).
const CLIENT_ONLY_PARAMS = [
  'sslmode', 'ssl', 'sslrootcert', 'sslcert', 'sslkey', 'sslcrl', 'sslcrldir', 'sslpassword', 'sslsni',
  'sslcompression', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'requiressl',
  'channel_binding', 'gssencmode', 'gsslib', 'krbsrvname', 'passfile', 'service', 'hostaddr',
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout',
  'load_balance_hosts', 'fallback_application_name', 'require_auth', 'requirepeer', 'connect_timeout',
]

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']

export const APPLICATION_NAME = 'hono-failover-api'

/** postgres.js's `ssl` for a libpq sslmode. */
export function sslOption(mode: SslMode): postgres.Options<{}>['ssl'] {
  switch (mode) {
    case 'disable':
      return false
    // libpq tries plain first, then TLS; postgres.js has no such mode, and 'prefer' connects to
    // every server 'allow' connects to.
    case 'allow':
    case 'prefer':
      return 'prefer'
    case 'require':
      return 'require'
    // verify the chain, not the host name
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined }
    case 'verify-full':
      return { rejectUnauthorized: true }
  }
}

/** The sslmode in effect: the URL's when it names a valid one, else the configured one. */
export function effectiveSslMode(url: URL, configured: SslMode): SslMode {
  const fromUrl = url.searchParams.get('sslmode')
  if (fromUrl && (SSL_MODES as readonly string[]).includes(fromUrl)) return fromUrl as SslMode
  if (url.searchParams.get('sslrootcert') === 'system') return 'verify-full'
  return configured
}

/** The URL without client-only parameters, and the sslmode in effect. */
function readUrl(raw: string, configured: SslMode): { url: string; sslmode: SslMode } {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    // e.g. a multi-host URL, which WHATWG URL cannot parse but postgres.js can
    return { url: raw, sslmode: configured }
  }
  const sslmode = effectiveSslMode(url, configured)
  for (const p of CLIENT_ONLY_PARAMS) url.searchParams.delete(p)
  return { url: url.toString(), sslmode }
}

/** postgres.js documents the `socket` option but does not type it. */
export type ClientOptions = postgres.Options<{}> & { socket: SocketFactory }

export function connectionOptions(s: ConnectionSettings): { url: string; options: ClientOptions } {
  const { url, sslmode } = readUrl(s.url, s.sslmode)
  return {
    url,
    options: {
      max: s.poolSize,
      connect_timeout: s.connectTimeoutS,
      idle_timeout: 30,
      max_lifetime: 30 * 60,
      // postgres.js backs off up to 20 s between reconnects after failures; a short cap lets the
      // failover probe see a returning server at its next tick.
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
      // startup parameters, so no statement can carry them and no SET is needed
      connection: { statement_timeout: s.statementTimeoutMs, application_name: APPLICATION_NAME },
      ssl: sslOption(sslmode),
      prepare: true,
      // No array-type lookup on each new connection: it is a round trip of its own, and when the
      // connection dies during it postgres.js rejects it with nobody listening. We send no arrays.
      fetch_types: false,
      debug: false,
      // postgres.js prints notices with console.log otherwise
      onnotice: () => {},
      socket: createSocketFactory(),
    },
  }
}
