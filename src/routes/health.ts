// /health, /health/live, /health/ready. /health is served from the monitor's last probe
// (db.status() is synchronous), so a load balancer polling it never touches a database.
import { Hono } from 'hono'
import type { AppEnv } from '../app-env.ts'
import type { Config } from '../config-types.ts'
import type { Mode, RuntimeStatus } from '../db/runtime.ts'
import type { StoreKind } from '../db/store.ts'
import { errorBody } from '../errors.ts'

/** /health/ready waits this long for the active store before answering 503 */
const READY_DEADLINE_MS = 2_000

export interface HealthReport {
  status: 'healthy' | 'degraded' | 'unhealthy'
  timestamp: string
  database_status: 'connected' | 'disconnected'
  database_type: StoreKind
  fallback_active: boolean
  /** false when the fallback is an in-memory database: what it holds is lost on restart */
  fallback_persistent: boolean
  mode: Mode
  primary: { configured: boolean; status: 'up' | 'down' | 'unconfigured' }
  outbox_pending: number
  uptime_s: number
  version: string
  /** what an operator should know, in words; empty when all is well */
  warnings: string[]
}

export function healthReport(
  s: RuntimeStatus,
  opts: { config: Config; startedAt: number; now?: number },
): HealthReport {
  const now = opts.now ?? Date.now()
  const activeUp = s.activeKind === 'postgresql' ? s.primary.status === 'up' : s.fallback.ok
  const canServe = activeUp || s.primary.status === 'up' || s.fallback.ok
  // In-memory by choice (FALLBACK_DATABASE_URL=:memory:) is the operator's call; in-memory because
  // the file could not be written is a fault.
  const memoryStandIn = !s.fallback.persistent && opts.config.database.fallbackPath !== ':memory:'
  const primaryMissing = s.primary.configured && (s.fallbackActive || s.primary.status !== 'up')

  const warnings: string[] = []
  if (memoryStandIn) warnings.push('the fallback database file could not be written: an in-memory database stands in and NOTHING written to it will persist across a restart')
  else if (!s.fallback.persistent) warnings.push('the fallback database is in memory: nothing written to it persists across a restart')
  if (s.primary.configured && s.primary.status !== 'up') warnings.push('the primary database (PostgreSQL) is unreachable')
  if (s.pinnedToFallback) warnings.push('pinned to the fallback by an admin')
  if (s.outboxPending > 0) warnings.push(`${s.outboxPending} write(s) wait to be replayed to PostgreSQL and exist only on this instance's disk`)

  return {
    status: !canServe ? 'unhealthy' : primaryMissing || memoryStandIn || !activeUp ? 'degraded' : 'healthy',
    timestamp: new Date(now).toISOString(),
    database_status: activeUp ? 'connected' : 'disconnected',
    database_type: s.activeKind,
    fallback_active: s.fallbackActive,
    fallback_persistent: s.fallback.persistent,
    mode: s.mode,
    primary: { configured: s.primary.configured, status: s.primary.status },
    outbox_pending: s.outboxPending,
    uptime_s: Math.max(0, Math.floor((now - opts.startedAt) / 1000)),
    version: opts.config.version,
    warnings,
  }
}

const within = async (p: Promise<boolean>, ms: number): Promise<boolean> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([p, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

export function healthRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>()

  // Set before the handler runs: set after, Hono would have to rebuild the finished response.
  r.use(async (c, next) => {
    c.header('Cache-Control', 'no-store')
    await next()
  })

  r.get('/', (c) => {
    const { db, config, startedAt } = c.var.deps
    const report = healthReport(db.status(), { config, startedAt })
    return c.json(report, report.status === 'unhealthy' ? 503 : 200)
  })

  r.get('/live', (c) => c.json({ status: 'alive', uptime_s: Math.floor((Date.now() - c.var.deps.startedAt) / 1000) }))

  r.get('/ready', async (c) => {
    const { db } = c.var.deps
    if (await within(db.ready(), READY_DEADLINE_MS)) {
      return c.json({ status: 'ready', database_type: db.status().activeKind })
    }
    return c.json(errorBody('unavailable', 'the active database does not answer', c.get('requestId')), 503)
  })

  return r
}
