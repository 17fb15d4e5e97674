// The HTTP frame every route shares: JSON errors with request_id, X-Request-Id on every response,
// JSON 404, the body limit (413), secure headers, CORS from CORS_ORIGINS, one log line per request.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createApp } from '../src/app.ts'
import type { DatabaseRuntime } from '../src/db/runtime.ts'
import { StoreError } from '../src/db/store.ts'
import { createLogger } from '../src/logger.ts'
import { getJson, ServerHarness } from './helpers/spawn-server.ts'
import { buildTestApp, type TestApp } from './helpers/test-app.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

const apps: TestApp[] = []
const h = new ServerHarness()

afterAll(async () => {
  for (const a of apps) await a.close()
  await h.cleanup()
})

async function appWith(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await buildTestApp({ env })
  apps.push(t)
  return t
}

const requestLines = (t: { logLines: string[] }) =>
  t.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request')

const UUIDISH = /^[\w\-=]{1,255}$/

// Bodies are checked field by field below.
const json = async (res: Response): Promise<any> => res.json()

function expectFramed(res: Response, body?: any) {
  const id = res.headers.get('x-request-id')
  expect(id).toMatch(UUIDISH)
  if (body?.error) expect(body.error.request_id).toBe(id)
}

describe('errors are JSON with a request id', () => {
  test('unknown route: JSON 404 naming the route, request_id = X-Request-Id', async () => {
    const t = await appWith()
    const res = await t.app.request('/no/such/route?x=1', { method: 'DELETE' })
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const body = await json(res)
    expect(body).toEqual({ error: { code: 'not_found', message: 'no route for DELETE /no/such/route', request_id: res.headers.get('x-request-id') } })
  })

  test('every status carries X-Request-Id: 200, 400, 401, 404, 413, 415, 204 preflight', async () => {
    const t = await appWith({ BODY_LIMIT: '1kb', CORS_ORIGINS: 'https://app.example.com' })
    const cases: Array<[number, Request]> = [
      [200, new Request('http://x/health/live')],
      [400, new Request('http://x/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"email": ' })],
      [401, new Request('http://x/api/v1/auth/me')],
      [404, new Request('http://x/nope')],
      [413, new Request('http://x/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(2048) }) })],
      [415, new Request('http://x/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello' })],
      [204, new Request('http://x/api/v1/notes', { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST' } })],
    ]
    for (const [status, req] of cases) {
      const res = await t.app.request(req)
      expect(res.status).toBe(status)
      const text = await res.text()
      const body = text ? JSON.parse(text) : undefined
      expectFramed(res, body)
      if (status >= 400) expect(typeof body.error.code).toBe('string')
    }
  })

  test('a well-formed incoming X-Request-Id is kept; a malformed one is replaced', async () => {
    const t = await appWith()
    const kept = await t.app.request('/nope', { headers: { 'X-Request-Id': 'trace-abc_123' } })
    expect(kept.headers.get('x-request-id')).toBe('trace-abc_123')
    expect((await json(kept)).error.request_id).toBe('trace-abc_123')
    for (const bad of ['has spaces in it', 'x'.repeat(300), 'quote"and<angle>']) {
      const res = await t.app.request('/nope', { headers: { 'X-Request-Id': bad } })
      const id = res.headers.get('x-request-id')!
      expect(id).not.toBe(bad)
      expect(id).toMatch(UUIDISH)
    }
  })

  test('an unexpected error is a bare 500 internal: its message stays in the log (name and message, no stack)', async () => {
    const t = await appWith()
    const logLines: string[] = []
    const logger = createLogger(t.config, { destination: { write: (l: string) => void logLines.push(l) } })
    const failing = { status: () => { throw new TypeError("Cannot read properties of undefined (reading 'mode')") } } as unknown as DatabaseRuntime
    const app = createApp({ config: t.config, logger, store: t.store, db: failing, jwtSecret: t.jwtSecret, startedAt: Date.now() })
    const res = await app.request('/health')
    expect(res.status).toBe(500)
    const body = await json(res)
    expect(body).toEqual({ error: { code: 'internal', message: 'internal error', request_id: res.headers.get('x-request-id') } })
    const lines = logLines.map((l) => JSON.parse(l))
    expect(lines.find((l) => l.msg === 'request')).toMatchObject({ level: 'error', status: 500, path: '/health' })
    expect(lines.find((l) => l.msg === 'unhandled error')?.error).toEqual({ name: 'TypeError', message: "Cannot read properties of undefined (reading 'mode')" })
    for (const l of logLines) expect(l).not.toMatch(/\sat .+:\d+:\d+|"stack"/)
  })

  test('a database that is unavailable is a 503 unavailable', async () => {
    const t = await appWith()
    const down = { status: () => { throw new StoreError('unavailable', 'PostgreSQL did not answer within 1000 ms') } } as unknown as DatabaseRuntime
    const app = createApp({ config: t.config, logger: createLogger(t.config, { destination: { write: () => {} } }), store: t.store, db: down, jwtSecret: t.jwtSecret, startedAt: Date.now() })
    const res = await app.request('/config/database')
    expect(res.status).toBe(503)
    expect((await json(res)).error.code).toBe('unavailable')
  })
})

describe('body limit', () => {
  const post = (body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
    new Request('http://x/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body, duplex: 'half' } as RequestInit)

  test('over the limit by Content-Length: 413 payload_too_large, before the route runs', async () => {
    const t = await appWith({ BODY_LIMIT: '1kb' })
    const res = await t.app.request(post(JSON.stringify({ email: 'a@b.c', password: 'p'.repeat(2000) })))
    expect(res.status).toBe(413)
    const body = await json(res)
    expect(body.error.code).toBe('payload_too_large')
    expect(body.error.message).toMatch(/1024 bytes/)
    expect(t.logLines.some((l) => l.includes('auth.login_failed'))).toBe(false)
  })

  test('over the limit as a stream without Content-Length: 413 as well', async () => {
    const t = await appWith({ BODY_LIMIT: '1kb' })
    const chunk = new TextEncoder().encode('x'.repeat(512))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk)
        else controller.close()
      },
    })
    const res = await t.app.request(post(stream))
    expect(res.status).toBe(413)
    expect((await json(res)).error.code).toBe('payload_too_large')
  })

  test('within the limit: the route sees the body', async () => {
    const t = await appWith({ BODY_LIMIT: '1kb' })
    const res = await t.app.request(post(JSON.stringify({ email: 'nobody@example.com', password: 'wrong-password-1' })))
    expect(res.status).toBe(401)
    expect((await json(res)).error.code).toBe('invalid_credentials')
  })
})

describe('secure headers and CORS', () => {
  test('secure headers on success and on errors', async () => {
    const t = await appWith()
    for (const path of ['/config/database', '/nope']) {
      const res = await t.app.request(path)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN')
      expect(res.headers.get('referrer-policy')).toBe('no-referrer')
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/)
      expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin')
      // page-only headers are left out of a JSON API's responses
      for (const header of ['x-xss-protection', 'x-download-options', 'cross-origin-opener-policy', 'origin-agent-cluster'])
        expect(res.headers.get(header)).toBeNull()
      expect(res.headers.get('x-powered-by')).toBeNull()
    }
  })

  test('probes (/health, /health/live, /health/ready) carry nosniff, no-store and their id, not the page headers', async () => {
    const t = await appWith()
    for (const path of ['/health', '/health/live', '/health/ready']) {
      const res = await t.app.request(path)
      expect(res.status).toBe(200)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(res.headers.get('x-request-id')).toMatch(UUIDISH)
      for (const header of ['x-frame-options', 'referrer-policy', 'strict-transport-security', 'cross-origin-resource-policy'])
        expect(res.headers.get(header)).toBeNull()
    }
  })

  test('CORS_ORIGINS lists who may call: allowed origins get the headers, others do not', async () => {
    const t = await appWith({ CORS_ORIGINS: 'https://app.example.com,https://admin.example.com' })
    const pre = await t.app.request('/api/v1/notes', {
      method: 'OPTIONS',
      headers: { Origin: 'https://admin.example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://admin.example.com')
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization')
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST')

    const ok = await t.app.request('/health/live', { headers: { Origin: 'https://app.example.com' } })
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
    expect(ok.headers.get('access-control-expose-headers')).toContain('X-Request-Id')
    expect(ok.headers.get('vary')).toContain('Origin')

    const other = await t.app.request('/health/live', { headers: { Origin: 'https://evil.example.net' } })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })

  test('without CORS_ORIGINS no origin is allowed; with * every origin is', async () => {
    const none = await appWith()
    const res = await none.app.request('/health/live', { headers: { Origin: 'https://app.example.com' } })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()

    const any = await appWith({ CORS_ORIGINS: '*' })
    const star = await any.app.request('/health/live', { headers: { Origin: 'https://whoever.example.org' } })
    expect(star.headers.get('access-control-allow-origin')).toBe('*')
  })
})

describe('request log', () => {
  test('one line per request with method, path, status, ms, request_id; never bodies, tokens or query strings', async () => {
    const t = await appWith()
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2VjcmV0LXNpZ25hdHVyZQ'
    const password = 'Body-password-6d1e90'
    const before = requestLines(t).length
    const responses = [
      await t.app.request('/config/database?access_token=query-secret-81f2'),
      await t.app.request('/api/v1/auth/me', { headers: { Authorization: `Bearer ${token}` } }),
      await t.app.request('/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: 'x@example.com', password }) }),
      await t.app.request('/nope'),
    ]
    const lines = requestLines(t).slice(before)
    expect(lines).toHaveLength(responses.length)
    expect(lines.map((l) => [l.method, l.path, l.status])).toEqual([
      ['GET', '/config/database', 200],
      ['GET', '/api/v1/auth/me', 401],
      ['POST', '/api/v1/auth/login', 401],
      ['GET', '/nope', 404],
    ])
    lines.forEach((l, i) => {
      expect(l.request_id).toBe(responses[i]!.headers.get('x-request-id'))
      expect(typeof l.ms).toBe('number')
      expect(l.level).toBe('info')
    })
    const all = t.logLines.join('\n')
    for (const secret of [token, password, 'query-secret-81f2', 'Bearer']) expect(all).not.toContain(secret)
  })

  test('probes that succeed are logged at debug only: a load balancer polling them does not fill the log', async () => {
    const atInfo = await appWith()
    const before = requestLines(atInfo).length
    for (const path of ['/health', '/health/live', '/health/ready']) expect((await atInfo.app.request(path)).status).toBe(200)
    expect(requestLines(atInfo).slice(before)).toEqual([])

    const atDebug = await appWith({ LOG_LEVEL: 'debug' })
    const from = requestLines(atDebug).length
    const res = await atDebug.app.request('/health/live')
    const lines = requestLines(atDebug).slice(from)
    expect(lines.map((l) => [l.level, l.path, l.status, l.request_id])).toEqual([['debug', '/health/live', 200, res.headers.get('x-request-id')]])
    // not a probe: /health/ (another path) and a 404 under /health are logged as usual
    await atInfo.app.request('/health/nope')
    expect(requestLines(atInfo).slice(before).map((l) => [l.level, l.path, l.status])).toEqual([['info', '/health/nope', 404]])
  })
})

describe('the real process', () => {
  test('JSON 404 and X-Request-Id over the wire, one stdout line per request', async () => {
    const proc = h.spawn()
    const { baseUrl } = await proc.waitForListen(15_000)
    const res = await getJson(`${baseUrl}/definitely/missing`)
    expect(res.status).toBe(404)
    expect(res.body.error.code).toBe('not_found')
    expect(res.body.error.request_id).toBe(res.headers.get('x-request-id'))
    const live = await getJson(`${baseUrl}/health/live`)
    expect(live.headers.get('x-request-id')).toMatch(UUIDISH)
    const config = await getJson(`${baseUrl}/config/database`)
    expect(config.headers.get('x-request-id')).toMatch(UUIDISH)
    expect(await proc.stop()).toBe(0)
    // the probe is not logged at the default level
    const logged = proc.lines.filter((l) => l.json?.msg === 'request')
    expect(logged.map((l) => [l.json!.path, l.json!.status])).toEqual([['/definitely/missing', 404], ['/config/database', 200]])
  }, 30_000)
})
