// createApp(deps): the Hono app — shared middleware, the error frame, and the route modules.
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { HTTPException } from 'hono/http-exception'
import type { AppDeps, AppEnv } from './app-env.ts'
import { AppError, errorBody, type ErrorCode } from './errors.ts'
import { authRoutes } from './routes/auth.ts'
import { NOTES } from './routes/notes.ts'
import { ownedRoutes } from './routes/owned-routes.ts'
import { adminUsersRoutes } from './routes/admin-users.ts'
import { healthFastRoute, healthRoutes } from './routes/health.ts'
import { configRoutes } from './routes/config.ts'
import { fallbackAdminRoutes } from './routes/fallback-admin.ts'
import { apiDocsRoutes } from './routes/api-docs.ts'
import { pageAssetRoutes } from './routes/page-assets.ts'
import { statusPageRoutes } from './routes/status-page.ts'
import { replicaAck } from './routes/replica-ack.ts'
import { isStoreError } from './db/store.ts'
import { storeErrorToAppError } from './store-errors.ts'
import { createAccessTokenVerifier } from './auth/tokens.ts'
import { createPasswordService } from './auth/password.ts'
import { isPage, isProbe, logRequest, PAGE_SECURITY_HEADERS, PROBE_SECURITY_HEADERS, requestIds, SECURITY_HEADERS } from './http-frame.ts'

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  // The frame first: the request id and the headers are in place before anything can fail, so
  // every response carries them, errors included (onError answers inside this middleware's next()).
  const nextRequestId = requestIds()
  const verifyAccessToken = createAccessTokenVerifier(deps.jwtSecret)
  const passwords = createPasswordService(deps.config.auth.bcryptCost)
  app.use(async (c, next) => {
    const startedAt = performance.now()
    const id = nextRequestId(c.req.raw.headers.get('X-Request-Id'))
    c.set('requestId', id)
    c.set('deps', deps)
    c.set('verifyAccessToken', verifyAccessToken)
    const securityHeaders = isProbe(c.req.path) ? PROBE_SECURITY_HEADERS : isPage(c.req.path) ? PAGE_SECURITY_HEADERS : SECURITY_HEADERS
    for (const name in securityHeaders) c.header(name, securityHeaders[name])
    c.header('X-Request-Id', id)
    await next()
    logRequest(deps.logger, startedAt, { method: c.req.method, path: c.req.path, status: c.res.status, request_id: id })
  })
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

  if (deps.replica && deps.config.replica?.sync) app.use(replicaAck())

  app.route('/health', healthRoutes())
  app.route('/config', configRoutes())
  app.route('/api/v1/auth', authRoutes(passwords))
  app.route('/api/v1/notes', ownedRoutes(NOTES))
  app.route('/api/v1/admin', adminUsersRoutes(passwords))
  app.route('/api/v1/sqlite-fallback', fallbackAdminRoutes())
  app.route('/', statusPageRoutes())
  app.route('/assets', pageAssetRoutes())
  app.route('/', apiDocsRoutes(() => app, deps.config.version))

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
    if (isStoreError(err)) {
      const answer = storeErrorToAppError(err)
      return c.json(errorBody(answer.code, answer.message, id), answer.status, answer.headers)
    }
    // Not under `err`: pino's error serializer would add a stack. Name and message are enough to
    // find the cause; the logger masks secrets and connection strings in them.
    deps.logger.error({ error: { name: err.name, message: err.message }, request_id: id }, 'unhandled error')
    return c.json(errorBody('internal', 'internal error', id), 500)
  })

  return app
}

/**
 * What Bun's router answers before Hono sees the request (`Bun.serve({ routes, fetch: app.fetch })`):
 * GET /health, the one route polled all day. With CORS configured, Hono answers it too (see
 * healthFastRoute).
 */
export function serverRoutes(
  deps: AppDeps,
  app: { fetch: (req: Request) => Response | Promise<Response> },
): Record<string, { GET: (req: Request) => Response | Promise<Response> }> {
  if (deps.config.corsOrigins.length > 0) return {}
  return { '/health': { GET: healthFastRoute(deps, app) } }
}
