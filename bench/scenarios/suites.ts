// The throughput suites: on PostgreSQL (health, note list, note create, then the login burst and
// the outbox replay while the same servers run) and on SQLite (note list, note create). Each suite
// starts this server twice (LOG_LEVEL=warn and =info) and its raw baselines, all idle but the one
// under load, and stops them all at the end.
import { join } from 'node:path'
import { createNotes, createUsers, login, NOTE, type Account } from '../lib/api.ts'
import type { BenchContext } from '../lib/context.ts'
import { analyze } from '../lib/pg.ts'
import { startBaseline, startServer, type Running } from '../lib/servers.ts'
import { startPgBouncer } from '../../test/helpers/pgbouncer.ts'
import { postJsonScript } from '../lib/wrk.ts'
import { loginBurst } from './login-burst.ts'
import { outboxReplay } from './replay.ts'
import { throughput, type ThroughputOutcome } from './throughput.ts'

export interface SuiteInput {
  account: Account
  jwtSecret: string
}

const LIST_ROWS = 20

/** The headers of a live response, without those every server adds itself (and the per-request id). */
async function serverHeaders(url: string): Promise<Record<string, string>> {
  const res = await fetch(url)
  await res.arrayBuffer()
  const skip = new Set(['date', 'content-length', 'x-request-id', 'connection', 'keep-alive'])
  return Object.fromEntries([...res.headers].filter(([k]) => !skip.has(k.toLowerCase())))
}

/** The /health row's wrk settings (issue 16): one wrk thread, leaving the other core to the server. */
export const HEALTH_WRK = { threads: 1, connections: 32 }

/**
 * The /health baseline must answer what the server answers: a body of the same byte size (the
 * uptime's digits aside: the two processes did not start in the same second) with the same
 * Content-Type. Throws, showing both, when it does not: the ratio would compare unlike answers.
 */
async function sameHealthAnswer(ctx: BenchContext, serverUrl: string, baselineUrl: string): Promise<void> {
  const read = async (url: string) => {
    const res = await fetch(url)
    const body = await res.text()
    return { body, bytes: Buffer.byteLength(body.replace(/"uptime_s":\d+/, '"uptime_s":0')), type: res.headers.get('content-type') }
  }
  const [server, baseline] = [await read(serverUrl), await read(baselineUrl)]
  if (server.bytes !== baseline.bytes || server.type !== baseline.type) {
    throw new Error(`the /health baseline does not answer like the server:\n  server   (${server.type}, ${server.bytes} bytes): ${server.body}\n  baseline (${baseline.type}, ${baseline.bytes} bytes): ${baseline.body}`)
  }
  ctx.log(`GET /health: server and baseline both answer ${server.bytes} bytes of ${server.type}`)
}

/** The processes a suite starts: each kept as it starts, all stopped together at the end. */
function processGroup() {
  const running: Running[] = []
  return {
    start: async (p: Promise<Running>): Promise<Running> => {
      const r = await p
      running.push(r)
      return r
    },
    stopAll: () => Promise.all(running.map((r) => r.spawned.stop())),
  }
}

const fallbackFile = (ctx: BenchContext, name: string) => join(ctx.procs.tempDir(name), 'app.db')

const authed = (r: Running, token: string, path: string, script?: string) => ({
  url: `${r.baseUrl}${path}`,
  pid: r.spawned.pid,
  headers: { Authorization: `Bearer ${token}` },
  ...(script ? { script } : {}),
})

/** note list (20 rows) and note create: this server at warn and at info beside the database's raw baseline */
async function noteThroughput(
  ctx: BenchContext,
  database: 'PostgreSQL' | 'PostgreSQL via PgBouncer' | 'SQLite',
  p: { server: Running; serverInfo: Running; baseline: Running; token: string; tokenInfo: string },
): Promise<ThroughputOutcome[]> {
  const outcomes: ThroughputOutcome[] = []
  for (const [label, script] of [[`note list (${LIST_ROWS} rows), ${database}`, undefined], [`note create, ${database}`, postJsonScript(NOTE)]] as const) {
    outcomes.push(
      await throughput(ctx, {
        label,
        minRatio: 0.75,
        server: authed(p.server, p.token, '/api/v1/notes', script),
        baseline: authed(p.baseline, p.token, '/api/v1/notes', script),
        serverInfo: authed(p.serverInfo, p.tokenInfo, '/api/v1/notes', script),
      }),
    )
  }
  return outcomes
}

