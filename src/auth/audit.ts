// One audit event: appended to the store (GET /api/v1/admin/audit) and written to the log.
// Details never hold passwords, hashes or tokens; callers pass only what an operator may read.
import type { Logger } from 'pino'
import { newId, type AuditEvent, type Store } from '../db/store.ts'

export type AuditAction =
  | 'auth.login'
  | 'auth.login_failed'
  | 'auth.logout'
  | 'auth.refresh_reuse'
  | 'auth.password_changed'
  | 'auth.register'
  | 'admin.user_created'
  | 'admin.user_updated'
  | 'admin.user_disabled'
  | 'seed.account_created'
  | 'seed.password_reset'

export interface AuditInput {
  action: AuditAction
  actorId?: string | null
  targetId?: string | null
  ip?: string | null
  details?: Record<string, unknown> | null
}

const WARN_ACTIONS: ReadonlySet<AuditAction> = new Set(['auth.login_failed', 'auth.refresh_reuse'])

export async function recordAudit(deps: { store: Store; logger: Logger }, input: AuditInput): Promise<AuditEvent> {
  const event = await deps.store.audit.append({
    id: newId(),
    action: input.action,
    actorId: input.actorId ?? null,
    targetId: input.targetId ?? null,
    ip: input.ip ?? null,
    details: input.details ?? null,
  })
  const line = { audit: event.action, audit_id: event.id, actor_id: event.actorId, target_id: event.targetId, ip: event.ip, details: event.details }
  if (WARN_ACTIONS.has(input.action)) deps.logger.warn(line, `audit ${event.action}`)
  else deps.logger.info(line, `audit ${event.action}`)
  return event
}
