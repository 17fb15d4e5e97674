// One audit event: appended to the store (GET /api/v1/admin/audit) and written to the log.
// Details never hold passwords, hashes or tokens; callers pass only what an operator may read.
import type { Logger } from 'pino'
import { newId, type AuditEvent, type NewAuditEvent, type Store } from '../db/store.ts'

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

const WARN_ACTIONS: ReadonlySet<string> = new Set<AuditAction>(['auth.login_failed', 'auth.refresh_reuse'])

/** The event to append for `input`, with its id. */
export function auditEvent(input: AuditInput): NewAuditEvent & { action: AuditAction } {
  return {
    id: newId(),
    action: input.action,
    actorId: input.actorId ?? null,
    targetId: input.targetId ?? null,
    ip: input.ip ?? null,
    details: input.details ?? null,
  }
}

/** The log line of an audit event the store has appended (with the write it describes, or alone). */
export function logAudit(logger: Logger, event: NewAuditEvent): void {
  const line = { audit: event.action, audit_id: event.id, actor_id: event.actorId, target_id: event.targetId, ip: event.ip, details: event.details }
  if (WARN_ACTIONS.has(event.action)) logger.warn(line, `audit ${event.action}`)
  else logger.info(line, `audit ${event.action}`)
}

export async function recordAudit(deps: { store: Store; logger: Logger }, input: AuditInput): Promise<AuditEvent> {
  const event = await deps.store.audit.append(auditEvent(input))
  logAudit(deps.logger, { ...event, action: input.action })
  return event
}
