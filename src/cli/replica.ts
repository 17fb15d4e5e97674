// `bun run db replica status|restore [--force]`: runs without opening the store, since restore must
// put the file in place before anything opens it.
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config-types.ts'
import { describeReplicaTarget } from '../config/replica.ts'
import { inspectReplica } from '../db/replica/inspect.ts'
import { isEmptyDatabase } from '../db/replica/local-db.ts'
import { restoreInto } from '../db/replica/restore.ts'
import { openTarget } from '../db/replica/target.ts'

type Print = (line: string) => void

export async function runReplicaCommand(opts: { config: Config; logger: Logger; args: string[]; print: Print }): Promise<void> {
  const { config, logger, args, print } = opts
  const [sub, ...flags] = args
  if (!config.replica) throw new Error('REPLICA_URL is not set: there is no replica to show or restore from')
  if (config.database.fallbackPath === ':memory:') throw new Error('FALLBACK_DATABASE_URL is :memory:: there is no file to restore into')
  const target = openTarget(config.replica, describeReplicaTarget(config.replica))
  const path = resolve(config.database.fallbackPath)

  if (sub === 'status') {
    print(`replica: ${target.description} (sync ${config.replica.sync ? 'on' : 'off'}, every ${config.replica.intervalMs} ms)`)
    print(`local database: ${path} (${isEmptyDatabase(path) ? 'empty or missing: the server restores it at start' : 'holds data'})`)
    const gens = await inspectReplica(target)
    if (gens.length === 0) print('the replica holds no generation yet')
    gens.forEach((g, i) => {
      const snaps = g.snapshots.length ? `snapshots through seq ${g.snapshots.join(', ')}` : 'no complete snapshot'
      const segs = g.segments ? `${g.segments} segment(s) #${g.firstSegment}..#${g.lastSegment}` : 'no segments'
      print(`${i === 0 ? '*' : ' '} generation ${g.generation}: ${snaps}; ${segs}`)
    })
    if (gens.length > 0) print('(* the newest: a restore uses the newest generation that has a complete snapshot)')
    return
  }

  if (sub === 'restore') {
    const force = flags.includes('--force')
    if (!force && !isEmptyDatabase(path))
      throw new Error(`${path} holds data: restore never replaces it; stop the server and run bun run db replica restore --force to replace it with the replica's copy`)
    const report = await restoreInto(target, path, logger)
    if (!report) throw new Error(`the replica at ${target.description} holds no complete snapshot: nothing to restore`)
    print(
      `restored generation ${report.generation} into ${path}: snapshot through seq ${report.snapshotThrough} (${report.snapshotBytes} bytes), ` +
        `${report.segments} segment(s), ${report.entries} change(s), ${report.skippedSegments} incomplete last segment(s) skipped, ` +
        `${report.unreachableSegments} segment(s) after a gap not applied, in ${report.durationMs} ms`,
    )
    return
  }
  throw new Error('usage: bun run db replica status | restore [--force]')
}
