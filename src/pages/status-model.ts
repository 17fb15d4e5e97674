// What the status page says, in words, from what /health reads: the runtime's synchronous status, its
// in-memory history and the configuration. Nothing here touches a database.
import type { AppDeps } from '../app-env.ts'
import type { HistorySnapshot } from '../db/history.ts'
import type { Mode, RuntimeStatus } from '../db/runtime.ts'
import { healthReport, type HealthReport } from '../routes/health.ts'

export type PrimaryState = 'up' | 'down' | 'idle' | 'not configured'

export interface SecretHint {
  name: string
  set: boolean
  why: string
}

export interface StatusView {
  health: HealthReport['status']
  /** "PostgreSQL" or "SQLite fallback": the database answering requests now */
  serving: 'PostgreSQL' | 'SQLite fallback'
  database: 'postgresql' | 'sqlite'
  mode: Mode
  modeWords: string
  primary: PrimaryState
  primaryWords: string
  /** ISO time of the primary's last check (probe), when known */
  primaryCheckedAt: string | null
  outboxPending: number
  /** replica lag in ms, only when a replica is configured */
  replicaLagMs: number | null
  uptimeS: number
  version: string
  warnings: string[]
  history: HistorySnapshot
  /** set when no account is declared: the secrets to set, and whether each is set already */
  setup: { secrets: SecretHint[]; readmeUrl: string | null } | null
}



function primaryState(s: RuntimeStatus): PrimaryState {
  if (!s.primary.configured) return 'not configured'
  if (s.primary.idle) return 'idle'
  return s.primary.status === 'up' ? 'up' : 'down'
}

const MODE_WORDS: Record<Mode, string> = {
  primary: 'primary: reads and writes go to PostgreSQL, mirrored into SQLite',
  fallback: 'fallback: reads and writes go to SQLite; writes are journaled for PostgreSQL',
  recovering: 'recovering: PostgreSQL is back and journaled writes are being replayed into it',
}

const PRIMARY_WORDS: Record<PrimaryState, string> = {
  up: 'PostgreSQL answers',
  down: 'PostgreSQL does not answer',
  idle: 'PostgreSQL is left alone while no request needs it (it may be napping)',
  'not configured': 'no PostgreSQL is configured: SQLite is the only database',
}

export const README_SECTION = 'declaring-accounts-hugging-face-space-secrets'

export function statusView(deps: AppDeps, now = Date.now()): StatusView {
  const s = deps.db.status()
  const report = healthReport(s, { config: deps.config, startedAt: deps.startedAt, now })
  const primary = primaryState(s)
  const config = deps.config
  const setup =
    config.seed.accounts.length > 0
      ? null
      : {
          secrets: [
            { name: 'SEED_ADMIN_EMAIL', set: false, why: 'the administrator account created at every start' },
            { name: 'SEED_ADMIN_PASSWORD', set: false, why: 'its password (8 to 72 bytes)' },
            { name: 'JWT_SECRET', set: config.auth.jwtSecret !== null, why: 'at least 32 characters, so sign-ins survive a restart' },
            { name: 'DATABASE_URL', set: config.database.url !== null, why: 'your PostgreSQL; without it everything lives in SQLite on a disk a Space wipes' },
          ],
          readmeUrl: config.spaceId ? `https://huggingface.co/spaces/${config.spaceId}/blob/main/README.md#${README_SECTION}` : null,
        }
  return {
    health: report.status,
    serving: s.activeKind === 'postgresql' ? 'PostgreSQL' : 'SQLite fallback',
    database: s.activeKind,
    mode: s.mode,
    modeWords: MODE_WORDS[s.mode],
    primary,
    primaryWords: PRIMARY_WORDS[primary],
    primaryCheckedAt: s.primary.checkedAt ?? s.primary.lastProbeAt,
    outboxPending: report.outbox_pending,
    replicaLagMs: deps.replica?.status().lag_ms ?? null,
    uptimeS: report.uptime_s,
    version: report.version,
    warnings: report.warnings,
    history: deps.db.history(),
    setup,
  }
}

/** 93784 → "1 d 2 h 3 min" */
export function durationWords(totalS: number): string {
  const d = Math.floor(totalS / 86400)
  const h = Math.floor((totalS % 86400) / 3600)
  const m = Math.floor((totalS % 3600) / 60)
  const s = totalS % 60
  const parts = [d ? `${d} d` : '', h ? `${h} h` : '', m ? `${m} min` : '', !d && !h ? `${s} s` : ''].filter(Boolean)
  return parts.join(' ')
}
