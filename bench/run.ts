// `bun run bench`: this server beside raw Bun baselines, measured in one run on one machine, written
// to bench/RESULTS.md. Loopback only; every process it starts is ended by its PID and the PostgreSQL
// database it creates is dropped, also on Ctrl-C or an error.
//
//   BENCH_QUICK=1          smoke run (1-2 s per figure); prints, writes only to BENCH_OUTPUT if set
//   BENCH_DURATION_S       seconds per measured wrk run (default 2)
//   BENCH_ROUNDS           interleaved rounds of each throughput figure (default 7)
//   BENCH_LOAD_S           seconds of mixed load before the "after load" memory figure (default 60)
//   BENCH_DATABASE_URL     PostgreSQL to create the bench database in (default postgres://postgres@127.0.0.1:5432/postgres)
//   BENCH_OUTPUT           where to write the results (default bench/RESULTS.md)
//   BENCH_ONLY             some of postgres,pooled,sqlite,failover,cold-start,memory,replica,big-notes,remote (prints; writes only to BENCH_OUTPUT)
//   BENCH_SERVER_ENTRY     measure another checkout's entry file instead of src/index.ts
//   also BENCH_WARMUP_S, BENCH_THREADS, BENCH_CONNECTIONS, BENCH_REPLAY_N, BENCH_FAILOVER_TRIALS, BENCH_COLD_START_TRIALS,
//                        BENCH_REMOTE_SAMPLES
import { writeFileSync } from 'node:fs'
import { relative } from 'node:path'
import type { Account } from './lib/api.ts'
import type { BenchContext } from './lib/context.ts'
import { describeMachine } from './lib/machine.ts'
import { autovacuumSetting, createBenchDatabase, redactUrl, serverVersion, type BenchDatabase } from './lib/pg.ts'
import { Processes } from './lib/processes.ts'
import { renderMarkdown, Results, summaryTable } from './lib/report.ts'
import { readSettings } from './lib/settings.ts'
import { ensureWrk } from './lib/wrk.ts'
import { pgBouncerUnavailable } from '../test/helpers/pgbouncer.ts'
import { coldStart } from './scenarios/cold-start.ts'
import { failover } from './scenarios/failover.ts'
import { bigNotes } from './scenarios/big-notes.ts'
import { memory } from './scenarios/memory.ts'
import { remoteDatabase } from './scenarios/remote.ts'
import { replica } from './scenarios/replica.ts'
import { HEALTH_WRK, pooledSuite, postgresSuite, sqliteSuite } from './scenarios/suites.ts'
import { throughputTable, type ThroughputOutcome } from './scenarios/throughput.ts'
import { join } from 'node:path'

const PG_FIGURES = [
  'outbox replay',
  'GET /health req/s',
  'note list (20 rows), PostgreSQL req/s',
  'note create, PostgreSQL req/s',
  'p99 of GET /health during login bursts',
  'failover timings',
  'remote database round trips',
  'resident memory',
]

