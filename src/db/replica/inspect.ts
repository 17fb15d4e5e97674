// What a replica holds, per generation, for `bun run db replica status`.
import { generationDir, manifestThrough, segmentIndex } from './layout.ts'
import { listGenerations } from './restore.ts'
import type { ReplicaTarget } from './target.ts'

export interface GenerationSummary {
  generation: string
  /** seq of each complete snapshot (manifest present), oldest first */
  snapshots: number[]
  segments: number
  firstSegment: number | null
  lastSegment: number | null
}

export async function inspectReplica(target: ReplicaTarget): Promise<GenerationSummary[]> {
  const out: GenerationSummary[] = []
  for (const generation of await listGenerations(target)) {
    const keys = await target.list(generationDir(generation))
    const snapshots = keys.map(manifestThrough).filter((n): n is number => n !== null)
    const segments = keys.map(segmentIndex).filter((n): n is number => n !== null)
    out.push({
      generation,
      snapshots,
      segments: segments.length,
      firstSegment: segments.length ? Math.min(...segments) : null,
      lastSegment: segments.length ? Math.max(...segments) : null,
    })
  }
  return out
}
