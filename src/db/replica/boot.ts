// The replica's part of a start: restore an empty local database from the replica before anything
// opens it, then (once the store is migrated) start shipping. A replica that cannot be reached does
// not stop the start: one loud WARN, and the replicator keeps trying in the background.
import type { Logger } from 'pino'
import type { ReplicaConfig } from '../../config-types.ts'
import { isEmptyDatabase } from './local-db.ts'
import { Replicator } from './replicator.ts'
import { restoreInto, RestoreError } from './restore.ts'
import { ReplicaUnreachable, type ReplicaTarget } from './target.ts'

export type BootRestoreOutcome = 'restored' | 'not_empty' | 'no_replica' | 'unreachable' | 'failed'

/** Runs before the store opens `path`. Never throws for the replica's sake: the outcome says what happened. */
export async function restoreAtBoot(opts: { target: ReplicaTarget; path: string; logger: Logger; force?: boolean }): Promise<BootRestoreOutcome> {
  const { target, path, logger } = opts
  if (!opts.force && !isEmptyDatabase(path)) {
    logger.info({ event: 'replica_restore_not_needed', path }, 'local database holds data: not restoring from the replica')
    return 'not_empty'
  }
  try {
    const report = await restoreInto(target, path, logger)
    if (!report) {
      logger.info({ event: 'replica_restore_none', target: target.description }, 'the replica holds no snapshot yet: starting with an empty database')
      return 'no_replica'
    }
    logger.info(
      {
        event: 'replica_restored',
        target: target.description,
        generation: report.generation,
        snapshot_through: report.snapshotThrough,
        snapshot_bytes: report.snapshotBytes,
        segments: report.segments,
        changes: report.entries,
        skipped_segments: report.skippedSegments,
        unreachable_segments: report.unreachableSegments,
        duration_ms: report.durationMs,
      },
      'restored the database from the replica',
    )
    return 'restored'
  } catch (e) {
    const reason = e instanceof Error ? e.message.split('\n')[0] : String(e)
    if (e instanceof ReplicaUnreachable) {
      logger.warn(
        { event: 'replica_restore_unreachable', target: target.description, reason },
        'REPLICA UNREACHABLE AT BOOT: starting WITHOUT restoring; the database is empty. The replica is not written over until this is resolved (see /health replica.last_error)',
      )
      return 'unreachable'
    }
    // RestoreError, or a replica whose changes do not fit this schema: loud, but the start goes on.
    logger.error(
      { event: 'replica_restore_failed', target: target.description, reason, kind: e instanceof RestoreError ? 'verification' : 'error' },
      'RESTORE FROM THE REPLICA FAILED: starting with an empty database; the replica is not written over',
    )
    return 'failed'
  }
}

export function createReplicator(opts: { config: ReplicaConfig; target: ReplicaTarget; path: string; logger: Logger; restore: BootRestoreOutcome }): Replicator {
  const { config } = opts
  return new Replicator({
    target: opts.target,
    dbPath: opts.path,
    logger: opts.logger,
    intervalMs: config.intervalMs,
    sync: config.sync,
    snapshotIntervalMs: config.snapshotIntervalS * 1000,
    snapshotEverySegments: config.snapshotEverySegments,
    holdIfReplicaExists: opts.restore === 'unreachable' || opts.restore === 'failed',
  })
}
