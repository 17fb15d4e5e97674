// Raw baseline for GET /health: plain Bun.serve returning the same JSON fields, no framework: a body of
// the byte size of the server's answer, with its Content-Type (the bench checks both before measuring).
// With SAME_HEADERS (a JSON object) it also sends the headers the server sends (security headers,
// Cache-Control, and an X-Request-Id of its own), to tell the cost of the headers from the framework's.
import { healthBody, JSON_CONTENT_TYPE, listenPort, notFound } from '../lib/raw-http.ts'

const startedAt = Date.now()
const sameHeaders = process.env.SAME_HEADERS !== undefined

// SAME_HEADERS: the server's own /health headers as JSON (the bench copies them from a live response)
const serverHeaders: Record<string, string> = JSON.parse(process.env.SAME_HEADERS ?? '{}')

Bun.serve({
  port: listenPort(),
  hostname: '127.0.0.1',
  development: false,
  fetch(req) {
    const { pathname } = new URL(req.url)
    if (req.method !== 'GET' || pathname !== '/health') return notFound()
    if (!sameHeaders) return new Response(JSON.stringify(healthBody(startedAt, '0.1.0')), { headers: { 'Content-Type': JSON_CONTENT_TYPE } })
    return new Response(JSON.stringify(healthBody(startedAt, '0.1.0')), { headers: { ...serverHeaders, 'X-Request-Id': crypto.randomUUID() } })
  },
})
