// How a process (the server, the CLI) brings the replica up: before the store opens the file, restore
// it when it is empty; after the store has migrated it, start the replicator. Without REPLICA_URL, the
// change log a former configuration left in the file is removed, so nothing fills it any more.
import { Database } from 'bun:sqlite'
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../../config-types.ts'
import { describeReplicaTarget } from '../../config/replica.ts'
import { createReplicator, restoreAtBoot, type BootRestoreOutcome } from './boot.ts'
import { removeChangeLog } from './change-log.ts'
import type { Replicator } from './replicator.ts'
import { openTarget, type ReplicaTarget } from './target.ts'

export interface PreparedReplica {
  target: ReplicaTarget
  restore: BootRestoreOutcome
}

/** null without REPLICA_URL */
export async function prepareReplica({ config, logger }: { config: Config; logger: Logger }): Promise<PreparedReplica | null> {
  if (!config.replica) return null
  const target = openTarget(config.replica, describeReplicaTarget(config.replica))
  const restore = await restoreAtBoot({ target, path: resolve(config.database.fallbackPath), logger })
  return { target, restore }
}

export function startReplica(opts: {
  config: Config
  logger: Logger
  prepared: PreparedReplica | null
  /** the file the store opened, or ':memory:' when it could not */
  fallbackPath: string
}): Replicator | null {
  const { config, logger, prepared, fallbackPath } = opts
  if (fallbackPath === ':memory:') {
    if (prepared) logger.error({ event: 'replica_disabled' }, 'REPLICA_URL is set but the SQLite file could not be opened (an in-memory database stands in): nothing is replicated')
    return null
  }
  if (!prepared || !config.replica) {
    try {
      const db = new Database(fallbackPath, { readwrite: true })
      try {
        removeChangeLog(db)
      } finally {
        db.close()
      }
    } catch (e) {
      logger.warn({ event: 'replica_log_not_removed', reason: e instanceof Error ? e.message : String(e) }, 'could not remove the change log a former REPLICA_URL left in the SQLite file; it keeps growing until the next start')
    }
    return null
  }
  const replicator = createReplicator({ config: config.replica, target: prepared.target, path: fallbackPath, logger, restore: prepared.restore })
  // Not waited for: a slow or unreachable replica must not hold up the start. Sync writes wait for the
  // base snapshot like for any segment; async writes need not.
  void replicator.start()
  return replicator
}
