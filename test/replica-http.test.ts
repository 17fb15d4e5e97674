// The replica as an operator meets it: /health, the admin API, REPLICA_SYNC's 503, and
// `bun run db replica status|restore`, on real server processes and a real S3-protocol server.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { replicaStatusSchema } from '../src/openapi/response-schemas.ts'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import { ADMIN_EMAIL, ADMIN_PASSWORD, Api, waitFor } from './helpers/failover-workload.ts'
import { S3_KEY, startS3Server, type S3Server } from './helpers/s3-server.ts'
import { ServerHarness } from './helpers/spawn-server.ts'

const CLI = resolve(import.meta.dir, '../src/cli.ts')
const SECRET = 'replica-test-secret-access-key-never-shown'

const h = new ServerHarness()
let s3: S3Server
let proxy: FaultProxy
beforeAll(async () => {
  s3 = await startS3Server()
  proxy = await startFaultProxy({ targetHost: '127.0.0.1', targetPort: s3.port })
})
afterAll(async () => {
  await h.cleanup()
  await proxy?.close()
  await s3?.close()
}, 30_000)

function serverEnv(extra: Record<string, string>): { dataDir: string; env: Record<string, string> } {
  const dataDir = h.tempDir('replica-http-data-')
  return {
    dataDir,
    env: {
      FALLBACK_DATABASE_URL: join(dataDir, 'app.db'),
      SEED_ADMIN_EMAIL: ADMIN_EMAIL,
      SEED_ADMIN_PASSWORD: ADMIN_PASSWORD,
      BCRYPT_COST: '4',
      JWT_SECRET: `replica-http-secret-${crypto.randomUUID()}`,
      REPLICA_INTERVAL_MS: '50',
      // s3rver ignores the secret; what matters is that it never shows
      ...s3.env(`http://127.0.0.1:${proxy.port}`),
      S3_ACCESS_KEY_ID: S3_KEY,
      S3_SECRET_ACCESS_KEY: SECRET,
      ...extra,
    },
  }
}

describe('REPLICA_SYNC=true with the store refusing, then back', () => {
  test('writes answer 503 while the replica cannot take them, reads go on; /health and the admin API show it, without credentials', async () => {
    proxy.setMode('refuse')
    const prefix = `http-sync-${crypto.randomUUID()}`
    const { env } = serverEnv({ REPLICA_URL: `s3://${s3.bucket}/${prefix}`, REPLICA_SYNC: 'true' })
    const proc = h.spawn({ env })
    const { baseUrl } = await proc.waitForListen()
    const api = new Api(baseUrl)
    expect(proc.lines.some((l) => l.json?.event === 'replica_restore_unreachable' && l.json.level === 'warn'), proc.output()).toBe(true)

    const health = await waitFor('the first round', () => api.health(), (b) => b.replica.last_error !== null, 20_000)
    expect(health.replica).toMatchObject({ configured: true, target: `s3://${s3.bucket}/${prefix} at 127.0.0.1:${proxy.port}` })
    expect(health.replica.last_error).toContain('failed')
    // the login itself writes (a session): refused before anything is written
    const refused = await api.call('POST', '/api/v1/auth/login', { body: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD } })
    expect(refused.status).toBe(503)
    expect(refused.body.error.code).toBe('unavailable')
    await api.expect(200, 'GET', '/health/ready')

    proxy.setMode('pass')
    await waitFor('the replica reachable', () => api.health(), (b) => b.replica.last_error === null, 20_000)
    const admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    await api.expect(201, 'POST', '/api/v1/notes', { token: admin.token, body: { title: 'stored in the replica first', body: '' } })
    const status = await api.expect(200, 'GET', '/api/v1/sqlite-fallback/replica', { token: admin.token })
    expect(status).toMatchObject({ configured: true, sync: true, pending_segments: 0, last_error: null })
    expect(status.generation).toMatch(/^[0-9a-f-]{36}$/)
    // the answers are what /openapi.json documents (its own test has no replica to ask)
    expect(replicaStatusSchema.safeParse(status).error?.issues ?? []).toEqual([])
    const snap = await api.expect(200, 'POST', '/api/v1/sqlite-fallback/replica/snapshot', { token: admin.token })
    expect(replicaStatusSchema.safeParse(snap).error?.issues ?? []).toEqual([])
    expect(snap.last_snapshot_at > status.last_snapshot_at).toBe(true)
    await api.expect(200, 'POST', '/api/v1/sqlite-fallback/replica/sync', { token: admin.token })
    const cleanup = await api.call('DELETE', '/api/v1/sqlite-fallback/cleanup', { token: admin.token })
    expect(cleanup.status).toBe(409)
    expect(cleanup.body.error.message).toContain('replicated')
    // admins only
    await api.expect(401, 'GET', '/api/v1/sqlite-fallback/replica')

    expect(await proc.stop('SIGTERM')).toBe(0)
    expect(proc.output()).not.toContain(SECRET)
    expect(JSON.stringify(health)).not.toContain(SECRET)
  }, 60_000)
})

