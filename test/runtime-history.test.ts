// The in-memory history the status page draws: bounded, 24 hours wide, folded per minute.
import { describe, expect, test } from 'bun:test'
import { HISTORY_WINDOW_MS, RuntimeHistory } from '../src/db/history.ts'

const MINUTE = 60_000

function clock(start = Date.UTC(2026, 0, 1)) {
  let now = start
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

describe('RuntimeHistory', () => {
  test('mode changes are kept once each, in order; a repeated mode is not a change', () => {
    const c = clock()
    const h = new RuntimeHistory(c.now)
    h.modeChanged('primary')
    c.advance(1000)
    h.modeChanged('primary')
    h.modeChanged('fallback')
    c.advance(1000)
    h.modeChanged('recovering')
    h.modeChanged('primary')
    expect(h.snapshot().modes.map((m) => m.mode)).toEqual(['primary', 'fallback', 'recovering', 'primary'])
  })

  test('the window starts in the mode in force 24 h ago, clipped to the window', () => {
    const c = clock()
    const h = new RuntimeHistory(c.now)
    h.modeChanged('primary')
    c.advance(MINUTE)
    h.modeChanged('fallback')
    c.advance(HISTORY_WINDOW_MS + MINUTE)
    h.modeChanged('primary')
    const { now, modes } = h.snapshot()
    expect(modes).toEqual([
      { at: now - HISTORY_WINDOW_MS, mode: 'fallback' },
      { at: now, mode: 'primary' },
    ])
  })

  test('probes fold into one bucket per minute: count, failures, average and maximum of the good ones', () => {
    const c = clock()
    const h = new RuntimeHistory(c.now)
    h.probed(true, 2)
    h.probed(true, 4)
    h.probed(false, 1000)
    c.advance(MINUTE)
    h.probed(false, 1000)
    const { probes } = h.snapshot()
    expect(probes).toEqual([
      { at: c.now() - MINUTE, probes: 3, failures: 1, avg_ms: 3, max_ms: 4 },
      { at: c.now(), probes: 1, failures: 1, avg_ms: null, max_ms: null },
    ])
  })

  test('bounded: a day and more of probes keeps at most one day of buckets, and only the last day is shown', () => {
    const c = clock()
    const h = new RuntimeHistory(c.now)
    for (let i = 0; i < 1500; i++) {
      h.probed(true, 1)
      c.advance(MINUTE)
    }
    const { now, probes } = h.snapshot()
    expect(probes.length).toBeLessThanOrEqual(HISTORY_WINDOW_MS / MINUTE)
    expect(probes[0]!.at + MINUTE).toBeGreaterThan(now - HISTORY_WINDOW_MS)
  })

  test('empty: nothing recorded, nothing drawn', () => {
    expect(new RuntimeHistory().snapshot()).toMatchObject({ modes: [], probes: [] })
  })
})
