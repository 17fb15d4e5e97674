// createApp(deps): the Hono app — shared middleware, the error frame, and the route modules.
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { HTTPException } from 'hono/http-exception'
import { requestId } from 'hono/request-id'
import { secureHeaders } from 'hono/secure-headers'
import type { AppDeps, AppEnv } from './app-env.ts'
import { AppError, errorBody, type ErrorCode } from './errors.ts'
import { authRoutes } from './routes/auth.ts'
import { notesRoutes } from './routes/notes.ts'
import { adminUsersRoutes } from './routes/admin-users.ts'
import { healthRoutes } from './routes/health.ts'
import { configRoutes } from './routes/config.ts'
import { fallbackAdminRoutes } from './routes/fallback-admin.ts'
import { isStoreError } from './db/store.ts'
import { createAccessTokenVerifier } from './auth/tokens.ts'

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  // requestId first: its header is set before anything can fail, so every response carries it.
  // A random per-process prefix and a counter: unique, and far cheaper than a UUID per request.
  const idPrefix = crypto.randomUUID().slice(0, 8)
  let requestCount = 0
  app.use(requestId({ generator: () => `${idPrefix}-${(++requestCount).toString(36)}` }))
  const verifyAccessToken = createAccessTokenVerifier(deps.jwtSecret)
  app.use(async (c, next) => {
    c.set('deps', deps)
    c.set('verifyAccessToken', verifyAccessToken)
    await next()
  })
  // One line per request, written after the response is known. Never bodies, never headers
  // (Authorization), never the query string (tokens end up there).
  app.use(async (c, next) => {
    const start = performance.now()
    await next()
    const status = c.res.status
    const record = {
      method: c.req.method,
      path: c.req.path,
      status,
      ms: Math.round((performance.now() - start) * 10) / 10,
      request_id: c.get('requestId'),
    }
    if (status >= 500) deps.logger.error(record, 'request')
    else deps.logger.info(record, 'request')
  })
  // The headers that matter for a JSON API; the HTML-page ones (XSS filter, download options, DNS
  // prefetch, cross-domain policies, origin-agent-cluster) protect nothing here and cost every response.
  app.use(
    secureHeaders({
      xXssProtection: false,
      xDownloadOptions: false,
      xDnsPrefetchControl: false,
      xPermittedCrossDomainPolicies: false,
      originAgentCluster: false,
      crossOriginOpenerPolicy: false,
    }),
  )
  if (deps.config.corsOrigins.length > 0) {
    app.use(
      cors({
        origin: deps.config.corsOrigins.includes('*') ? '*' : deps.config.corsOrigins,
        allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
        exposeHeaders: ['X-Request-Id', 'Retry-After'],
        maxAge: 600,
      }),
    )
  }
  const limitBody = bodyLimit({
    maxSize: deps.config.bodyLimitBytes,
    onError: (c) =>
      c.json(errorBody('payload_too_large', `request body exceeds ${deps.config.bodyLimitBytes} bytes`, c.get('requestId')), 413),
  })
  // GET and HEAD carry no body we read; asking for one makes Bun build a stream for every request.
  app.use((c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : limitBody(c, next)))

  app.route('/health', healthRoutes())
  app.route('/config', configRoutes())
  app.route('/api/v1/auth', authRoutes())
  app.route('/api/v1/notes', notesRoutes())
  app.route('/api/v1/admin', adminUsersRoutes())
  app.route('/api/v1/sqlite-fallback', fallbackAdminRoutes())

  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`, c.get('requestId')), 404))

  app.onError((err, c) => {
    const id = c.get('requestId')
    if (err instanceof AppError) {
      return c.json(errorBody(err.code, err.message, id, err.details), err.status, err.headers)
    }
    if (err instanceof HTTPException) {
      const code: ErrorCode = err.status === 413 ? 'payload_too_large' : err.status === 401 ? 'unauthorized' : 'validation_error'
      if (code !== 'validation_error') return c.json(errorBody(code, err.message || code, id), err.status as 401 | 413)
      // Hono's validator throws this for a body that is not JSON at all: the field is the body.
      const message = err.message || 'invalid request'
      return c.json(errorBody(code, `body: ${message}`, id, [{ field: '(body)', message }]), 400)
    }
    if (isStoreError(err, 'not_found')) return c.json(errorBody('not_found', err.message, id), 404)
    if (isStoreError(err, 'conflict')) return c.json(errorBody('conflict', err.message, id), 409)
    // Store messages are written to be shown: a reason, never SQL, values or secrets.
    if (isStoreError(err, 'unavailable')) return c.json(errorBody('unavailable', `the database is unavailable: ${err.message}`, id), 503)
    // Not under `err`: pino's error serializer would add a stack. Name and message are enough to
    // find the cause; the logger masks secrets and connection strings in them.
    deps.logger.error({ error: { name: err.name, message: err.message }, request_id: id }, 'unhandled error')
    return c.json(errorBody('internal', 'internal error', id), 500)
  })

  return app
}
