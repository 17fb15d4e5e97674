// A consistent copy of the SQLite file, uploaded as a snapshot. VACUUM INTO reads one transaction's
// view of the file into a new local file while the store keeps serving; the copy's own log high-water
// says which changes it holds. The file goes up first, the manifest last: a snapshot whose manifest is
// missing was never finished and is never used.
import { Database } from 'bun:sqlite'
import { chmodSync, rmSync } from 'node:fs'
import { snapshotDbKey, snapshotManifestKey, type SnapshotManifest } from './layout.ts'
import type { ReplicaTarget } from './target.ts'

export interface LocalSnapshot {
  path: string
  through: number
  size: number
  sha256: string
}

export async function sha256OfFile(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher('sha256')
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk)
  return hasher.digest('hex')
}

/** VACUUM INTO `tempPath` from `db` (the replicator's connection), minus the already-covered log */
export async function takeLocalSnapshot(db: Database, tempPath: string): Promise<LocalSnapshot> {
  rmSync(tempPath, { force: true })
  db.run('VACUUM INTO ?', [tempPath])
  // it holds password and session token hashes: owner-only, here and wherever it is copied
  chmodSync(tempPath, 0o600)
  const copy = new Database(tempPath, { readwrite: true })
  let through: number
  try {
    through = copy.query<{ seq: number }, []>("SELECT seq FROM sqlite_sequence WHERE name = 'replica_log'").get()?.seq ?? 0
    // Entries up to `through` are in the rows themselves; a restore starts the log afresh.
    copy.run('DELETE FROM replica_log')
    copy.run('PRAGMA journal_mode = DELETE')
  } finally {
    copy.close()
  }
  return { path: tempPath, through, size: Bun.file(tempPath).size, sha256: await sha256OfFile(tempPath) }
}

export async function uploadSnapshot(target: ReplicaTarget, generation: string, snap: LocalSnapshot, nextSegment: number): Promise<SnapshotManifest> {
  const dbKey = snapshotDbKey(generation, snap.through)
  await target.put(dbKey, { localPath: snap.path })
  const manifest: SnapshotManifest = {
    format: 'replica-snapshot/1',
    generation,
    through: snap.through,
    nextSegment,
    dbKey,
    sha256: snap.sha256,
    size: snap.size,
    createdAt: new Date().toISOString(),
  }
  await target.put(snapshotManifestKey(generation, snap.through), new TextEncoder().encode(`${JSON.stringify(manifest)}\n`))
  return manifest
}
