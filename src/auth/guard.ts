// Bearer-token middleware. The token proves who signed in; the store decides who they are now:
// a user disabled, deleted or re-roled since the token was issued is seen as they stand today, and a
// token whose session was ended (logout, password change, admin reset, refresh-token reuse,
// SEED_RESET_PASSWORDS) or expired is refused at once, on every instance. Both checks are one
// statement (users.getForSession): no round trip beyond the account check.
import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../app-env.ts'
import type { Role } from '../db/store.ts'
import { AppError } from '../errors.ts'
import { guards } from '../openapi/route-meta.ts'

const BEARER = /^Bearer[ \t]+([A-Za-z0-9_\-.]+)[ \t]*$/i

type Authenticated = { ok: true } | { ok: false; message: string }

async function authenticate(c: Context<AppEnv>): Promise<Authenticated> {
  const header = c.req.header('Authorization')
  if (!header) return { ok: false, message: 'a bearer token is required' }
  const token = BEARER.exec(header)?.[1]
  if (!token) return { ok: false, message: 'the Authorization header must be "Bearer <token>"' }
  const claims = await c.get('verifyAccessToken')(token)
  const { store } = c.get('deps')
  if (claims === 'expired') return { ok: false, message: 'the access token has expired' }
  if (claims === 'invalid') return { ok: false, message: 'the access token is invalid' }
  const found = await store.users.getForSession(claims.sub, claims.sid)
  if (!found) return { ok: false, message: 'the session has ended (signed out, password changed or revoked), or the account is disabled or no longer exists' }
  const { user } = found
  c.set('user', { id: user.id, email: user.email, name: user.name, role: user.role })
  c.set('sessionId', found.sessionId)
  return { ok: true }
}

/** 401 unless a valid bearer token of a live, enabled user comes with the request. */
export const requireAuth = guards(
  createMiddleware<AppEnv>(async (c, next) => {
    const result = await authenticate(c)
    if (!result.ok) throw new AppError('unauthorized', result.message, undefined, { 'WWW-Authenticate': 'Bearer' })
    await next()
  }),
  'bearer',
)

/** Sets c.get('user') when a valid bearer token is present; otherwise the request goes on anonymously. */
export const optionalAuth = guards(
  createMiddleware<AppEnv>(async (c, next) => {
    try {
      await authenticate(c)
    } catch (e) {
      // Public routes (health, config) must answer even when the user lookup cannot: serve them anonymously.
      c.get('deps').logger.debug({ err: { name: (e as Error).name, message: (e as Error).message } }, 'optional auth skipped')
    }
    await next()
  }),
  'optional-bearer',
)

/** After requireAuth: 403 unless the user has `role`. */
export const requireRole = (role: Role) =>
  guards(
    createMiddleware<AppEnv>(async (c, next) => {
      const user = c.get('user') as AppEnv['Variables']['user'] | undefined
      if (!user) throw new AppError('unauthorized', 'a bearer token is required', undefined, { 'WWW-Authenticate': 'Bearer' })
      if (user.role !== role) throw new AppError('forbidden', `this route requires the ${role} role`)
      await next()
    }),
    { role },
  )
