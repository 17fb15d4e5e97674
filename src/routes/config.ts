// /config/database: what the server runs on. Anyone sees the shape; admins also see where
// (redacted URL, host, database, fallback path). A password is never part of either.
import { Hono } from 'hono'
import type { AppEnv, AuthUser } from '../app-env.ts'
import { optionalAuth } from '../auth/guard.ts'
import type { Config } from '../config-types.ts'
import { redactUrl } from '../redact.ts'

interface PrimaryTarget {
  url: string
  host: string
  port: number
  database: string | null
}

function primaryTarget(config: Config): PrimaryTarget | null {
  const url = config.database.url
  if (!url) return null
  try {
    const u = new URL(url)
    const database = decodeURIComponent(u.pathname.replace(/^\//, ''))
    return { url: redactUrl(url), host: u.hostname, port: u.port ? Number(u.port) : 5432, database: database || null }
  } catch {
    return null
  }
}

export function configRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>()

  r.get('/database', optionalAuth, (c) => {
    const { config, db } = c.get('deps')
    const s = db.status()
    const user = c.get('user') as AuthUser | undefined
    const admin = user?.role === 'admin'
    const d = config.database

    const primary: Record<string, unknown> = {
      configured: s.primary.configured,
      source: d.source,
      pool_size: d.poolSize,
      connect_timeout_s: d.timeoutS,
      statement_timeout_ms: d.statementTimeoutMs,
      ssl: d.sslmode,
      pool_mode: d.poolMode,
      idle_after_s: d.idleAfterS,
      /** what the server learnt about a pooler in front of PostgreSQL, in words */
      pooler: s.primary.pooler,
    }
    const fallback: Record<string, unknown> = { journal_mode: s.fallback.journalMode }
    if (admin) {
      const target = primaryTarget(config)
      Object.assign(primary, {
        url: target?.url ?? null,
        host: target?.host ?? null,
        port: target?.port ?? null,
        database: target?.database ?? null,
        status: s.primary.status,
        last_error: s.primary.lastError,
        last_probe_at: s.primary.lastProbeAt,
        idle: s.primary.idle,
        checked_at: s.primary.checkedAt,
      })
      Object.assign(fallback, { path: s.fallback.path, persistent: s.fallback.persistent })
    }

    c.header('Cache-Control', 'no-store')
    // The body depends on who asks: caches must not hand an admin's answer to anyone else.
    c.header('Vary', 'Authorization')
    return c.json({
      database_type: s.activeKind,
      mode: s.mode,
      fallback_enabled: d.fallbackEnabled,
      fallback_active: s.fallbackActive,
      primary,
      fallback,
    })
  })

  return r
}
