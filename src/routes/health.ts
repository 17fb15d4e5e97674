// /health, /health/live, /health/ready. /health is served from the monitor's last probe
// (db.status() is synchronous), so a load balancer polling it never touches a database.
import { Hono } from 'hono'
import type { AppDeps, AppEnv, AuthUser } from '../app-env.ts'
import { optionalAuth } from '../auth/guard.ts'
import type { Config } from '../config-types.ts'
import type { ReplicaStatus } from '../db/replica/replicator.ts'
import type { Mode, RuntimeStatus } from '../db/runtime.ts'
import type { StoreKind } from '../db/store.ts'
import { errorBody } from '../errors.ts'
import { logRequest, PROBE_SECURITY_HEADERS, requestIds } from '../http-frame.ts'

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
  primary: {
    configured: boolean
    /** the last known state: while idle, as PostgreSQL was when last seen */
    status: 'up' | 'down' | 'unconfigured'
    /** primary mode and no database-bound request for DATABASE_IDLE_AFTER: PostgreSQL is sent nothing */
    idle: boolean
    /** when PostgreSQL last answered */
    checked_at: string | null
    /** admins only: why the primary cannot be used, in words */
    last_error?: string | null
  }
  outbox_pending: number
  replica: ReplicaHealth
  uptime_s: number
  version: string
  /** what an operator should know, in words; empty when all is well */
  warnings: string[]
}

export type ReplicaHealth =
  | Pick<ReplicaStatus, 'configured' | 'target' | 'lag_ms' | 'last_upload_at' | 'pending_segments' | 'last_error'>
  | { configured: false; target: null; lag_ms: null; last_upload_at: null; pending_segments: 0; last_error: null }

const NO_REPLICA: ReplicaHealth = { configured: false, target: null, lag_ms: null, last_upload_at: null, pending_segments: 0, last_error: null }

const uptimeS = (now: number, startedAt: number): number => Math.max(0, Math.floor((now - startedAt) / 1000))

