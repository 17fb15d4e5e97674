// After a snapshot: what it makes useless goes — the segments before it and older snapshots of the
// generation, and every older generation. A newer generation is another writer's: left alone, and said.
import type { Logger } from 'pino'
import { generationDir, segmentIndex, snapshotFileThrough } from './layout.ts'
import { listGenerations } from './restore.ts'
import type { ReplicaTarget } from './target.ts'

export async function compactReplica(
  target: ReplicaTarget,
  logger: Logger,
  snapshot: { generation: string; through: number; nextSegment: number },
): Promise<void> {
  const { generation, through, nextSegment } = snapshot
  for (const key of await target.list(generationDir(generation))) {
    const index = segmentIndex(key)
    const snapshotThrough = snapshotFileThrough(key)
    if ((index !== null && index < nextSegment) || (snapshotThrough !== null && snapshotThrough < through)) await target.delete(key)
  }
  const gens = await listGenerations(target)
  const newer = gens.filter((g) => g > generation)
  if (newer.length > 0)
    logger.warn(
      { event: 'replica_other_writer', generation, newer: newer[0] },
      'another instance writes a newer generation to this replica: a restore will pick the newest one, not this one',
    )
  for (const old of gens.filter((g) => g < generation)) for (const key of await target.list(generationDir(old))) await target.delete(key)
}
