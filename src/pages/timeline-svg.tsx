/** @jsxImportSource hono/jsx */
// The last 24 hours as two inline SVG charts drawn on the server: which mode served (a band of
// coloured segments) and the primary's probe latency (one bar per minute; failed probes in red).
// Colours are presentation attributes and classes from status.css, never inline style (CSP).
import { HISTORY_WINDOW_MS, type HistorySnapshot, type ModeChange } from '../db/history.ts'
import type { Mode } from '../db/runtime.ts'

const W = 720
const LEFT = 58
const PLOT = W - LEFT - 8
const BAND_H = 22
const LAT_H = 80

const MODE_CLASS: Record<Mode, string> = { primary: 'm-primary', fallback: 'm-fallback', recovering: 'm-recovering' }

const x = (t: number, start: number) => LEFT + ((t - start) / HISTORY_WINDOW_MS) * PLOT
const fixed = (n: number) => Math.round(n * 10) / 10

function HourTicks({ y }: { y: number }) {
  const ticks = []
  for (let h = 0; h <= 24; h += 6) {
    const tx = fixed(LEFT + (h / 24) * PLOT)
    ticks.push(
      <g>
        <line x1={tx} x2={tx} y1={y - 4} y2={y} stroke="#8a94a6" stroke-width="1" />
        <text x={tx} y={y + 12} text-anchor="middle" font-size="10" fill="#5b6475">
          {h === 24 ? 'now' : `−${24 - h} h`}
        </text>
      </g>,
    )
  }
  return <g>{ticks}</g>
}

function segments(modes: ModeChange[], now: number): Array<{ from: number; to: number; mode: Mode }> {
  return modes.map((m, i) => ({ from: m.at, to: modes[i + 1]?.at ?? now, mode: m.mode }))
}

export function ModeTimeline({ history }: { history: HistorySnapshot }) {
  const start = history.now - HISTORY_WINDOW_MS
  const segs = segments(history.modes, history.now)
  const changes = Math.max(0, history.modes.length - 1)
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${BAND_H + 22}`} role="img" aria-labelledby="mode-title">
      <title id="mode-title">{`Mode over the last 24 hours: ${changes} change${changes === 1 ? '' : 's'}`}</title>
      <text x="0" y={BAND_H / 2 + 4} font-size="10" fill="#5b6475">mode</text>
      <rect x={LEFT} y="0" width={PLOT} height={BAND_H} class="m-none" />
      {segs.map((s) => (
        <rect
          x={fixed(x(s.from, start))}
          y="0"
          width={Math.max(1, fixed(x(s.to, start) - x(s.from, start)))}
          height={BAND_H}
          class={MODE_CLASS[s.mode]}
        >
          <title>{`${s.mode} from ${new Date(s.from).toISOString()}`}</title>
        </rect>
      ))}
      <HourTicks y={BAND_H + 6} />
    </svg>
  )
}

export function LatencyChart({ history }: { history: HistorySnapshot }) {
  const start = history.now - HISTORY_WINDOW_MS
  const good = history.probes.flatMap((b) => (b.avg_ms === null ? [] : [b.avg_ms]))
  const top = Math.max(10, ...good)
  const barW = Math.max(1, fixed(PLOT / (24 * 60)))
  const failures = history.probes.reduce((n, b) => n + b.failures, 0)
  const probes = history.probes.reduce((n, b) => n + b.probes, 0)
  const summary =
    probes === 0
      ? 'No probes of the primary in the last 24 hours'
      : `Primary probe latency over the last 24 hours: ${probes} probes, ${failures} failed, average of the good ones ${good.length ? fixed(good.reduce((a, b) => a + b, 0) / good.length) : '–'} ms`
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${LAT_H + 22}`} role="img" aria-labelledby="latency-title">
      <title id="latency-title">{summary}</title>
      <text x="0" y="10" font-size="10" fill="#5b6475">{`${fixed(top)} ms`}</text>
      <text x="0" y={LAT_H} font-size="10" fill="#5b6475">0 ms</text>
      <rect x={LEFT} y="0" width={PLOT} height={LAT_H} class="plot" />
      {history.probes.map((b) => {
        const bx = fixed(x(b.at, start))
        if (b.avg_ms === null) return <rect x={bx} y="0" width={barW} height={LAT_H} class="probe-failed" />
        const h = Math.max(1, fixed((b.avg_ms / top) * LAT_H))
        return (
          <g>
            <rect x={bx} y={fixed(LAT_H - h)} width={barW} height={h} class="probe-ok" />
            {b.failures > 0 ? <rect x={bx} y="0" width={barW} height="4" class="probe-failed" /> : null}
          </g>
        )
      })}
      <HourTicks y={LAT_H + 6} />
    </svg>
  )
}

const CHANGES_LISTED = 8

/** The last mode changes in words, newest first: a short outage is a sliver on a 24 h band. */
export function ModeChanges({ history }: { history: HistorySnapshot }) {
  const changes = history.modes.slice(1).reverse().slice(0, CHANGES_LISTED)
  if (changes.length === 0) return <p class="legend" id="mode-changes">No mode change since this process started.</p>
  return (
    <ol class="changes" id="mode-changes">
      {changes.map((m) => (
        <li>
          <time datetime={new Date(m.at).toISOString()}>{new Date(m.at).toISOString().replace('T', ' ').slice(0, 19)} UTC</time> → {m.mode}
        </li>
      ))}
    </ol>
  )
}
