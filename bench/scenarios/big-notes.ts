// The attack of issue 17, item 3: one user writes 100 notes of about 1 MB, then asks for them with 12
// parallel GET /api/v1/notes?limit=100, three times over. Before the fix resident memory went from
// 88 MB to 1.46 GB on SQLite and 3.0 GB on PostgreSQL. Reported: the server's peak RSS (VmHWM) and
// whether the PostgreSQL one failed over while its event loop was busy.
import type { Account } from '../lib/api.ts'
import { login } from '../lib/api.ts'
import type { BenchContext } from '../lib/context.ts'
import { peakRssBytes, rssBytes } from '../lib/proc-fs.ts'
import { fmtMb } from '../lib/report.ts'
import { startServer } from '../lib/servers.ts'

const NOTES = 100
const NOTE_CHARS = 1_000_000
const PARALLEL = 12
const ROUNDS = 3
/** generous: a bound on growth, far below the gigabytes of the unbounded pages */
const PEAK_TARGET = 400 * 1024 * 1024

async function attack(baseUrl: string, token: string): Promise<{ pages: number; failed: number }> {
  const auth = { Authorization: `Bearer ${token}` }
  const body = 'x'.repeat(NOTE_CHARS - 20)
  for (let i = 0; i < NOTES; i++) {
    const res = await fetch(`${baseUrl}/api/v1/notes`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ title: `big ${i}`, body }) })
    await res.arrayBuffer()
    if (res.status !== 201) throw new Error(`note create failed: ${res.status}`)
  }
  let pages = 0
  let failed = 0
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        const res = await fetch(`${baseUrl}/api/v1/notes?limit=100`, { headers: auth })
        await res.arrayBuffer()
        if (res.status === 200) pages++
        else failed++
      }),
    )
  }
  return { pages, failed }
}

export async function bigNotes(ctx: BenchContext, o: { databaseUrl: string | null; account: Account; jwtSecret: string; fallbackPath: string; label: string }): Promise<void> {
  const server = await startServer(ctx.procs, ctx.settings.serverEntry, {
    name: `big-notes-${o.label}`,
    logLevel: 'warn',
    databaseUrl: o.databaseUrl,
    fallbackPath: o.fallbackPath,
    jwtSecret: o.jwtSecret,
    admin: o.account,
  })
  try {
    const idle = rssBytes(server.spawned.pid) ?? NaN
    const token = await login(server.baseUrl, o.account)
    const { pages, failed } = await attack(server.baseUrl, token)
    const peak = peakRssBytes(server.spawned.pid) ?? NaN
    const health = (await (await fetch(`${server.baseUrl}/health`)).json()) as { mode?: string; fallback_active?: boolean }
    const failedOver = o.databaseUrl !== null && health.mode !== 'primary'
    ctx.log(`  ${o.label}: idle ${fmtMb(idle)}, peak ${fmtMb(peak)}; ${pages} pages, ${failed} failed; mode ${health.mode}`)
    ctx.results.add({
      label: `peak RSS under the big-notes attack (${NOTES} × 1 MB notes, ${PARALLEL} parallel pages × ${ROUNDS}), ${o.label}`,
      server: `${fmtMb(peak)} (idle ${fmtMb(idle)})`,
      baseline: '—',
      ratio: '—',
      target: `≤ ${fmtMb(PEAK_TARGET)}, no failover`,
      met: peak <= PEAK_TARGET && failed === 0 && !failedOver,
      ...(failedOver ? { note: 'the server failed over during the attack' } : {}),
    })
  } finally {
    await server.spawned.stop()
  }
}
