// Rebuilds the SQLite file from the replica: the newest complete snapshot of the newest generation
// that has one, then every segment after it in order, each verified. Built in a temp file beside the
// database and moved into place only once PRAGMA integrity_check passes, so a failed restore leaves
// no half-made database behind.
import { Database } from 'bun:sqlite'
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { EntryApplier } from './apply-entries.ts'
import { GENERATIONS, generationDir, generationOf, manifestThrough, segmentIndex, segmentKey, type SnapshotManifest } from './layout.ts'
import { decodeSegment, SegmentError } from './segment-format.ts'
import type { ReplicaTarget } from './target.ts'

export interface RestoreReport {
  generation: string
  snapshotThrough: number
  snapshotBytes: number
  segments: number
  entries: number
  /** a cut-short or corrupt last segment, skipped */
  skippedSegments: number
  /** segments after a missing or corrupt one in the middle: not applied, the chain is broken there */
  unreachableSegments: number
  durationMs: number
}

export class RestoreError extends Error {
  override readonly name = 'RestoreError'
}

const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher('sha256').update(bytes).digest('hex')

/** generation ids present in the replica, newest first */
export async function listGenerations(target: ReplicaTarget): Promise<string[]> {
  const gens = new Set<string>()
  for (const key of await target.list(GENERATIONS)) {
    const g = generationOf(key)
    if (g) gens.add(g)
  }
  return [...gens].sort().reverse()
}

/** the newest snapshot whose manifest and file are complete and match, with its file */
async function newestSnapshot(target: ReplicaTarget, gen: string, logger: Logger): Promise<{ manifest: SnapshotManifest; bytes: Uint8Array } | null> {
  const keys = await target.list(`${generationDir(gen)}snapshots/`)
  const manifests = keys.filter((k) => manifestThrough(k) !== null).reverse()
  for (const key of manifests) {
    const raw = await target.get(key)
    let manifest: SnapshotManifest
    try {
      manifest = JSON.parse(new TextDecoder().decode(raw ?? new Uint8Array())) as SnapshotManifest
    } catch {
      logger.warn({ event: 'replica_restore_skip', key }, 'replica snapshot manifest unreadable; trying an older one')
      continue
    }
    const bytes = await target.get(manifest.dbKey)
    if (!bytes || bytes.length !== manifest.size || sha256(bytes) !== manifest.sha256) {
      logger.warn({ event: 'replica_restore_skip', key: manifest.dbKey }, 'replica snapshot missing or its checksum does not match; trying an older one')
      continue
    }
    return { manifest, bytes }
  }
  return null
}

/**
 * Restores into `path` (which must not hold data the caller wants: it is replaced). Returns null when
 * the replica holds no complete snapshot at all. Throws ReplicaUnreachable when the replica cannot be
 * read, RestoreError when what it holds does not make a sound database.
 */
export async function restoreInto(target: ReplicaTarget, path: string, logger: Logger): Promise<RestoreReport | null> {
  const started = performance.now()
  let chosen: { gen: string; manifest: SnapshotManifest; bytes: Uint8Array } | null = null
  for (const gen of await listGenerations(target)) {
    const snap = await newestSnapshot(target, gen, logger)
    if (snap) {
      chosen = { gen, ...snap }
      break
    }
    logger.warn({ event: 'replica_restore_skip', generation: gen }, 'replica generation has no complete snapshot (its writer stopped before finishing one); trying an older generation')
  }
  if (!chosen) return null

  const temp = `${path}.restoring`
  mkdirSync(dirname(path), { recursive: true })
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(temp + suffix, { force: true })
  await Bun.write(temp, chosen.bytes)
  const report: RestoreReport = {
    generation: chosen.gen,
    snapshotThrough: chosen.manifest.through,
    snapshotBytes: chosen.bytes.length,
    segments: 0,
    entries: 0,
    skippedSegments: 0,
    unreachableSegments: 0,
    durationMs: 0,
  }
  const db = new Database(temp, { readwrite: true })
  try {
    db.run('PRAGMA foreign_keys = OFF')
    await applySegments(target, db, chosen.manifest, report, logger)
    const check = db.query<{ integrity_check: string }, []>('PRAGMA integrity_check').all()
    if (check.length !== 1 || check[0]!.integrity_check !== 'ok')
      throw new RestoreError(`the restored database fails PRAGMA integrity_check: ${check.map((r) => r.integrity_check).slice(0, 3).join('; ')}`)
    db.run('DELETE FROM replica_log')
    db.run('PRAGMA journal_mode = WAL')
  } catch (e) {
    db.close()
    rmSync(temp, { force: true })
    throw e
  }
  db.close()
  for (const suffix of ['-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true })
  renameSync(temp, path)
  for (const suffix of ['-wal', '-shm']) if (existsSync(temp + suffix)) rmSync(temp + suffix, { force: true })
  report.durationMs = Math.round(performance.now() - started)
  return report
}

/**
 * Segments from the snapshot's next one on, while they chain (each one's `after` is the previous
 * one's last seq). A missing number with later ones present, or a bad segment that is not the last,
 * breaks the chain: what follows cannot be applied safely and is counted, loudly. A bad last segment
 * is what a crash during its upload leaves: skipped with a WARN.
 */
async function applySegments(target: ReplicaTarget, db: Database, manifest: SnapshotManifest, report: RestoreReport, logger: Logger): Promise<void> {
  const indexes = (await target.list(`${generationDir(manifest.generation)}segments/`))
    .map(segmentIndex)
    .filter((i): i is number => i !== null && i >= manifest.nextSegment)
  const highest = indexes.length ? Math.max(...indexes) : manifest.nextSegment - 1
  const present = new Set(indexes)
  const applier = new EntryApplier(db)
  let after = manifest.through
  try {
    for (let index = manifest.nextSegment; index <= highest; index++) {
      const isLast = index === highest
      const broken = (reason: string) => {
        const later = indexes.filter((i) => i > index).length
        if (isLast) {
          report.skippedSegments++
          logger.warn({ event: 'replica_segment_skipped', generation: manifest.generation, segment: index, reason }, 'the last replica segment is incomplete (cut off during its upload); skipped')
        } else {
          report.unreachableSegments += later + 1
          logger.error(
            { event: 'replica_gap', generation: manifest.generation, segment: index, reason, not_applied: later + 1 },
            'the replica has a gap: restored up to it; the segments after it are not applied',
          )
        }
      }
      if (!present.has(index)) {
        broken('missing')
        return
      }
      const bytes = await target.get(segmentKey(manifest.generation, index))
      let segment
      try {
        if (!bytes) throw new SegmentError('deleted while restoring')
        segment = decodeSegment(bytes)
        if (segment.header.index !== index || segment.header.generation !== manifest.generation) throw new SegmentError('stored under the wrong name')
        if (segment.header.after !== after) throw new SegmentError(`does not follow seq ${after} (it follows ${segment.header.after})`)
      } catch (e) {
        if (!(e instanceof SegmentError)) throw e
        broken(e.message)
        return
      }
      db.transaction(() => {
        for (const entry of segment.entries) if (entry.seq > manifest.through) applier.apply(entry)
      })()
      after = segment.header.last
      report.segments++
      report.entries += segment.entries.length
    }
  } finally {
    applier.finalize()
  }
}
