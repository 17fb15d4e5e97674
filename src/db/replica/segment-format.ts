// A segment file: the log entries of one upload, written start to end once and never changed.
//
//   line 1      header {format, generation, index, after, last, count, created_at}
//   lines 2..   one entry each: [seq, table, op, row, at]
//   last line   {"sha256": hex of every byte before this line}
//
// A file cut short (a crash during the write, an upload torn off) has no valid last line, so it is
// told from a complete one without trusting its size.
import type { LogEntry, LogOp } from './change-log.ts'

export interface SegmentHeader {
  format: 'replica-segment/1'
  generation: string
  index: number
  /** the last seq of the previous segment (or of the snapshot): no gap if they chain */
  after: number
  last: number
  count: number
  createdAt: string
}

export interface Segment {
  header: SegmentHeader
  entries: LogEntry[]
}

export class SegmentError extends Error {
  override readonly name = 'SegmentError'
}

const sha256 = (text: string) => new Bun.CryptoHasher('sha256').update(text).digest('hex')

export function encodeSegment(header: Omit<SegmentHeader, 'format' | 'count' | 'last'>, entries: LogEntry[]): Uint8Array {
  if (entries.length === 0) throw new SegmentError('a segment holds at least one entry')
  const full: SegmentHeader = { format: 'replica-segment/1', ...header, last: entries.at(-1)!.seq, count: entries.length }
  let body = `${JSON.stringify(full)}\n`
  for (const e of entries) body += `${JSON.stringify([e.seq, e.tbl, e.op, e.row, e.at])}\n`
  return new TextEncoder().encode(`${body}${JSON.stringify({ sha256: sha256(body) })}\n`)
}

/** throws SegmentError when the file is cut short, altered, or not a segment */
export function decodeSegment(bytes: Uint8Array): Segment {
  const text = new TextDecoder().decode(bytes)
  if (!text.endsWith('}\n')) throw new SegmentError('truncated: no checksum line at the end')
  const cut = text.lastIndexOf('\n', text.length - 2)
  const body = text.slice(0, cut + 1)
  let sum: unknown
  try {
    sum = (JSON.parse(text.slice(cut + 1)) as { sha256?: unknown }).sha256
  } catch {
    throw new SegmentError('truncated: the last line is not a checksum')
  }
  if (sum !== sha256(body)) throw new SegmentError('checksum mismatch')
  const lines = body.split('\n').slice(0, -1)
  const header = JSON.parse(lines[0]!) as SegmentHeader
  if (header.format !== 'replica-segment/1') throw new SegmentError(`unknown format ${String(header.format)}`)
  const entries = lines.slice(1).map((line) => {
    const [seq, tbl, op, row, at] = JSON.parse(line) as [number, string, LogOp, Record<string, unknown>, number]
    return { seq, tbl, op, row, at }
  })
  if (entries.length !== header.count || entries.at(-1)?.seq !== header.last) throw new SegmentError('entry count or last seq does not match the header')
  return { header, entries }
}