export function healthReport(
  s: RuntimeStatus,
  opts: { config: Config; startedAt: number; now?: number; admin?: boolean; replica?: ReplicaStatus | null },
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
  const r = opts.replica
  const replica: ReplicaHealth = r
    ? { configured: true, target: r.target, lag_ms: r.lag_ms, last_upload_at: r.last_upload_at, pending_segments: r.pending_segments, last_error: r.last_error }
    : NO_REPLICA
  if (r && opts.config.replica && r.lag_ms > 10 * opts.config.replica.intervalMs)
    warnings.push(`the replica is ${Math.round(r.lag_ms / 1000)} s behind: writes of that time exist only on this instance's disk${r.last_error ? ` (${r.last_error})` : ''}`)
  else if (r?.last_error) warnings.push(`the replica cannot be written: ${r.last_error}`)

  return {
    status: !canServe ? 'unhealthy' : primaryMissing || memoryStandIn || !activeUp ? 'degraded' : 'healthy',
    timestamp: new Date(now).toISOString(),
    database_status: activeUp ? 'connected' : 'disconnected',
    database_type: s.activeKind,
    fallback_active: s.fallbackActive,
    fallback_persistent: s.fallback.persistent,
    mode: s.mode,
    primary: {
      configured: s.primary.configured,
      status: s.primary.status,
      idle: s.primary.idle,
      checked_at: s.primary.checkedAt,
      ...(opts.admin ? { last_error: s.primary.lastError } : {}),
    },
    outbox_pending: s.outboxPending,
    replica,
    uptime_s: uptimeS(now, opts.startedAt),
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

/** health answers describe this moment: no cache may keep one */
const NO_STORE = { 'Cache-Control': 'no-store' }

/** The /health answer: the report, with 503 only when no store can serve. */
function healthAnswer({ db, config, startedAt, replica }: AppDeps, admin = false): { report: HealthReport; status: 200 | 503 } {
  const report = healthReport(db.status(), { config, startedAt, admin, replica: replica?.status() ?? null })
  return { report, status: report.status === 'unhealthy' ? 503 : 200 }
}

export function healthRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>()

  // A bearer token of an admin adds primary.last_error; without one nothing but the report is read.
  r.get('/', optionalAuth, (c) => {
    const admin = (c.get('user') as AuthUser | undefined)?.role === 'admin'
    const { report, status } = healthAnswer(c.get('deps'), admin)
    if (c.req.header('Authorization')) c.header('Vary', 'Authorization')
    return c.json(report, status, NO_STORE)
  })

  r.get('/live', (c) => c.json({ status: 'alive', uptime_s: Math.floor((Date.now() - c.get('deps').startedAt) / 1000) }, 200, NO_STORE))

  r.get('/ready', async (c) => {
    const { db } = c.get('deps')
    if (await within(db.ready(), READY_DEADLINE_MS)) {
      return c.json({ status: 'ready', database_type: db.status().activeKind }, 200, NO_STORE)
    }
    return c.json(errorBody('unavailable', 'the active database does not answer', c.get('requestId')), 503, NO_STORE)
  })

  return r
}

// ---- the fast route's body, kept while nothing it reports changes ----

// Every field of the runtime status and of the replica status, whether the report reads it or not:
// a change of any of them rebuilds the body, so a field the report comes to read is never served
// stale. Written out, not looped over a list of names: this runs on every probe, and the loop cost
// five times as much. test/health.test.ts changes each field of both types on its own (the fields
// it finds on a generated status, so a field added to the types is covered) and fails if the body
// then differs from a fresh report: a field the report reads and this comparison misses.
function sameStatus(a: RuntimeStatus, b: RuntimeStatus): boolean {
  const [p, q, f, g] = [a.primary, b.primary, a.fallback, b.fallback]
  return (
    a.mode === b.mode && a.activeKind === b.activeKind && a.fallbackActive === b.fallbackActive && a.outboxPending === b.outboxPending &&
    a.pinnedToFallback === b.pinnedToFallback && a.lastFailoverAt === b.lastFailoverAt && a.lastRecoveryAt === b.lastRecoveryAt &&
    p.configured === q.configured && p.status === q.status && p.lastError === q.lastError && p.lastProbeAt === q.lastProbeAt &&
    p.idle === q.idle && p.checkedAt === q.checkedAt && samePooler(p.pooler, q.pooler) &&
    f.ok === g.ok && f.path === g.path && f.persistent === g.persistent && f.journalMode === g.journalMode
  )
}

function samePooler(p: readonly string[], q: readonly string[]): boolean {
  if (p === q) return true
  if (p.length !== q.length) return false
  for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) return false
  return true
}

function sameReplica(a: ReplicaStatus | null, b: ReplicaStatus | null): boolean {
  if (a === null || b === null) return a === b
  return (
    a.configured === b.configured && a.target === b.target && a.sync === b.sync && a.generation === b.generation && a.lag_ms === b.lag_ms &&
    a.last_upload_at === b.last_upload_at && a.last_snapshot_at === b.last_snapshot_at && a.pending_segments === b.pending_segments &&
    a.pending_changes === b.pending_changes && a.last_error === b.last_error
  )
}

/** The /health answer as healthBodies hands it out: read it before the next call, which may change it. */
export interface HealthBody {
  readonly body: string
  readonly status: 200 | 503
}

interface KeptBody extends HealthBody {
  /** what it was made from */
  runtime: RuntimeStatus
  replica: ReplicaStatus | null
  /** the body as of `at` (ms) */
  at: number
  body: string
  /**
   * The body around its two clock fields — before the timestamp, between it and uptime_s, after
   * uptime_s — or null if it could not be cut there (then each millisecond rebuilds it whole).
   */
  around: [string, string, string] | null
}

const TIMESTAMP_KEY = '"timestamp":"'
const ISO_LENGTH = '2026-01-01T00:00:00.000Z'.length

