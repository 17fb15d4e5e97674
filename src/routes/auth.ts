// /api/v1/auth: register, login, refresh, logout, me, password.
import { Hono, type Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { z } from 'zod'
import type { AppDeps, AppEnv } from '../app-env.ts'
import { auditEvent, logAudit, recordAudit } from '../auth/audit.ts'
import { clientIp } from '../auth/client-ip.ts'
import { callerStore, requireCaller } from '../auth/guard.ts'
import { newPasswordProblem, PASSWORD_MAX_BYTES, utf8Length, type PasswordService } from '../auth/password.ts'
import { LoginRateLimiter } from '../auth/rate-limit.ts'
import { RefreshGrace } from '../auth/refresh-grace.ts'
import { hashRefreshToken, looksLikeRefreshToken, newRefreshToken, signAccessToken } from '../auth/tokens.ts'
import { CALLER_UNAUTHORIZED, newId, type User } from '../db/store.ts'
import { AppError } from '../errors.ts'
import { fieldIssues, jsonBody, requireJson } from '../validation.ts'

// ---- fields shared with the admin routes ----

const wellFormed = (s: string) => s.isWellFormed() && !s.includes('\u0000')

/** Trimmed, lower-cased `local@domain` (no spaces or control characters), at most 254 characters. */
export const emailField = z
  .string()
  .trim()
  .toLowerCase()
  .min(3, 'must be an email address')
  .max(254, 'must be at most 254 characters')
  .regex(/^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u, 'must be an email address')
  .refine(wellFormed, 'must be valid unicode text')

/** A password being set: 8..72 UTF-8 bytes, no NUL. */
export const newPasswordField = z.string().superRefine((s, ctx) => {
  const problem = newPasswordProblem(s)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

/** A password being checked: anything bcrypt could have hashed. */
export const passwordField = z
  .string()
  .min(1, 'must not be empty')
  .refine((s) => utf8Length(s) <= PASSWORD_MAX_BYTES, `must be at most ${PASSWORD_MAX_BYTES} bytes (UTF-8)`)

export const nameField = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .refine(wellFormed, 'must be valid unicode text without NUL')
  .nullable()

export const roleField = z.enum(['admin', 'user'])

const refreshTokenField = z.string().refine(looksLikeRefreshToken, 'must be a refresh token as issued by login')

export const userJson = (u: User) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  disabled: u.disabled,
  created_at: u.createdAt,
  updated_at: u.updatedAt,
})

// ---- schemas ----

const registerBody = z.strictObject({ email: emailField, password: newPasswordField, name: nameField.optional() })
const loginBody = z.strictObject({ email: emailField, password: passwordField })
const refreshBody = z.strictObject({ refresh_token: refreshTokenField })
export const logoutBody = z.strictObject({ refresh_token: refreshTokenField.optional() })
const passwordBody = z.strictObject({ current_password: passwordField, new_password: newPasswordField })

const invalidCredentials = () => new AppError('invalid_credentials', 'email or password is incorrect')
const unauthorized = (message: string) => new AppError('unauthorized', message)

type TokenPair = Awaited<ReturnType<typeof tokenPair>>

/**
 * Per-app state, made on first use from the app's config: the login limiters — per client IP + email,
 * and a gentler one per account from every IP together, so rotating addresses cannot guess on — and
 * the refresh grace window.
 */
interface AuthState {
  limiter(deps: AppDeps): LoginRateLimiter
  accountLimiter(deps: AppDeps): LoginRateLimiter
  refreshGrace(deps: AppDeps): RefreshGrace<TokenPair>
}

function createAuthState(): AuthState {
  let limiter: LoginRateLimiter | null = null
  let accountLimiter: LoginRateLimiter | null = null
  let refreshGrace: RefreshGrace<TokenPair> | null = null
  return {
    limiter: (deps) =>
      (limiter ??= new LoginRateLimiter({
        maxFailures: deps.config.auth.loginMaxFailures,
        windowMs: deps.config.auth.loginWindowS * 1000,
      })),
    accountLimiter: (deps) =>
      (accountLimiter ??= new LoginRateLimiter({
        maxFailures: deps.config.auth.loginAccountMaxFailures,
        windowMs: deps.config.auth.loginWindowS * 1000,
      })),
    refreshGrace: (deps) => (refreshGrace ??= new RefreshGrace(deps.config.auth.refreshReuseGraceS * 1000)),
  }
}

/** A new refresh session and the token pair that goes with it (login and refresh answer alike). */
async function tokenPair(deps: AppDeps, user: User, sessionId: string, refreshToken: string) {
  const ttlS = deps.config.auth.accessTokenTtlS
  return {
    access_token: await signAccessToken({ userId: user.id, role: user.role, sessionId, ttlS }, deps.jwtSecret),
    refresh_token: refreshToken,
    token_type: 'Bearer' as const,
    expires_in: ttlS,
    user: { id: user.id, email: user.email, name: user.name, role: user.role },
  }
}

const newSession = (deps: AppDeps, userId: string) => {
  const token = newRefreshToken()
  const session = {
    id: newId(),
    userId,
    tokenHash: hashRefreshToken(token),
    expiresAt: new Date(Date.now() + deps.config.auth.refreshTokenTtlS * 1000).toISOString(),
  }
  return { token, session }
}

function rateLimited(retryAfterS: number): AppError {
  return new AppError('rate_limited', `too many failed attempts; try again in ${retryAfterS} s`, { retry_after_s: retryAfterS }, {
    'Retry-After': String(retryAfterS),
  })
}

/** Logout's body is optional: no body at all means "this session". */
async function optionalLogoutBody(c: Context<AppEnv>): Promise<z.infer<typeof logoutBody>> {
  const text = await c.req.text()
  if (text.trim() === '') return {}
  await requireJson(c, async () => {})
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new AppError('validation_error', 'body: malformed JSON', [{ field: '(body)', message: 'malformed JSON' }])
  }
  const parsed = logoutBody.safeParse(raw)
  if (!parsed.success) {
    const issues = fieldIssues(parsed.error)
    throw new AppError('validation_error', `body field '${issues[0]!.field}': ${issues[0]!.message}`, issues)
  }
  return parsed.data
}

