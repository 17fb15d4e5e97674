// /api/v1/admin: user management and the audit trail, for admins only.
import { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../app-env.ts'
import { auditEvent, logAudit, recordAudit } from '../auth/audit.ts'
import { clientIp } from '../auth/client-ip.ts'
import { callerRole, callerStore, requireAuth, requireCaller, requireRole } from '../auth/guard.ts'
import type { PasswordService } from '../auth/password.ts'
import { isStoreError, newId, type AccountWrite, type AuditEvent, type UserPatch } from '../db/store.ts'
import { AppError } from '../errors.ts'
import { jsonBody, pageCursor, pageLimit, params, query, uuidField } from '../validation.ts'
import { emailField, nameField, newPasswordField, roleField, userJson } from './auth.ts'

const createBody = z.strictObject({ email: emailField, password: newPasswordField, name: nameField.optional(), role: roleField.optional() })
const patchBody = z
  .strictObject({ name: nameField.optional(), role: roleField.optional(), password: newPasswordField.optional(), disabled: z.boolean().optional() })
  .refine((p) => Object.values(p).some((v) => v !== undefined), 'give at least one of name, role, password, disabled')
const idParam = z.strictObject({ id: uuidField('must be a user id (UUID)') })
const pageQuery = z.strictObject({ limit: pageLimit, cursor: pageCursor })

const auditJson = (e: AuditEvent) => ({
  id: e.id,
  at: e.at,
  action: e.action,
  actor_id: e.actorId,
  target_id: e.targetId,
  ip: e.ip,
  details: e.details,
})

const userNotFound = () => new AppError('not_found', 'user not found')

export function adminUsersRoutes(passwords: PasswordService): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  // The admin is checked in the statement of the route itself (Store.as: one round trip); creating a
  // user, which takes an email lookup, a bcrypt hash and an insert anyway, looks the admin up first.
  const asAdmin = [requireCaller, callerRole('admin')] as const
  const adminFirst = [requireAuth, requireRole('admin')] as const

  app.get('/users', ...asAdmin, query(pageQuery), async (c) => {
    const { limit, cursor } = c.req.valid('query')
    const page = await callerStore(c).users.list({ limit, cursor: cursor ?? null })
    return c.json({ items: page.items.map(userJson), next_cursor: page.nextCursor })
  })

  app.post('/users', ...adminFirst, ...jsonBody(createBody), async (c) => {
    const deps = c.get('deps')
    const body = c.req.valid('json')
    if (await deps.store.users.getByEmail(body.email)) throw new AppError('conflict', 'a user with this email exists')
    const user = await deps.store.users.create({
      id: newId(),
      email: body.email,
      name: body.name ?? null,
      role: body.role ?? 'user',
      passwordHash: await passwords.hash(body.password),
    })
    await recordAudit(deps, {
      action: 'admin.user_created',
      actorId: c.get('user').id,
      targetId: user.id,
      ip: clientIp(c, deps.config.auth),
      details: { email: user.email, role: user.role },
    })
    return c.json({ user: userJson(user) }, 201)
  })

  app.get('/users/:id', ...asAdmin, params(idParam), async (c) => {
    const user = await callerStore(c).users.getById(c.req.valid('param').id)
    if (!user) throw userNotFound()
    return c.json({ user: userJson(user) })
  })

  app.patch('/users/:id', ...asAdmin, params(idParam), ...jsonBody(patchBody), async (c) => {
    const deps = c.get('deps')
    const { id } = c.req.valid('param')
    const body = c.req.valid('json')
    const actor = c.get('caller')
    // An admin cannot lock themselves out; another admin (or SEED_RESET_PASSWORDS) can.
    if (id === actor.userId && (body.disabled === true || body.role === 'user')) {
      throw new AppError('conflict', 'you cannot disable or demote your own account')
    }
    const passwordHash = body.password === undefined ? null : await passwords.hash(body.password)
    const patch: UserPatch = {}
    if (body.name !== undefined) patch.name = body.name
    if (body.role !== undefined) patch.role = body.role
    if (body.disabled !== undefined) patch.disabled = body.disabled
    const ip = clientIp(c, deps.config.auth)
    const changed = Object.keys(body).filter((k) => body[k as keyof typeof body] !== undefined)
    const audit = {
      disabled: auditEvent({ action: 'admin.user_disabled', actorId: actor.userId, targetId: id, ip }),
      updated: auditEvent({ action: 'admin.user_updated', actorId: actor.userId, targetId: id, ip, details: { fields: changed, ...(patch.role ? { role: patch.role } : {}) } }),
    }
    // The admin check, the change, the sessions it ends (a new password or a disabled account ends
    // them all, but the one of an admin changing their own password) and the audit rows: one statement.
    let written: AccountWrite
    try {
      written = await callerStore(c).users.changeAccount(
        id,
        { patch, passwordHash, endSessions: Boolean(passwordHash || patch.disabled), keepSessionId: id === actor.userId ? actor.sessionId : null },
        audit,
      )
    } catch (e) {
      throw isStoreError(e, 'not_found') ? userNotFound() : e
    }
    for (const event of written.audit) logAudit(deps.logger, event)
    return c.json({ user: userJson(written.user) })
  })

  /** Disables (never erases): the account's notes and audit trail stay, and it can be re-enabled. */
  app.delete('/users/:id', ...asAdmin, params(idParam), async (c) => {
    const deps = c.get('deps')
    const { id } = c.req.valid('param')
    const actor = c.get('caller')
    if (id === actor.userId) throw new AppError('conflict', 'you cannot disable your own account')
    const disabled = auditEvent({ action: 'admin.user_disabled', actorId: actor.userId, targetId: id, ip: clientIp(c, deps.config.auth) })
    let written: AccountWrite
    try {
      written = await callerStore(c).users.disableAccount(id, disabled)
    } catch (e) {
      throw isStoreError(e, 'not_found') ? userNotFound() : e
    }
    for (const event of written.audit) logAudit(deps.logger, event)
    return c.body(null, 204)
  })

  app.get('/audit', ...asAdmin, query(pageQuery), async (c) => {
    const { limit, cursor } = c.req.valid('query')
    const page = await callerStore(c).audit.list({ limit, cursor: cursor ?? null })
    return c.json({ items: page.items.map(auditJson), next_cursor: page.nextCursor })
  })

  return app
}
