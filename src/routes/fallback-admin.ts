// /api/v1/sqlite-fallback/*: see and steer the failover by hand. Admins only.
import { Hono, type Context } from 'hono'
import type { AppEnv } from '../app-env.ts'
import { requireAuth, requireRole } from '../auth/guard.ts'
import { isStoreError, newId, type StoreError } from '../db/store.ts'
import { AppError } from '../errors.ts'
import { primaryErrorToAppError, storeErrorToAppError } from '../store-errors.ts'
import { replicaAdminRoutes } from './replica-admin.ts'

/**
 * Runs an admin action on the databases: a StoreError answers with a deliberate status, never 500.
 * Actions on PostgreSQL map with primaryErrorToAppError (its refusals are 503 with the reason).
 */
async function acting<T>(action: () => Promise<T>, map: (err: StoreError) => AppError = primaryErrorToAppError): Promise<T> {
  try {
    return await action()
  } catch (err) {
    throw isStoreError(err) ? map(err) : err
  }
}

export function fallbackAdminRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.use(requireAuth, requireRole('admin'))

  app.get('/status', async (c) => {
    const s = c.get('deps').db.status()
    // The same list GET /conflicts shows: PostgreSQL's (every instance's) when it answers.
    const conflicts = await acting(() => c.get('deps').db.conflicts())
    return c.json({
      mode: s.mode,
      database_type: s.activeKind,
      fallback_active: s.fallbackActive,
      pinned_to_fallback: s.pinnedToFallback,
      primary: { configured: s.primary.configured, status: s.primary.status, last_error: s.primary.lastError, last_probe_at: s.primary.lastProbeAt },
      fallback: { ok: s.fallback.ok, persistent: s.fallback.persistent, journal_mode: s.fallback.journalMode },
      outbox_pending: s.outboxPending,
      last_failover_at: s.lastFailoverAt,
      last_recovery_at: s.lastRecoveryAt,
      open_conflicts: conflicts.length,
    })
  })

  app.post('/test', async (c) => c.json(await acting(() => c.get('deps').db.test())))

  app.post('/switch-to-fallback', async (c) => {
    const mode = await acting(() => c.get('deps').db.switchToFallback())
    await audit(c, 'admin.switch_to_fallback')
    return c.json({ mode })
  })

  app.post('/switch-to-primary', async (c) => {
    const mode = await acting(() => c.get('deps').db.switchToPrimary())
    await audit(c, 'admin.switch_to_primary')
    return c.json({ mode })
  })

  // The copy to the fallback, under its older public name.
  app.post('/migrate-from-primary', async (c) => {
    const result = await acting(() => c.get('deps').db.copyToFallback())
    await audit(c, 'admin.copy_to_fallback', { tables: result.tables })
    return c.json(result)
  })

  // The replay, under its public name.
  app.post('/sync-to-primary', async (c) => {
    const result = await acting(() => c.get('deps').db.replay())
    await audit(c, 'admin.sync_to_primary', result)
    return c.json(result)
  })

  app.post('/backup', async (c) => {
    const result = await acting(() => c.get('deps').db.backup(), storeErrorToAppError)
    await audit(c, 'admin.backup', { file: result.file })
    return c.json(result)
  })

  app.delete('/cleanup', async (c) => {
    // The replicator reads the file it was started on: a new file would never reach the replica.
    if (c.get('deps').replica) throw new AppError('conflict', 'the SQLite file is replicated (REPLICA_URL): it is not removed; unset REPLICA_URL first')
    await acting(() => c.get('deps').db.cleanup(), storeErrorToAppError)
    await audit(c, 'admin.cleanup')
    return c.body(null, 204)
  })

  app.route('/replica', replicaAdminRoutes())

  app.get('/conflicts', async (c) => {
    const items = await acting(() => c.get('deps').db.conflicts())
    return c.json({
      items: items.map((k) => ({ id: k.id, at: k.at, table: k.table, row_id: k.rowId, reason: k.reason, row: withoutSecrets(k.row) })),
    })
  })

  return app
}

// A conflict record may hold the whole clashing row (PostgreSQL's sync_conflicts does, password hash
// included): the list an admin reads over HTTP never carries its secrets.
const SECRET_FIELDS = new Set(['passwordHash', 'password_hash', 'tokenHash', 'token_hash', 'value'])

function withoutSecrets(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, SECRET_FIELDS.has(k) && v != null ? '***' : v]))
}

async function audit(c: Context<AppEnv>, action: string, details?: Record<string, unknown>) {
  const { store, logger } = c.get('deps')
  const actorId = c.get('user').id
  logger.info({ event: 'audit', action, actor_id: actorId, request_id: c.get('requestId') }, action)
  await store.audit.append({ id: newId(), action, actorId, details: details ?? null })
}