/** Rotates the refresh session of `tokenHash` and answers with the new pair (see POST /refresh). */
async function rotateRefresh(deps: AppDeps, tokenHash: string, ip: string): Promise<TokenPair> {
  const { store } = deps
  // the session and its user in one statement
  const found = await store.sessions.getWithUser(tokenHash)
  if (!found) throw unauthorized('the refresh token is invalid')
  const { session: presented, user } = found
  const graceMs = deps.config.auth.refreshReuseGraceS * 1000

  const reuse = async () => {
    // A rotated token came back: someone holds a copy. End every session of the user.
    const event = auditEvent({ action: 'auth.refresh_reuse', targetId: presented.userId, ip, details: { session_id: presented.id } })
    const revoked = await store.sessions.revokeAllForUser(presented.userId, undefined, event)
    logAudit(deps.logger, { ...event, details: { ...event.details, sessions_revoked: revoked } })
    return unauthorized('the refresh token was already used; every session of this account has been ended')
  }
  // Rotated moments ago by a request this process did not answer (another instance, or a restart):
  // a double-send, not a theft, within the grace window. Refused, but the sessions are left alone.
  const justRotated = (revokedAt: string | null) => graceMs > 0 && revokedAt !== null && Date.parse(revokedAt) > Date.now() - graceMs
  const rotatedElsewhere = () =>
    unauthorized('the refresh token was rotated moments ago by another request; use the tokens that request received')

  if (presented.revokedAt) {
    if (!presented.replacedBy) throw unauthorized('the refresh token has been revoked')
    throw justRotated(presented.revokedAt) ? rotatedElsewhere() : await reuse()
  }
  if (Date.parse(presented.expiresAt) <= Date.now()) {
    await store.sessions.revoke(presented.id)
    throw unauthorized('the refresh token has expired')
  }
  if (!user || user.disabled) {
    await store.sessions.revoke(presented.id)
    throw unauthorized('the account is disabled or no longer exists')
  }
  const { token, session } = newSession(deps, user.id)
  // rotate() returns null when a concurrent request rotated this token first.
  if (!(await store.sessions.rotate(presented.id, session))) {
    const now = await store.sessions.getByTokenHash(tokenHash)
    throw justRotated(now?.revokedAt ?? null) ? rotatedElsewhere() : await reuse()
  }
  return tokenPair(deps, user, session.id, token)
}

