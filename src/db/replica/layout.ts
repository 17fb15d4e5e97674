// Where things live in a replica. Everything of one writer's run is under its generation, named by a
// UUIDv7 (so names sort by start time):
//
//   generations/<gen>/snapshots/<through>.db     a whole SQLite file holding every change <= through
//   generations/<gen>/snapshots/<through>.json   its manifest, written last: only then is it usable
//   generations/<gen>/segments/<index>.seg       changes after the previous segment, numbered 1, 2, …
//
// Numbers are zero-padded so that names sort as numbers do.

const pad = (n: number, width: number) => String(n).padStart(width, '0')

export const GENERATIONS = 'generations/'

export const generationDir = (gen: string) => `${GENERATIONS}${gen}/`
export const snapshotDbKey = (gen: string, through: number) => `${generationDir(gen)}snapshots/${pad(through, 16)}.db`
export const snapshotManifestKey = (gen: string, through: number) => `${generationDir(gen)}snapshots/${pad(through, 16)}.json`
export const segmentKey = (gen: string, index: number) => `${generationDir(gen)}segments/${pad(index, 10)}.seg`

const GEN_RE = /^generations\/([0-9a-f-]{36})\//
const MANIFEST_RE = /^generations\/[0-9a-f-]{36}\/snapshots\/(\d{16})\.json$/
const SNAPSHOT_FILE_RE = /^generations\/[0-9a-f-]{36}\/snapshots\/(\d{16})\.(db|json)$/
const SEGMENT_RE = /^generations\/[0-9a-f-]{36}\/segments\/(\d{10})\.seg$/

export const generationOf = (key: string): string | null => GEN_RE.exec(key)?.[1] ?? null
export const manifestThrough = (key: string): number | null => {
  const m = MANIFEST_RE.exec(key)
  return m ? Number(m[1]) : null
}
/** the `through` of a snapshot's file or manifest */
export const snapshotFileThrough = (key: string): number | null => {
  const m = SNAPSHOT_FILE_RE.exec(key)
  return m ? Number(m[1]) : null
}
export const segmentIndex = (key: string): number | null => {
  const m = SEGMENT_RE.exec(key)
  return m ? Number(m[1]) : null
}

/** a snapshot is usable once this, the last thing written for it, is stored */
export interface SnapshotManifest {
  format: 'replica-snapshot/1'
  generation: string
  /** every change with seq <= through is in the file */
  through: number
  /** the first segment holding changes after it */
  nextSegment: number
  dbKey: string
  sha256: string
  size: number
  createdAt: string
}
