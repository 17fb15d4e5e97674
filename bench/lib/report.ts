// The figures of a run and how they are written: one summary table (each figure beside its raw
// baseline and its target), then the detail tables each scenario adds.

export interface Figure {
  /** what is measured, e.g. "GET /health req/s" */
  label: string
  server: string
  baseline: string
  /** server ÷ baseline, where that makes sense */
  ratio: string
  target: string
  /** null: reported, no target */
  met: boolean | null
  note?: string
}

export interface Section {
  title: string
  /** markdown: tables and a few words on what was measured */
  body: string
}

export class Results {
  readonly figures: Figure[] = []
  readonly sections: Section[] = []
  readonly problems: string[] = []

  add(f: Figure): void {
    this.figures.push(f)
  }

  section(title: string, body: string): void {
    this.sections.push({ title, body })
  }

  /** a figure that could not be measured: still listed, with the reason */
  missing(label: string, target: string, reason: string): void {
    this.figures.push({ label, server: 'not measured', baseline: '—', ratio: '—', target, met: false, note: reason })
    this.problems.push(`${label}: ${reason}`)
  }
}

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US')
export const fmtMs = (n: number): string => (n >= 100 ? `${Math.round(n)} ms` : `${n.toFixed(n >= 10 ? 1 : 2)} ms`)
export const fmtMb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`
export const fmtPct = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`
export const mark = (met: boolean | null): string => (met === null ? '—' : met ? '✅ met' : '❌ missed')

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function summaryTable(r: Results): string {
  return table(
    ['figure', 'this server', 'raw baseline', 'ratio', 'target', 'result'],
    r.figures.map((f) => [f.label + (f.note ? ` (${f.note})` : ''), f.server, f.baseline, f.ratio, f.target, mark(f.met)]),
  )
}

export interface Machine {
  cpus: number
  model: string
  memory: string
  kernel: string
  bun: string
  postgres: string | null
  wrk: string
  date: string
}

export function renderMarkdown(o: { results: Results; machine: Machine; command: string; settings: string; elapsedS: number }): string {
  const m = o.machine
  const parts = [
    '# Benchmarks',
    '',
    'This server beside raw Bun baselines, measured in the same run on the same machine. Regenerate with:',
    '',
    '```sh',
    o.command,
    '```',
    '',
    `Machine: ${m.cpus} vCPU (${m.model}), ${m.memory} RAM, Linux ${m.kernel}; Bun ${m.bun}; PostgreSQL ${m.postgres ?? 'unreachable'} on loopback; ${m.wrk}.`,
    `Run: ${m.date}, ${Math.round(o.elapsedS)} s in all. ${o.settings}`,
    '',
    'Every "raw baseline" is a separate `Bun.serve` process with no framework, doing the same database work with the',
    'same driver (see `bench/baselines/`). Load comes from `wrk` in its own process; each pair is measured back to back',
    'with the same wrk settings after an unmeasured warm-up, in interleaved rounds; a ratio is the median of the per-round ratios.',
    'Ratios are this server ÷ baseline. wrk, the server and PostgreSQL share the machine\'s CPUs, and so does whatever',
    'else runs on it: req/s can move by 20-40% between runs on a busy machine. The CPU time each process spent per',
    'request (in the Throughput table) moves much less and shows where the difference comes from.',
    '',
    '## Summary',
    '',
    summaryTable(o.results),
    '',
  ]
  if (o.results.problems.length > 0) {
    parts.push('## Not measured', '', ...o.results.problems.map((p) => `- ${p}`), '')
  }
  for (const s of o.results.sections) parts.push(`## ${s.title}`, '', s.body.trim(), '')
  return `${parts.join('\n').trimEnd()}\n`
}