export async function postgresSuite(ctx: BenchContext, o: SuiteInput & { databaseUrl: string }): Promise<ThroughputOutcome[]> {
  const repo = ctx.settings.repoRoot
  const { start, stopAll } = processGroup()
  try {
    const common = { databaseUrl: o.databaseUrl, jwtSecret: o.jwtSecret, admin: o.account }
    const server = await start(startServer(ctx.procs, ctx.settings.serverEntry, { ...common, name: 'pg-warn', logLevel: 'warn', fallbackPath: fallbackFile(ctx, 'pg-warn') }))
    const serverInfo = await start(startServer(ctx.procs, ctx.settings.serverEntry, { ...common, name: 'pg-info', logLevel: 'info', fallbackPath: fallbackFile(ctx, 'pg-info') }))
    const rawHealth = await start(startBaseline(ctx.procs, repo, 'health', {}))
    const rawPg = await start(startBaseline(ctx.procs, repo, 'pg-notes', { DATABASE_URL: o.databaseUrl, JWT_SECRET: o.jwtSecret }))
    // what the server sends with /health, and with every other route (a probe leaves out the page headers)
    const probeHeaders = await serverHeaders(`${server.baseUrl}/health`)
    const routeHeaders = await serverHeaders(`${server.baseUrl}/config/database`)
    const rawProbeHeaders = await start(startBaseline(ctx.procs, repo, 'health', { SAME_HEADERS: JSON.stringify(probeHeaders) }))
    const rawRouteHeaders = await start(startBaseline(ctx.procs, repo, 'health', { SAME_HEADERS: JSON.stringify(routeHeaders) }))
    const token = await login(server.baseUrl, o.account)
    const tokenInfo = await login(serverInfo.baseUrl, o.account)

    // first, while the database is small: the replay's switch back copies PostgreSQL into SQLite
    ctx.log('outbox replay (PostgreSQL)')
    await outboxReplay(ctx, { server: serverInfo, token: tokenInfo, databaseUrl: o.databaseUrl })

    await createNotes(server.baseUrl, token, LIST_ROWS)
    // autovacuum may be off (it is on the shared test server): refresh the planner's statistics after
    // the bulk load, as autovacuum would, or both the server and the baseline measure a stale plan
    await analyze(o.databaseUrl)
    const outcomes: ThroughputOutcome[] = []
    ctx.log('throughput (PostgreSQL)')
    await sameHealthAnswer(ctx, `${server.baseUrl}/health`, `${rawHealth.baseUrl}/health`)
    outcomes.push(
      await throughput(ctx, {
        label: 'GET /health',
        minRatio: 0.85,
        wrk: HEALTH_WRK,
        infoNote: 'reported: the default level, at which a probe that succeeds is not logged',
        server: { url: `${server.baseUrl}/health`, pid: server.spawned.pid },
        baseline: { url: `${rawHealth.baseUrl}/health`, pid: rawHealth.spawned.pid },
        serverInfo: { url: `${serverInfo.baseUrl}/health`, pid: serverInfo.spawned.pid },
        extra: [
          { label: `raw baseline + the server's ${Object.keys(probeHeaders).length + 1} /health headers`, target: { url: `${rawProbeHeaders.baseUrl}/health`, pid: rawProbeHeaders.spawned.pid } },
          { label: `raw baseline + the ${Object.keys(routeHeaders).length + 1} headers of other routes`, target: { url: `${rawRouteHeaders.baseUrl}/health`, pid: rawRouteHeaders.spawned.pid } },
        ],
      }),
    )
    outcomes.push(...(await noteThroughput(ctx, 'PostgreSQL', { server, serverInfo, baseline: rawPg, token, tokenInfo })))

    ctx.log('login burst (PostgreSQL)')
    const rawBun = await start(startBaseline(ctx.procs, repo, 'login', { HASHER: 'bun', LOGIN_PASSWORD: o.account.password, BCRYPT_COST: '10' }))
    const rawJs = await start(startBaseline(ctx.procs, repo, 'login', { HASHER: 'bcryptjs', LOGIN_PASSWORD: o.account.password, BCRYPT_COST: '10' }))
    // 20 users: the login limiter counts attempts per IP + email, so one account could not burst
    const users = await createUsers(server.baseUrl, token, 20, o.account.password)
    await loginBurst(ctx, { server: server.baseUrl, accounts: users, rawBun: rawBun.baseUrl, rawBcryptjs: rawJs.baseUrl, cost: 10 })
    return outcomes
  } finally {
    await stopAll()
  }
}