describe('async, the store refusing', () => {
  test('writes go on; the lag grows past 10 intervals and /health warns', async () => {
    proxy.setMode('pass')
    const { env } = serverEnv({ REPLICA_URL: `s3://${s3.bucket}/http-async-${crypto.randomUUID()}` })
    const proc = h.spawn({ env })
    const api = new Api((await proc.waitForListen()).baseUrl)
    const admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    proxy.setMode('refuse')
    await api.expect(201, 'POST', '/api/v1/notes', { token: admin.token, body: { title: 'waits on local disk', body: '' } })
    const health = await waitFor('the lag warning', () => api.health(), (b) => b.warnings.some((w: string) => w.includes('the replica is')), 20_000)
    expect(health.replica.pending_segments).toBeGreaterThan(0)
    expect(health.replica.lag_ms).toBeGreaterThan(500)
    proxy.setMode('pass')
    await waitFor('caught up', () => api.health(), (b) => b.replica.pending_segments === 0 && b.warnings.length === 0, 20_000)
    expect(await proc.stop('SIGTERM')).toBe(0)
  }, 60_000)
})

async function cli(args: string[], env: Record<string, string>) {
  const proc = Bun.spawn(['bun', CLI, ...args], { cwd: h.tempDir('replica-cli-'), env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env }, stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { stdout, stderr, code }
}

describe('bun run db replica', () => {
  test('status lists the generations; restore fills an empty file, refuses a full one unless --force', async () => {
    proxy.setMode('pass')
    const { env, dataDir } = serverEnv({ REPLICA_URL: `file://${h.tempDir('replica-cli-folder-')}` })
    const proc = h.spawn({ env })
    const api = new Api((await proc.waitForListen()).baseUrl)
    const admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    await api.expect(201, 'POST', '/api/v1/notes', { token: admin.token, body: { title: 'one', body: '' } })
    expect(await proc.stop('SIGTERM')).toBe(0)

    const status = await cli(['replica', 'status'], env)
    expect(status.code).toBe(0)
    expect(status.stdout).toContain('* generation ')
    expect(status.stdout).toContain('holds data')

    const refused = await cli(['replica', 'restore'], env)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('holds data: restore never replaces it')
    const forced = await cli(['replica', 'restore', '--force'], env)
    expect(forced.code).toBe(0)
    expect(forced.stdout).toContain('restored generation')

    rmSync(dataDir, { recursive: true, force: true })
    const fresh = await cli(['replica', 'restore'], env)
    expect(fresh.code).toBe(0)
    expect(existsSync(join(dataDir, 'app.db'))).toBe(true)
    const again = h.spawn({ env })
    const api2 = new Api((await again.waitForListen()).baseUrl)
    const token = (await api2.login(ADMIN_EMAIL, ADMIN_PASSWORD)).token
    const notes = await api2.expect(200, 'GET', '/api/v1/notes', { token })
    expect(notes.items.map((n: { title: string }) => n.title)).toEqual(['one'])
    expect(await again.stop('SIGTERM')).toBe(0)
  }, 60_000)
})
