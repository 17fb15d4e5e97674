// What every response carries and every request leaves in the log, whoever answers it: the Hono
// middleware in app.ts, or Bun's router for GET /health (routes/health.ts).
import type { Logger } from 'pino'

/**
 * The security headers that matter for a JSON API. The HTML-page ones (XSS filter, download options,
 * DNS prefetch, cross-domain policies, origin-agent-cluster, opener policy) protect nothing here and
 * cost every response.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Referrer-Policy': 'no-referrer',
  'Strict-Transport-Security': 'max-age=15552000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'SAMEORIGIN',
}

/**
 * Probes: what a load balancer, the platform or a monitor asks every few seconds, and no browser
 * renders. Their answers carry only nosniff of the security headers (framing, referrer, HSTS and
 * resource policy concern pages, and the five headers cost /health about 15% of its throughput,
 * see bench/RESULTS.md), and they are logged only at debug when they succeed.
 */
const PROBE_PATHS = new Set(['/health', '/health/live', '/health/ready'])
export const isProbe = (path: string): boolean => PROBE_PATHS.has(path)
export const PROBE_SECURITY_HEADERS: Readonly<Record<string, string>> = { 'X-Content-Type-Options': 'nosniff' }

/**
 * The HTML pages (the status page at /, the API docs at /docs) and the script and style files they
 * load. A Hugging Face Space shows / inside an iframe on huggingface.co, so framing is allowed to it
 * (and to the app itself) by CSP frame-ancestors instead of X-Frame-Options. Everything a page loads
 * comes from the app: no inline script, no eval, no inline style, no other origin.
 */
export const PAGE_PATHS = new Set(['/', '/docs'])
export const PAGE_ASSET_PREFIX = '/assets/'
export const isPage = (path: string): boolean => PAGE_PATHS.has(path) || path.startsWith(PAGE_ASSET_PREFIX)
export const FRAME_ANCESTORS = "'self' https://huggingface.co"
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  `frame-ancestors ${FRAME_ANCESTORS}`,
].join('; ')
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'Referrer-Policy': 'no-referrer',
  'Strict-Transport-Security': 'max-age=15552000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
}

const REQUEST_ID_MAX = 255
const REQUEST_ID_CHARS = /^[\w\-=]+$/

/**
 * The request id of each request: the caller's X-Request-Id when it is short and plain, else a new
 * one — a random per-process prefix and a counter: unique, and far cheaper than a UUID per request.
 */
export function requestIds(): (incoming: string | null) => string {
  const prefix = crypto.randomUUID().slice(0, 8)
  let count = 0
  return (incoming) =>
    incoming && incoming.length <= REQUEST_ID_MAX && REQUEST_ID_CHARS.test(incoming) ? incoming : `${prefix}-${++count}`
}

export interface RequestLine {
  method: string
  path: string
  status: number
  ms: number
  request_id: string
}

/**
 * One line per request, written once the response is known. Never bodies, never headers
 * (Authorization), never the query string (tokens end up there).
 */
export function logRequest(logger: Logger, startedAt: number, line: Omit<RequestLine, 'ms'>): void {
  const level = line.status >= 500 ? 'error' : line.status < 400 && isProbe(line.path) ? 'debug' : 'info'
  if (!logger.isLevelEnabled(level)) return
  const ms = Math.round((performance.now() - startedAt) * 10) / 10
  logger[level]({ method: line.method, path: line.path, status: line.status, ms, request_id: line.request_id }, 'request')
}