/** The body cut around its clock fields, checked against the values it was made with. */
function cutAroundClock(body: string, report: HealthReport): [string, string, string] | null {
  const start = body.indexOf(TIMESTAMP_KEY) + TIMESTAMP_KEY.length
  const end = start + ISO_LENGTH
  if (start < TIMESTAMP_KEY.length || report.timestamp.length !== ISO_LENGTH || body.slice(start, end) !== report.timestamp) return null
  // inside a JSON string every quote is escaped: the first `,"uptime_s":` after the timestamp is the key
  const uptime = `,"uptime_s":${report.uptime_s},`
  const at = body.indexOf(uptime, end)
  if (at < 0) return null
  const afterKey = at + ',"uptime_s":'.length
  return [body.slice(0, start), body.slice(end, afterKey), body.slice(afterKey + String(report.uptime_s).length)]
}

/**
 * The /health answer (no admin) as JSON text, exactly `JSON.stringify(healthReport(...))` at `now`,
 * without building and serialising the report each time. The runtime and replica status are read at
 * every call (both synchronous, as cheap as before) and compared field by field with those the
 * kept body was made from: any difference rebuilds it, so it never shows a state that has changed.
 * While they are equal, only the clock fields move: the timestamp and uptime_s are put between the
 * kept pieces, once per millisecond (the timestamp's resolution); the answers within one millisecond
 * share one string. It hands out the kept object itself (no allocation per call).
 */
export function healthBodies({ db, config, startedAt, replica }: Pick<AppDeps, 'db' | 'config' | 'startedAt' | 'replica'>): (now: number) => HealthBody {
  let kept: KeptBody | null = null
  const build = (runtime: RuntimeStatus, replicaStatus: ReplicaStatus | null, now: number): KeptBody => {
    const report = healthReport(runtime, { config, startedAt, now, replica: replicaStatus })
    const body = JSON.stringify(report)
    return { runtime, replica: replicaStatus, status: report.status === 'unhealthy' ? 503 : 200, at: now, body, around: cutAroundClock(body, report) }
  }
  return (now) => {
    const runtime = db.status()
    const replicaStatus = replica?.status() ?? null
    if (kept === null || !sameStatus(kept.runtime, runtime) || !sameReplica(kept.replica, replicaStatus)) kept = build(runtime, replicaStatus, now)
    else if (kept.at !== now) {
      if (kept.around === null) kept = build(runtime, replicaStatus, now)
      else {
        const [beforeTimestamp, betweenClocks, afterUptime] = kept.around
        kept.at = now
        kept.body = `${beforeTimestamp}${new Date(now).toISOString()}${betweenClocks}${uptimeS(now, startedAt)}${afterUptime}`
      }
    }
    return kept
  }
}

/**
 * GET /health for Bun's router (`Bun.serve({ routes })`), ahead of Hono. Load balancers and the
 * platform poll it all day, and Hono's middleware chain was a third of its cost (bench/RESULTS.md).
 * It answers what the Hono route answers inside the frame: the same body and status, a probe's
 * headers (http-frame.ts) with its X-Request-Id, and the same request log line. Without CORS only:
 * with CORS_ORIGINS set, the CORS middleware has headers to add, so Hono answers. A request with
 * an Authorization header goes to Hono too (`app`): an admin's answer adds the primary's last error.
 * The body comes from healthBodies: made again only when the state it reports changes.
 */
export function healthFastRoute(deps: AppDeps, app: { fetch: (req: Request) => Response | Promise<Response> }): (req: Request) => Response | Promise<Response> {
  const nextRequestId = requestIds()
  const bodyAt = healthBodies(deps)
  // One Headers for every answer: a Response copies the headers it is given (Fetch standard), so
  // setting the next request's id cannot change an answer already made; a copy per request cost
  // about 0.6 µs (bench/RESULTS.md).
  const headers = new Headers({ ...PROBE_SECURITY_HEADERS, ...NO_STORE, 'Content-Type': 'application/json' })
  return (req) => {
    const requestHeaders = req.headers
    if (requestHeaders.has('Authorization')) return app.fetch(req)
    const startedAt = performance.now()
    const id = nextRequestId(requestHeaders.get('X-Request-Id'))
    const { body, status } = bodyAt(Date.now())
    headers.set('X-Request-Id', id)
    const res = new Response(body, { status, headers })
    logRequest(deps.logger, startedAt, { method: req.method, path: '/health', status, request_id: id })
    return res
  }
}
