// Bearer-token middleware. The token proves who signed in; the store decides who they are now:
// a user disabled, deleted or re-roled since the token was issued is seen as they stand today, and a
// token whose session was ended (logout, password change, admin reset, refresh-token reuse,
// SEED_RESET_PASSWORDS) or expired is refused at once, on every instance. requireAuth looks the
// account up first (users.getForSession, one statement); requireCaller leaves that check to the
// statements of the route itself (callerStore), so a request costs one round trip in all.
import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../app-env.ts'
import { CALLER_UNAUTHORIZED, type Caller, type Role, type Store } from '../db/store.ts'
import { AppError } from '../errors.ts'
import { guards } from '../openapi/route-meta.ts'

const BEARER = /^Bearer[ \t]+([A-Za-z0-9_\-.]+)[ \t]*$/i

type Authenticated = { ok: true } | { ok: false; message: string }
type Claimed = { ok: true; caller: Caller; role: Role } | { ok: false; message: string }

/** The bearer token's claims, verified (no database): who the request says it acts as. */
async function claimsOf(c: Context<AppEnv>): Promise<Claimed> {
  const header = c.req.header('Authorization')
  if (!header) return { ok: false, message: 'a bearer token is required' }
  const token = BEARER.exec(header)?.[1]
  if (!token) return { ok: false, message: 'the Authorization header must be "Bearer <token>"' }
  const claims = await c.get('verifyAccessToken')(token)
  if (claims === 'expired') return { ok: false, message: 'the access token has expired' }
  if (claims === 'invalid') return { ok: false, message: 'the access token is invalid' }
  return { ok: true, caller: { userId: claims.sub, sessionId: claims.sid }, role: claims.role }
}

async function authenticate(c: Context<AppEnv>): Promise<Authenticated> {
  const claimed = await claimsOf(c)
  if (!claimed.ok) return claimed
  const { store } = c.get('deps')
  const found = await store.users.getForSession(claimed.caller.userId, claimed.caller.sessionId)
  if (!found) return { ok: false, message: CALLER_UNAUTHORIZED }
  const { user } = found
  c.set('caller', claimed.caller)
  c.set('user', { id: user.id, email: user.email, name: user.name, role: user.role })
  c.set('sessionId', found.sessionId)
  return { ok: true }
}

const unauthorized = (message: string) => new AppError('unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer' })

/**
 * 401 unless a valid bearer token comes with the request. The account is not looked up here: the
 * route reaches the store through callerStore(c), whose every statement checks it (Store.as), so the
 * check costs no round trip of its own — and a write never runs for a user disabled at that moment.
 */
export const requireCaller = guards(
  createMiddleware<AppEnv>(async (c, next) => {
    const claimed = await claimsOf(c)
    if (!claimed.ok) throw unauthorized(claimed.message)
    c.set('caller', claimed.caller)
    c.set('claimedRole', claimed.role)
    await next()
  }),
  'bearer',
)

/**
 * After requireCaller: the store must also find the caller in `role`, else 403. A token issued for
 * another role is looked up at once (the role may have changed since), so that a caller without the
 * role hears 403 before anything about the request's body; a token of that role costs nothing here.
 */
export const callerRole = (role: Role) =>
  guards(
    createMiddleware<AppEnv>(async (c, next) => {
      const caller = c.get('caller')
      if (c.get('claimedRole') !== role) {
        const found = await c.get('deps').store.users.getForSession(caller.userId, caller.sessionId)
        if (!found) throw unauthorized(CALLER_UNAUTHORIZED)
        if (found.user.role !== role) throw new AppError('forbidden', `this route requires the ${role} role`)
      }
      c.set('caller', { ...caller, role })
      await next()
    }),
    { role },
  )

/** The store acting for the request's caller (after requireCaller). */
export const callerStore = (c: Context<AppEnv>): Store => c.get('deps').store.as(c.get('caller'))

/** 401 unless a valid bearer token of a live, enabled user comes with the request. */
export const requireAuth = guards(
  createMiddleware<AppEnv>(async (c, next) => {
    const result = await authenticate(c)
    if (!result.ok) throw unauthorized(result.message)
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
      if (!user) throw unauthorized('a bearer token is required')
      if (user.role !== role) throw new AppError('forbidden', `this route requires the ${role} role`)
      await next()
    }),
    { role },
  )
