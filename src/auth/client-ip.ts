// The client address used for rate limiting and audit events.
import type { Context } from 'hono'
import { getConnInfo } from 'hono/bun'

const MAX_IP_LENGTH = 64

export interface ProxyTrust {
  trustProxy: boolean
  /** how many proxies we trust append to X-Forwarded-For (TRUSTED_PROXY_HOPS, at least 1) */
  trustedProxyHops: number
}

/**
 * Behind trusted proxies (TRUST_PROXY, on by default on Hugging Face): the X-Forwarded-For entry the
 * outermost trusted proxy appended — the right-most entry minus (hops - 1). Every proxy appends the
 * address it was connected from, so the entries left of that one are whatever the client wrote and
 * prove nothing. A header with fewer entries than hops did not come through every trusted proxy: the
 * socket's address then. Without TRUST_PROXY: the socket's address. Requests that never touched a
 * socket (app.request in tests) are 'unknown'.
 */
export function clientIp(c: Context, trust: ProxyTrust): string {
  if (trust.trustProxy) {
    const header = c.req.header('X-Forwarded-For')
    if (header) {
      const entries = header.split(',').map((s) => s.trim())
      const appended = entries[entries.length - trust.trustedProxyHops]
      if (appended) return appended.slice(0, MAX_IP_LENGTH)
    }
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    return 'unknown'
  }
}
