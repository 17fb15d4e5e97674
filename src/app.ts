// createApp(deps): the Hono app — shared middleware, the error frame, and the route modules.
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { requestId } from 'hono/request-id'
import type { AppDeps, AppEnv } from './app-env.ts'
import { AppError, errorBody, type ErrorCode } from './errors.ts'
import { authRoutes } from './routes/auth.ts'
import { notesRoutes } from './routes/notes.ts'
import { adminUsersRoutes } from './routes/admin-users.ts'
import { healthRoutes } from './routes/health.ts'
import { configRoutes } from './routes/config.ts'
import { fallbackAdminRoutes } from './routes/fallback-admin.ts'
import { isStoreError } from './db/store.ts'

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.use(requestId())
  app.use(async (c, next) => {
    c.set('deps', deps)
    await next()
  })

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
      return c.json(errorBody(code, err.message || code, id), code === 'validation_error' ? 400 : err.status as 401 | 413)
    }
    if (isStoreError(err, 'not_found')) return c.json(errorBody('not_found', err.message, id), 404)
    if (isStoreError(err, 'conflict')) return c.json(errorBody('conflict', err.message, id), 409)
    if (isStoreError(err, 'unavailable')) return c.json(errorBody('unavailable', 'the database is unavailable; try again shortly', id), 503)
    deps.logger.error({ err: { name: err.name, message: err.message }, request_id: id }, 'unhandled error')
    return c.json(errorBody('internal', 'internal error', id), 500)
  })

  return app
}
