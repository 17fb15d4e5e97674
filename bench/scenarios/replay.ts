// Outbox replay: pin the server to SQLite (admin API), write N notes (journaled in the outbox), switch
// back to PostgreSQL (which replays the outbox first) and read the replay's own figures from its
// 'recovered' log line. Baseline: raw postgres.js inserting the same number of note rows in
// batches of the replay's size (500), one transaction per batch.
import postgres from 'postgres'
import { adminPost, createNotes, health, NOTE } from '../lib/api.ts'
import type { BenchContext } from '../lib/context.ts'
import { fmtInt, fmtMs, fmtPct, table } from '../lib/report.ts'
import type { Running } from '../lib/servers.ts'

const TARGET_OPS_S = 5_000
const BATCH = 500

async function rawBatchInsert(url: string, ownerId: string, n: number): Promise<number> {
  const sql = postgres(url, { max: 1, prepare: true, onnotice: () => {} })
  try {
    const now = new Date().toISOString()
    const rows = Array.from({ length: n }, () => ({
      id: Bun.randomUUIDv7(),
      owner_id: ownerId,
      title: NOTE.title,
      body: NOTE.body,
      search_text: `${NOTE.title}\n${NOTE.body}`.toLowerCase(),
      created_at: now,
      updated_at: now,
      version: 1,
    }))
    const started = performance.now()
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH)
      await sql.begin((tx) => tx`insert into notes ${tx(batch)}`)
    }
    return performance.now() - started
  } finally {
    await sql.end({ timeout: 1 })
  }
}

export async function outboxReplay(ctx: BenchContext, o: { server: Running; token: string; databaseUrl: string }): Promise<void> {
  const n = ctx.settings.replayN
  const base = o.server.baseUrl
  const me = await fetch(`${base}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${o.token}` } }).then((r) => r.json() as Promise<any>)
  const ownerId = me.user.id as string

  const toFallback = await adminPost(base, o.token, '/api/v1/sqlite-fallback/switch-to-fallback')
  if (toFallback.status !== 200) throw new Error(`switch-to-fallback: ${toFallback.status} ${JSON.stringify(toFallback.body)}`)
  ctx.log(`  writing ${fmtInt(n)} notes on SQLite (journaled)`)
  const wroteAt = performance.now()
  await createNotes(base, o.token, n, 32)
  const writeMs = performance.now() - wroteAt
  const pending = (await health(base)).outbox_pending as number

  ctx.log('  switch-to-primary (replays the outbox)')
  const before = o.server.spawned.records().length
  const callAt = performance.now()
  const toPrimary = await adminPost(base, o.token, '/api/v1/sqlite-fallback/switch-to-primary')
  const callMs = performance.now() - callAt
  if (toPrimary.status !== 200) throw new Error(`switch-to-primary: ${toPrimary.status} ${JSON.stringify(toPrimary.body)}`)
  const recovered = o.server.spawned.records().slice(before).find((r) => r.event === 'recovered')
  if (!recovered) throw new Error("no 'recovered' log line after switch-to-primary (the replay server must log at info)")
  const applied = recovered.applied as number
  const replayMs = recovered.duration_ms as number
  const rate = applied / (replayMs / 1000)

  ctx.log('  raw postgres.js batch insert')
  const rawMs = await rawBatchInsert(o.databaseUrl, ownerId, n)
  const rawRate = n / (rawMs / 1000)
  ctx.log(`    ${fmtInt(rate)} vs ${fmtInt(rawRate)} ops/s`)

  ctx.results.add({
    label: `outbox replay into local PostgreSQL, operations/s (${fmtInt(applied)} ops)`,
    server: fmtInt(rate),
    baseline: fmtInt(rawRate),
    ratio: fmtPct(rate / rawRate),
    target: `≥ ${fmtInt(TARGET_OPS_S)} ops/s`,
    met: applied >= n && rate >= TARGET_OPS_S,
    ...(applied < n ? { note: `only ${applied} of ${n} applied` } : {}),
  })
  ctx.results.section(
    'Outbox replay',
    `The server is pinned to SQLite with \`POST /api/v1/sqlite-fallback/switch-to-fallback\`, ${fmtInt(n)} notes are written
through the API (32 at a time), then \`POST .../switch-to-primary\` replays the outbox into PostgreSQL: per batch of
500, one transaction that claims the op ids in \`applied_ops\` and upserts each row with the last-writer-wins rule
(statements pipelined in segments of 100). "replay" is the server's own \`recovered\` log line (\`applied\`,
\`duration_ms\`: migrate check, replay, write pause and flip). The raw baseline inserts the same number of note rows
with postgres.js, \`insert into notes \${sql(rows)}\` in batches of ${BATCH}, one transaction per batch: no
exactly-once bookkeeping, no conflict rule, so it is the ceiling rather than an equivalent.

${table(
  ['step', 'figure'],
  [
    ['notes written on SQLite while pinned (outbox journaling, synchronous=FULL)', `${fmtInt(n)} in ${fmtMs(writeMs)} = ${fmtInt(n / (writeMs / 1000))} writes/s`],
    ['outbox entries pending before the switch', fmtInt(pending)],
    ['replay (server log: applied / duration_ms)', `${fmtInt(applied)} in ${fmtMs(replayMs)} = ${fmtInt(rate)} ops/s`],
    ['whole switch-to-primary call (replay + re-seed + snapshot copy PostgreSQL → SQLite)', fmtMs(callMs)],
    ['raw postgres.js multi-row insert, batches of 500', `${fmtInt(n)} in ${fmtMs(rawMs)} = ${fmtInt(rawRate)} rows/s`],
  ],
)}`,
  )
}
