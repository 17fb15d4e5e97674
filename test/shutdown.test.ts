// Graceful shutdown of the real process: SIGTERM stops accepting, lets the request in flight finish,
// closes the PostgreSQL pool, checkpoints and closes SQLite, and exits 0.
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { createTestDatabase, pgAvailable, requirePostgres, type TestDatabase } from './helpers/pg.ts'
import { getJson, ServerHarness } from './helpers/spawn-server.ts'

const h = new ServerHarness()
const databases: TestDatabase[] = []
const CASE_TIMEOUT_MS = 30_000

afterAll(async () => {
  await h.cleanup()
  for (const db of databases) await db.drop()
})

/** A raw HTTP/1.1 client whose request body the test sends piece by piece. */
async function slowRequest(port: number, path: string) {
  const decoder = new TextDecoder()
  let response = ''
  let resolveClosed!: () => void
  const closed = new Promise<void>((r) => (resolveClosed = r))
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: {
      data(_s, chunk) {
        response += decoder.decode(chunk, { stream: true })
      },
      close() {
        resolveClosed()
      },
      error() {
        resolveClosed()
      },
    },
  })
  const chunk = (text: string) => socket.write(`${text.length.toString(16)}\r\n${text}\r\n`)
  socket.write(`POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`)
  chunk('{"slow":')
  return {
    /** sends the rest of the body; the server can answer only after this */
    finish() {
      chunk('"request"}')
      socket.write('0\r\n\r\n')
    },
    /** resolves with the whole raw response once the server closed the connection */
    async response(): Promise<string> {
      await closed
      return response
    },
  }
}

describe('SIGTERM during a slow request', () => {
  test('the request completes, new connections are refused, the process exits 0 and SQLite is checkpointed', async () => {
    const dir = h.tempDir('shutdown-')
    const dbFile = join(dir, 'app.db')
    const proc = h.spawn({ env: { FALLBACK_DATABASE_URL: `sqlite:///${dbFile}` } })
    const { port, baseUrl } = await proc.waitForListen(15_000)

    const slow = await slowRequest(port, '/no-such-route')
    // Only the headers and half the body are in: the request is in flight until the rest arrives.
    await Bun.sleep(200)
    const exited = proc.stop('SIGTERM')
    await proc.waitForLine((l) => String(l.json?.msg ?? '').startsWith('shutting down'), 10_000)

    // The listener is closed, so a new connection is refused while the old request is still running.
    await expect(fetch(`${baseUrl}/health/live`)).rejects.toThrow()
    expect(proc.exitCode).toBeNull()

    slow.finish()
    const raw = await slow.response()
    expect(raw).toStartWith('HTTP/1.1 404')
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))
    expect(body.error.code).toBe('not_found')

    expect(await exited).toBe(0)
    const finished = proc.lines.find((l) => l.json?.msg === 'request' && l.json.path === '/no-such-route')
    expect(finished?.json?.status).toBe(404)
    expect(proc.lines.find((l) => l.json?.msg === 'stopped')?.json?.exit_code).toBe(0)
    // A clean close checkpoints the WAL into the database file and removes (or empties) it.
    const wal = `${dbFile}-wal`
    expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true)
  }, CASE_TIMEOUT_MS)

  test('SIGINT with only an idle keep-alive connection open shuts down at once, exit 0', async () => {
    const proc = h.spawn()
    const { baseUrl } = await proc.waitForListen(15_000)
    // fetch keeps the connection alive for reuse: it must not hold the shutdown for the drain bound.
    expect((await getJson(`${baseUrl}/health/live`)).status).toBe(200)
    expect(await proc.stop('SIGINT')).toBe(0)
    const stopped = proc.lines.find((l) => l.json?.msg === 'stopped')
    expect(stopped?.json?.exit_code).toBe(0)
    // nothing had to be cut: no "did not finish in time" warning
    expect(proc.lines.some((l) => l.json?.level === 'warn')).toBe(false)
  }, CASE_TIMEOUT_MS)
})

const pgUp = requirePostgres(await pgAvailable(), 'shutdown: PostgreSQL pool closing')

describe.skipIf(!pgUp)('SIGTERM with PostgreSQL as the primary', () => { // skipped only without PostgreSQL, announced by requirePostgres
  test('the pool is closed: no connection of the server is left on the database', async () => {
    const db = await createTestDatabase('shutdown')
    databases.push(db)
    const proc = h.spawn({ env: { DATABASE_URL: db.url, DATABASE_TIMEOUT: '2', HEALTH_CHECK_INTERVAL_MS: '500' } })
    const { baseUrl, listenLine } = await proc.waitForListen(15_000)
    expect(listenLine.database_type).toBe('postgresql')
    expect((await getJson(`${baseUrl}/health`)).body.database_type).toBe('postgresql')

    const admin = postgres(db.url.replace(`/${db.name}`, '/postgres'), { max: 1, onnotice: () => {} })
    try {
      const serverConnections = async () =>
        Number((await admin`select count(*)::int as n from pg_stat_activity where datname = ${db.name} and pid <> pg_backend_pid()`)[0]!.n)
      expect(await serverConnections()).toBeGreaterThan(0)
      expect(await proc.stop('SIGTERM')).toBe(0)
      // The backend may need a moment to notice the closed socket after the process is gone.
      const deadline = Date.now() + 5_000
      let left = await serverConnections()
      while (left > 0 && Date.now() < deadline) {
        await Bun.sleep(100)
        left = await serverConnections()
      }
      expect(left).toBe(0)
    } finally {
      await admin.end({ timeout: 1 })
    }
  }, CASE_TIMEOUT_MS)
})