/**
 * Note list and create through a private PgBouncer in transaction mode (refusing startup parameters,
 * as Neon's pooler does) in front of the same PostgreSQL, beside a raw baseline through the same
 * pooler: what a user of a pooled URL gets, next to the direct figures above.
 */
export async function pooledSuite(ctx: BenchContext, o: SuiteInput & { databaseUrl: string }): Promise<ThroughputOutcome[]> {
  const repo = ctx.settings.repoRoot
  const { start, stopAll } = processGroup()
  const target = new URL(o.databaseUrl)
  const bouncer = await startPgBouncer({ targetHost: target.hostname, targetPort: Number(target.port || 5432), style: 'refuses-startup-parameters' })
  try {
    const pooledUrl = bouncer.pooledUrl(o.databaseUrl)
    const common = { databaseUrl: pooledUrl, jwtSecret: o.jwtSecret, admin: o.account }
    const server = await start(startServer(ctx.procs, ctx.settings.serverEntry, { ...common, name: 'pooled-warn', logLevel: 'warn', fallbackPath: fallbackFile(ctx, 'pooled-warn') }))
    const serverInfo = await start(startServer(ctx.procs, ctx.settings.serverEntry, { ...common, name: 'pooled-info', logLevel: 'info', fallbackPath: fallbackFile(ctx, 'pooled-info') }))
    const rawPg = await start(startBaseline(ctx.procs, repo, 'pg-notes', { DATABASE_URL: pooledUrl, JWT_SECRET: o.jwtSecret, POOLED: '1' }))
    const token = await login(server.baseUrl, o.account)
    const tokenInfo = await login(serverInfo.baseUrl, o.account)
    await createNotes(server.baseUrl, token, LIST_ROWS)
    await analyze(o.databaseUrl)
    ctx.log('throughput (PostgreSQL via PgBouncer)')
    return await noteThroughput(ctx, 'PostgreSQL via PgBouncer', { server, serverInfo, baseline: rawPg, token, tokenInfo })
  } finally {
    await stopAll()
    await bouncer.stop()
  }
}

export async function sqliteSuite(ctx: BenchContext, o: SuiteInput): Promise<ThroughputOutcome[]> {
  const repo = ctx.settings.repoRoot
  const { start, stopAll } = processGroup()
  try {
    const common = { databaseUrl: null, jwtSecret: o.jwtSecret, admin: o.account }
    const file = fallbackFile(ctx, 'sqlite-warn')
    const server = await start(startServer(ctx.procs, ctx.settings.serverEntry, { ...common, name: 'sqlite-warn', logLevel: 'warn', fallbackPath: file }))
    const serverInfo = await start(startServer(ctx.procs, ctx.settings.serverEntry, { ...common, name: 'sqlite-info', logLevel: 'info', fallbackPath: fallbackFile(ctx, 'sqlite-info') }))
    // the baseline works on the server's own file (WAL: two processes, one of them idle at a time)
    const rawSqlite = await start(startBaseline(ctx.procs, repo, 'sqlite-notes', { SQLITE_PATH: file, JWT_SECRET: o.jwtSecret }))
    const token = await login(server.baseUrl, o.account)
    const tokenInfo = await login(serverInfo.baseUrl, o.account)
    await createNotes(server.baseUrl, token, LIST_ROWS)
    await createNotes(serverInfo.baseUrl, tokenInfo, LIST_ROWS)

    ctx.log('throughput (SQLite)')
    return await noteThroughput(ctx, 'SQLite', { server, serverInfo, baseline: rawSqlite, token, tokenInfo })
  } finally {
    await stopAll()
  }
}
