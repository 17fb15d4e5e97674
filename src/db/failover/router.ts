// The router every store call of a route goes through: to PostgreSQL in primary mode, to SQLite
// otherwise; writes behind the write gate. A primary call that fails at the connection level gets
// one reconnect (a nap is not an outage); only when that fails too does the store fail over, and
// the call is retried on SQLite.
import type { PostgresStore } from '../postgres/postgres-store.ts'
import type { SqliteStore } from '../sqlite/sqlite-store.ts'
import { isStoreError, type MethodKind, type Store, type TableRow } from '../store.ts'
import type { WriteGate } from '../write-gate.ts'
import { errorLine } from './error-line.ts'
import type { InFlightCalls } from './in-flight.ts'
import type { ModeMachine } from './modes.ts'
import type { PrimaryHealth } from './primary-health.ts'
import type { StoreRoute } from './routed-repo.ts'

export interface RouterParts {
  primary: PostgresStore | null
  /** the fallback in use (a cleanup replaces it) */
  fallback(): SqliteStore
  modes: Pick<ModeMachine, 'mode' | 'enterFallback'>
  health: PrimaryHealth
  inFlight: InFlightCalls
  gate: WriteGate
  /** the rows a write committed on PostgreSQL (the mirror takes them) */
  committed(changes: TableRow[]): void
  /** a request needs a database: the primary is not idle */
  touch(): void
  /** a primary call started: the monitor watches it */
  callStarted(): void
}

export class StoreRouter {
  /** one reconnect attempt shared by every request that saw the primary fail at once */
  private reconnecting: Promise<boolean> | null = null

  constructor(private readonly parts: RouterParts) {}

  /** a repository call by its kind (see routedRepo) */
  readonly route: StoreRoute = (kind, run) => (kind === 'read' ? this.read(run) : this.write(run, kind))

  /** `activity`: false for calls no request made (readiness), which must not end idleness */
  async read<T>(run: (s: Store) => Promise<T>, activity = true): Promise<T> {
    const { primary, modes } = this.parts
    if (activity) this.parts.touch()
    if (modes.mode === 'primary' && primary) {
      try {
        return await this.onPrimaryAgainAfterNap(() => run(primary))
      } catch (err) {
        if (!isStoreError(err, 'unavailable')) throw err
        modes.enterFallback(err.message, 'request')
      }
    }
    return run(this.parts.fallback())
  }

  async write<T>(run: (s: Store) => Promise<T>, kind: Exclude<MethodKind, 'read'> = 'write'): Promise<T> {
    const { primary, modes, gate } = this.parts
    this.parts.touch()
    await gate.enter()
    try {
      if (modes.mode === 'primary' && primary) {
        let attempts = 0
        try {
          return await this.onPrimaryAgainAfterNap(async () => {
            attempts++
            // Rows are mirrored only from the attempt that succeeded: a failed one may have been rolled back.
            const changes: TableRow[] = []
            try {
              const result = await run(primary.withChangeSink((c) => changes.push(c)))
              this.parts.committed(changes)
              return result
            } catch (err) {
              // The first attempt may have deleted the row before its connection died: the delete
              // asked for has happened (creates and rotations recognise their own rows in SQL).
              if (attempts > 1 && kind === 'delete' && isStoreError(err, 'not_found')) return undefined as T
              throw err
            }
          })
        } catch (err) {
          if (!isStoreError(err, 'unavailable')) throw err
          // Safe to repeat on SQLite: ids come from the caller and replay is last-writer-wins, so a
          // write PostgreSQL did commit before the connection died is not duplicated.
          modes.enterFallback(err.message, 'request')
        }
      }
      return await run(this.parts.fallback())
    } finally {
      gate.leave()
    }
  }

  /**
   * A primary call; when it fails at the connection level, one reconnect under the connect deadline
   * (DATABASE_TIMEOUT) decides: a database waking from a nap (Neon's suspended compute), a pooler
   * that dropped its connections or whose ways the pool just learnt answers it, and the call goes
   * again on PostgreSQL — no failover, no outbox entry. Only a failed reconnect fails over.
   */
  private async onPrimaryAgainAfterNap<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await this.onPrimary(call())
    } catch (err) {
      if (!isStoreError(err, 'unavailable')) throw err
      this.parts.health.noteFailure(err)
      // Refused or an unknown host: a fresh connection would be refused too (a napping database
      // still accepts connections), so the failover is not delayed by a reconnect.
      if (err.connection === 'refused' || !(await this.reconnect())) throw err
      return await this.onPrimary(call())
    }
  }

  /** Does the primary answer a fresh connection within the connect deadline? One attempt at a time. */
  private reconnect(): Promise<boolean> {
    const { primary, modes, health } = this.parts
    // Another request or the monitor has failed over meanwhile: the decision is made.
    if (!primary || modes.mode !== 'primary') return Promise.resolve(false)
    this.reconnecting ??= primary
      .ping()
      .then(
        () => {
          health.answered()
          return true
        },
        (err: unknown) => {
          health.noteFailure(err)
          health.lastError = errorLine(err)
          return false
        },
      )
      .finally(() => (this.reconnecting = null))
    return this.reconnecting.then((ok) => ok && modes.mode === 'primary')
  }

  /** A primary call, abandoned (as unavailable) as soon as the store fails over. */
  private onPrimary<T>(call: Promise<T>): Promise<T> {
    const { health } = this.parts
    const answered = call.then(
      (value) => {
        health.answered()
        return value
      },
      (error: unknown) => {
        // a refusal of the data (a unique key, a missing row, the caller check) is an answer too
        if (isStoreError(error) && error.kind !== 'unavailable') health.answered()
        throw error
      },
    )
    const tracked = this.parts.inFlight.track(answered)
    this.parts.callStarted()
    return tracked
  }
}
