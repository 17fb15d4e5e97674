// The client address used for rate limiting and audit events.
import type { Context } from 'hono'
import { getConnInfo } from 'hono/bun'

const MAX_IP_LENGTH = 64

/**
 * Behind a trusted proxy (TRUST_PROXY, on by default on Hugging Face) the first X-Forwarded-For entry;
 * otherwise the socket's address. Requests that never touched a socket (app.request in tests) are
 * 'unknown'.
 */
export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const first = c.req.header('X-Forwarded-For')?.split(',')[0]?.trim()
    if (first) return first.slice(0, MAX_IP_LENGTH)
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    return 'unknown'
  }
}