async function main(): Promise<void> {
  const settings = readSettings()
  const procs = new Processes()
  const results = new Results()
  let db: BenchDatabase | null = null
  const extraDbs: BenchDatabase[] = []
  let cleaning: Promise<void> | null = null
  const cleanup = () =>
    (cleaning ??= (async () => {
      await procs.cleanup()
      for (const d of [db, ...extraDbs]) await d?.drop().catch((e: unknown) => console.error(`could not drop ${d.name}: ${(e as Error).message}`))
    })())
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping every process the bench started and dropping its database`)
      void cleanup().finally(() => process.exit(130))
    })
  }

  const t0 = performance.now()
  const log = (message: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${message}`)
  try {
    await ensureWrk()
    const pg = await serverVersion(settings.databaseUrl)
    const ctx: BenchContext = { settings, procs, results, dir: procs.tempDir('scratch'), log }
    const account: Account = { email: 'bench-admin@example.com', password: `bench-${crypto.randomUUID()}`.slice(0, 40) }
    const jwtSecret = `bench-${crypto.randomUUID()}-${crypto.randomUUID()}`
    const outcomes: ThroughputOutcome[] = []
    const wanted = (group: string) => settings.only === null || settings.only.has(group)
    log(`bench ${settings.quick ? '(quick) ' : ''}— ${settings.durationS} s per wrk run, -t${settings.threads} -c${settings.connections}`)

    const needsPg = ['postgres', 'pooled', 'failover', 'memory', 'big-notes', 'remote'].some(wanted)
    if (pg && needsPg) {
      db = await createBenchDatabase(settings.databaseUrl)
      log(`PostgreSQL ${pg}: database ${db.name}`)
      if (wanted('postgres')) outcomes.push(...(await postgresSuite(ctx, { databaseUrl: db.url, account, jwtSecret })))
      if (wanted('pooled')) {
        const why = pgBouncerUnavailable()
        if (why) results.missing('note list and create via PgBouncer', 'reported', why)
        else outcomes.push(...(await pooledSuite(ctx, { databaseUrl: db.url, account, jwtSecret })))
      }
    } else if (needsPg) {
      console.warn(`PostgreSQL unreachable at ${redactUrl(settings.databaseUrl)}: its figures are reported as not measured`)
      for (const f of PG_FIGURES) results.missing(f, 'see the issue', `PostgreSQL unreachable at ${redactUrl(settings.databaseUrl)}`)
    }

    if (wanted('sqlite')) outcomes.push(...(await sqliteSuite(ctx, { account, jwtSecret })))

    if (db && wanted('failover')) {
      log('failover')
      // a database of its own: after each recovery the server copies PostgreSQL into SQLite, and
      // the steady-state figure should not depend on how much the other scenarios wrote
      const fresh = await createBenchDatabase(settings.databaseUrl)
      extraDbs.push(fresh)
      const fallbackPath = (name: string) => join(procs.tempDir(name), 'app.db')
      await failover(ctx, { databaseUrl: fresh.url, account, jwtSecret, fallbackPath })
    }
    if (db && wanted('remote')) {
      log('remote database round trips')
      // a database of its own, so that the page and list queries do not depend on what the others wrote
      const fresh = await createBenchDatabase(settings.databaseUrl)
      extraDbs.push(fresh)
      await remoteDatabase(ctx, { databaseUrl: fresh.url, account, jwtSecret, fallbackPath: join(procs.tempDir('remote'), 'app.db') })
    }
    if (wanted('cold-start')) {
      log('cold start')
      await coldStart(ctx, { account, jwtSecret })
    }
    if (wanted('replica')) {
      log('replica')
      await replica(ctx, { account, jwtSecret })
    }
    if (db && wanted('memory')) {
      log('memory')
      const fresh = await createBenchDatabase(settings.databaseUrl)
      extraDbs.push(fresh)
      const fallbackPath = (name: string) => join(procs.tempDir(name), 'app.db')
      await memory(ctx, { freshDatabaseUrl: fresh.url, filledDatabaseUrl: db.url, account, jwtSecret, fallbackPath })
    }

    if (wanted('big-notes')) {
      log('big-notes attack')
      await bigNotes(ctx, { databaseUrl: null, account, jwtSecret, fallbackPath: join(procs.tempDir('big-notes-sqlite'), 'app.db'), label: 'SQLite' })
      if (db) {
        const fresh = await createBenchDatabase(settings.databaseUrl)
        extraDbs.push(fresh)
        await bigNotes(ctx, { databaseUrl: fresh.url, account, jwtSecret, fallbackPath: join(procs.tempDir('big-notes-pg'), 'app.db'), label: 'PostgreSQL' })
      }
    }

    if (outcomes.length > 0) results.sections.unshift({
      title: 'Throughput',
      body: `wrk -t${settings.threads} -c${settings.connections} -d${settings.durationS}s per process (a ${settings.warmupS} s warm-up first), in ${settings.rounds} interleaved
round(s) — server, baseline, server at info; then server at info, baseline, server; … Each ratio in the summary is
the median of the per-round ratios (a server run against the baseline run right beside it), req/s is each process's
median round, and the last column lists every round: the spread is the machine's noise.
"this server (warn)" is \`bun src/index.ts\` with LOG_LEVEL=warn (no per-request log line); "(info)" is the same at
the default LOG_LEVEL=info, writing one JSON line per request to a file. "CPU per request" is the serving process's
user + system time (\`/proc/<pid>/stat\`) during the run divided by the requests served: less sensitive than req/s
to whatever else the machine is doing. Authenticated routes carry the bearer token of a login made before the run;
note create posts \`{"title":"bench note","body":"…"}\` (about 80 bytes). Before the PostgreSQL runs the bench runs
\`ANALYZE\`, as autovacuum would (it is off on the shared test server: without it the planner keeps the statistics of
an empty table and sorts every note of the user for a page of 20).

What the raw baselines do (\`bench/baselines/\`, plain \`Bun.serve\`, no framework):
- \`health.ts\`: returns the same /health JSON fields (built per request, like the server's): a body of the same
  byte size with the same Content-Type (\`application/json\`), which the bench checks before measuring. The /health
  row is measured with wrk -t1 -c32 (issue 16), the other rows with the run's settings; a second instance also
  sends the headers the server sends on other routes (copied from a live /config/database response, plus an
  X-Request-Id of its own), shown as an extra row: what the five page-protection headers cost by themselves, and
  why probes (/health, /health/live, /health/ready) answer without them. The server answers GET /health from
  \`Bun.serve({ routes })\` ahead of Hono (\`healthFastRoute\`), with the same body, headers and log line.
- \`pg-notes.ts\`: HS256 verification with Web Crypto (key imported once), the auth guard's statement (the
  account and its session in one query, \`users.getForSession\`), then the same note SQL through postgres.js
  (the server's page statement: the 21 newest notes of the owner within a 2 MiB text budget, or
  \`insert into notes (<columns>) values ($1, …) returning <the note columns>\`, written the way
  the server writes it), pool of 10, prepared statements, statement_timeout set. The bench servers run with
  \`NOTES_MAX_PER_USER\` and \`NOTES_MAX_BYTES_PER_USER\` raised out of the way: the runs write tens of thousands of
  notes as one user. For the "via PgBouncer" rows the same baseline goes through the same private PgBouncer
  (transaction mode, refusing startup parameters, as Neon's pooler does) with \`POOLED=1\`: no startup parameters,
  unnamed statements — what the server then does too.
- \`sqlite-notes.ts\`: the same on bun:sqlite, the same SQL text prepared once, on the server's own database file
  with the same pragmas; the insert in \`BEGIN IMMEDIATE\`.

They do not do what the framework and the design add: request id, security headers, body limit, zod
validation, the per-request log line, the error frame, the write gate and failover routing — and on PostgreSQL,
the server's mirror write of every created note into SQLite (gathered for 20 ms and applied in one SQLite
transaction, after the answer). That difference is what the ratio measures. One thing the server does that the
baselines do not: SQLite writes made in the same event-loop turn share one COMMIT (group commit; each write is
still acknowledged only after its COMMIT), where the SQLite baseline commits each insert on its own. That is why
the server's SQLite create can beat its baseline.

${throughputTable(outcomes)}`,
    })

    const elapsedS = (performance.now() - t0) / 1000
    const machine = await describeMachine(pg && db ? `${pg} (autovacuum ${await autovacuumSetting(db.url)})` : pg)
    const envUsed = Object.entries(process.env)
      .filter(([k]) => k.startsWith('BENCH_') && !['BENCH_DATABASE_URL', 'BENCH_OUTPUT'].includes(k))
      .map(([k, v]) => `${k}=${v}`)
    const command = `${envUsed.length ? `${envUsed.join(' ')} ` : ''}bun run bench`
    const md = renderMarkdown({
      results,
      machine,
      command,
      settings: `wrk -t${settings.threads} -c${settings.connections} (GET /health: -t${HEALTH_WRK.threads} -c${HEALTH_WRK.connections}), ${settings.durationS} s per measured run; ${settings.loadS} s mixed load for memory; ${settings.replayN} replayed writes; ${settings.failoverTrials} trial(s) per fault; ${settings.coldStartTrials} cold starts; ${settings.remoteSamples} requests per route with and without the delay for the remote-database round trips.`,
      elapsedS,
    })
    console.log(`\n${summaryTable(results)}\n`)
    if (settings.output) {
      writeFileSync(settings.output, md)
      log(`wrote ${relative(process.cwd(), settings.output) || settings.output}`)
    }
    const missed = results.figures.filter((f) => f.met === false)
    log(`${results.figures.filter((f) => f.met === true).length} targets met, ${missed.length} missed`)
  } finally {
    await cleanup()
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e))
  process.exit(1)
})