/** `passwords`: the app's one password service (its dummy hash keeps unknown-email logins as slow as others). */
export function authRoutes(passwords: PasswordService): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const state = createAuthState()

  const registrationOpen = createMiddleware<AppEnv>(async (c, next) => {
    if (!c.get('deps').config.auth.allowRegistration) throw new AppError('forbidden', 'registration is disabled; ask an administrator for an account')
    await next()
  })

  app.post('/register', registrationOpen, ...jsonBody(registerBody), async (c) => {
    const deps = c.get('deps')
    const body = c.req.valid('json')
    if (await deps.store.users.getByEmail(body.email)) throw new AppError('conflict', 'this email is already registered')
    const user = await deps.store.users.create({
      id: newId(),
      email: body.email,
      name: body.name ?? null,
      role: 'user',
      passwordHash: await passwords.hash(body.password),
    })
    await recordAudit(deps, { action: 'auth.register', actorId: user.id, targetId: user.id, ip: clientIp(c, deps.config.auth) })
    return c.json({ user: userJson(user) }, 201)
  })

  app.post('/login', ...jsonBody(loginBody), async (c) => {
    const deps = c.get('deps')
    const { email, password } = c.req.valid('json')
    const ip = clientIp(c, deps.config.auth)
    const limiter = state.limiter(deps)
    const accountLimiter = state.accountLimiter(deps)
    const key = LoginRateLimiter.key(ip, email)
    const wait = Math.max(limiter.retryAfterS(key), accountLimiter.retryAfterS(email))
    if (wait > 0) throw rateLimited(wait)
    // Counted as a failure before bcrypt runs, so a burst of parallel guesses gets no more tries than
    // a sequence of them; a success clears the count.
    const lockedOut = limiter.fail(key)
    const accountLockedOut = accountLimiter.fail(email)

    const user = await deps.store.users.getByEmail(email)
    // Unknown emails cost one bcrypt check too, so response time does not reveal which emails exist.
    const matches = user ? await passwords.verify(password, user.passwordHash) : await passwords.verifyUnknown(password)
    if (!user || !matches || user.disabled) {
      const reason = !user ? 'unknown_email' : !matches ? 'wrong_password' : 'disabled'
      await recordAudit(deps, {
        action: 'auth.login_failed',
        targetId: user?.id ?? null,
        ip,
        details: {
          email,
          reason,
          ...(lockedOut ? { locked_out: true } : {}),
          ...(accountLockedOut ? { account_locked_out: true } : {}),
        },
      })
      throw invalidCredentials()
    }
    // The address's count is cleared; of the account's budget only this attempt is taken back: it runs
    // out with its window, so a guesser rotating addresses gains nothing from the owner signing in.
    limiter.reset(key)
    accountLimiter.undo(email)
    const { token, session } = newSession(deps, user.id)
    // the audit row rides along with the session: one statement
    const login = auditEvent({ action: 'auth.login', actorId: user.id, targetId: user.id, ip, details: { session_id: session.id } })
    await deps.store.sessions.create(session, login)
    logAudit(deps.logger, login)
    c.header('Cache-Control', 'no-store')
    return c.json(await tokenPair(deps, user, session.id, token))
  })

  app.post('/refresh', ...jsonBody(refreshBody), async (c) => {
    const deps = c.get('deps')
    const tokenHash = hashRefreshToken(c.req.valid('json').refresh_token)
    const ip = clientIp(c, deps.config.auth)
    // The same token sent twice at once (or again within REFRESH_REUSE_GRACE) gets the same new pair.
    const pair = await state.refreshGrace(deps).answer(tokenHash, () => rotateRefresh(deps, tokenHash, ip))
    c.header('Cache-Control', 'no-store')
    return c.json(pair)
  })

  app.post('/logout', requireCaller, async (c) => {
    const deps = c.get('deps')
    const { userId, sessionId } = c.get('caller')
    const body = await optionalLogoutBody(c)
    // The caller's session, the body's refresh session when it is the caller's own (another user's
    // token is ignored, not revoked), and the audit row: one statement.
    const loggedOut = auditEvent({ action: 'auth.logout', actorId: userId, targetId: userId, ip: clientIp(c, deps.config.auth) })
    const ended = await callerStore(c).sessions.endSessions(userId, sessionId, body.refresh_token ? hashRefreshToken(body.refresh_token) : null, loggedOut)
    logAudit(deps.logger, { ...loggedOut, details: { session_ids: ended } })
    return c.body(null, 204)
  })

  app.get('/me', requireCaller, async (c) => {
    const { userId, sessionId } = c.get('caller')
    // the account check and the read in one statement
    const found = await c.get('deps').store.users.getForSession(userId, sessionId)
    if (!found) throw unauthorized(CALLER_UNAUTHORIZED)
    return c.json({ user: userJson(found.user) })
  })

  app.post('/password', requireCaller, ...jsonBody(passwordBody), async (c) => {
    const deps = c.get('deps')
    const { current_password, new_password } = c.req.valid('json')
    const ip = clientIp(c, deps.config.auth)
    const { userId, sessionId } = c.get('caller')
    const found = await deps.store.users.getForSession(userId, sessionId)
    if (!found) throw unauthorized(CALLER_UNAUTHORIZED)
    const { user } = found
    // A stolen access token must not become a way to guess the password: same limiter as login.
    const limiter = state.limiter(deps)
    const key = LoginRateLimiter.key(ip, user.email)
    const wait = limiter.retryAfterS(key)
    if (wait > 0) throw rateLimited(wait)
    limiter.fail(key)
    if (!(await passwords.verify(current_password, user.passwordHash))) {
      await recordAudit(deps, { action: 'auth.login_failed', actorId: user.id, targetId: user.id, ip, details: { email: user.email, reason: 'wrong_current_password' } })
      throw new AppError('invalid_credentials', 'the current password is incorrect', [{ field: 'current_password', message: 'is incorrect' }])
    }
    limiter.reset(key)
    await deps.store.users.setPassword(user.id, await passwords.hash(new_password))
    // the other sessions end, and the audit row rides along with that statement
    const changed = auditEvent({ action: 'auth.password_changed', actorId: user.id, targetId: user.id, ip })
    const revoked = await deps.store.sessions.revokeAllForUser(user.id, found.sessionId, changed)
    logAudit(deps.logger, { ...changed, details: { sessions_revoked: revoked } })
    return c.body(null, 204)
  })

  return app
}
