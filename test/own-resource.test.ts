// README "Add your own resource", proven: a fork's owner-scoped table (bookmarks) is declared here
// with what the README asks for — a definition, the migration pair `bun run db new` makes from it,
// one route line — and nothing else: the generic repositories serve it on both databases (the
// owned-resource contract), its routes answer like the notes', and, the stores being opened with
// it, it is mirrored, copied, journaled while PostgreSQL is away and replayed exactly once.
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { z } from 'zod'
import type { AppDeps } from '../src/app-env.ts'
import { createApp } from '../src/app.ts'
import { resolveJwtSecret } from '../src/auth/jwt-secret.ts'
import { APP_MIGRATION_DIRS, newMigration, type MigrationDirs } from '../src/cli/migrations.ts'
import { loadConfig } from '../src/config.ts'
import { FailoverStore } from '../src/db/failover-store.ts'
import { PostgresStore } from '../src/db/postgres/postgres-store.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { newId, type OutboxEntry } from '../src/db/store.ts'
import { TABLES } from '../src/db/tables.ts'
import { createLogger } from '../src/logger.ts'
import { ownedRoutes } from '../src/routes/owned-routes.ts'
import { bookmarks } from './helpers/bookmarks.ts'
import { seedAccounts } from '../src/seed.ts'
import { storableText } from '../src/validation.ts'
import { primaryModeFailover, quietFailoverOptions } from './helpers/failover-store.ts'
import { waitFor } from './helpers/failover-workload.ts'
import { startFaultProxy, type FaultMode } from './helpers/fault-proxy.ts'
import { createTestDatabase, pgAvailable, requirePostgres } from './helpers/pg.ts'
import { ADMIN, call, createUser, login, TEST_ENV_DEFAULTS, withAdmin } from './helpers/test-app.ts'
import { ownedResourceContract } from './owned-resource.contract.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

// ---- what a fork writes ----

// 1. The definition: test/helpers/bookmarks.ts (in a fork: src/db/tables.ts, listed in TABLES after users).

// 2. The migration pair: `bun run db new bookmarks` writes both dialects' CREATE TABLE from the
//    definition (forkMigrations below, into a copy of the app's migration folders).

// 3. One route line (in a fork: src/app.ts), given the fields' validation.
const bookmarkRoutes = () =>
  ownedRoutes({
    table: bookmarks,
    fields: { title: storableText(z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters')), url: storableText(z.url('must be a URL')) },
  })

// ---- the wiring a fork does not write: what the app's own start does, with the fork's tables ----

const dir = mkdtempSync(join(tmpdir(), 'own-resource-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const tables = [...TABLES, bookmarks]

/** the app's migration folders copied, plus the pair `bun run db new bookmarks` writes into them */
function forkMigrations(): MigrationDirs {
  const dirs = { postgres: join(dir, 'migrations', 'postgres'), sqlite: join(dir, 'migrations', 'sqlite') }
  cpSync(APP_MIGRATION_DIRS.postgres, dirs.postgres, { recursive: true })
  cpSync(APP_MIGRATION_DIRS.sqlite, dirs.sqlite, { recursive: true })
  newMigration(['bookmarks'], dirs, tables)
  return dirs
}
const migrations = forkMigrations()

const sqliteStore = (path = join(dir, `${newId()}.db`)) => new SqliteStore({ path, busyTimeoutS: 5, tables, migrationsDir: migrations.sqlite })
const postgresStore = (url: string, extra: Partial<ConstructorParameters<typeof PostgresStore>[0]> = {}) =>
  new PostgresStore({ url, poolSize: 4, connectTimeoutS: 5, statementTimeoutMs: 15_000, sslmode: 'disable', tables, migrationsDir: migrations.postgres, ...extra })

test('the migration pair `bun run db new bookmarks` wrote is applied on top of the app\'s own', async () => {
  const store = sqliteStore()
  try {
    const report = await store.migrate()
    expect(report.applied.at(-1)).toMatch(/^\d{4}_bookmarks$/)
  } finally {
    await store.close()
  }
})

// ---- (a) the Store behaviours of an owned resource, on both dialects ----

const resource = { table: bookmarks, fields: ['title', 'url'] } as const

ownedResourceContract(
  {
    name: 'bookmarks on SqliteStore',
    open: async () => {
      const store = sqliteStore()
      await store.migrate()
      return store
    },
    close: (store) => store.close(),
  },
  resource,
)

const ok = requirePostgres(await pgAvailable(), 'own resource on PostgreSQL')
if (ok) {
  const db = await createTestDatabase('own_resource')
  const admin = postgres(db.url, { max: 1, onnotice: () => {} })
  afterAll(async () => {
    await admin.end({ timeout: 1 })
    await db.drop()
  })
  const truncated = [...tables.map((t) => t.name), 'applied_ops', 'sync_conflicts']
  ownedResourceContract(
    {
      name: 'bookmarks on PostgresStore',
      open: async () => {
        const store = postgresStore(db.url)
        await store.migrate()
        await admin.unsafe(`truncate ${truncated.join(', ')}`)
        return store
      },
      close: (store) => store.close(),
    },
    resource,
  )
}

// ---- (b) its routes, mounted with the one line, behind the app's own guard and error frame ----

/** the app as src/index.ts wires it, on `store`, plus the fork's route line */
async function appOn(store: FailoverStore) {
  const config = loadConfig({ env: { ...TEST_ENV_DEFAULTS, ...withAdmin() }, secretsPath: join(dir, 'no-secrets'), isTTY: false })
  const logger = createLogger(config, { destination: { write: () => {} } })
  await store.init()
  await seedAccounts({ store, config, logger })
  const deps: AppDeps = { config, logger, store, db: store, jwtSecret: await resolveJwtSecret({ store, config, logger }), startedAt: Date.now() }
  const app = createApp(deps)
  app.route('/api/v1/bookmarks', bookmarkRoutes())
  return app
}

test('the routes: create, read, search, patch, delete, and 404 for another owner\'s bookmark', async () => {
  const store = new FailoverStore({ ...quietFailoverOptions(dir), primary: null, primaryConfigured: false, primaryUp: false, primaryError: null, fallback: sqliteStore() })
  try {
    const app = await appOn(store)
    const me = await login(app, ADMIN.email, ADMIN.password)
    const other = await createUser(app, me.access, { email: 'other@example.test', password: 'other-pass-123' })
    const created = await call(app, 'POST', '/api/v1/bookmarks', { token: me.access, body: { title: 'Bun', url: 'https://bun.sh/' } })
    expect([created.status, created.headers.get('Location')]).toEqual([201, `/api/v1/bookmarks/${created.body.id}`])
    expect(created.body).toEqual({ id: expect.any(String), title: 'Bun', url: 'https://bun.sh/', created_at: expect.any(String), updated_at: created.body.created_at, version: 1 })
    const invalid = await call(app, 'POST', '/api/v1/bookmarks', { token: me.access, body: { title: 'no url', url: 'not a url' } })
    expect([invalid.status, invalid.body.error.message]).toEqual([400, "body field 'url': must be a URL"])
    const foreign = await call(app, 'GET', `/api/v1/bookmarks/${created.body.id}`, { token: other.access })
    expect([foreign.status, foreign.body.error.message]).toEqual([404, 'bookmark not found'])
    const patched = await call(app, 'PATCH', `/api/v1/bookmarks/${created.body.id}`, { token: me.access, body: { title: 'Bun runtime' } })
    expect([patched.status, patched.body.title, patched.body.url, patched.body.version]).toEqual([200, 'Bun runtime', 'https://bun.sh/', 2])
    const found = await call(app, 'GET', '/api/v1/bookmarks?q=RUNTIME', { token: me.access })
    expect(found.body).toEqual({ items: [patched.body], next_cursor: null })
    expect((await call(app, 'GET', '/api/v1/bookmarks', { token: other.access })).body).toEqual({ items: [], next_cursor: null })
    expect((await call(app, 'DELETE', `/api/v1/bookmarks/${created.body.id}`, { token: me.access })).status).toBe(204)
    expect((await call(app, 'GET', `/api/v1/bookmarks/${created.body.id}`, { token: me.access })).status).toBe(404)
  } finally {
    await store.close()
  }
})

// ---- (c) a failover and a replay: bookmarks written while PostgreSQL is away reach it exactly once ----

if (ok) {
  /** bookmarks as PostgreSQL holds them, read directly (not through the proxy) */
  const bookmarksOn = (admin: postgres.Sql) =>
    admin<{ id: string; title: string; version: number; deleted: boolean }[]>`
      select id::text, title, version, deleted_at is not null as deleted from bookmarks order by id`.then((rows) => [...rows])

  for (const fault of ['refuse', 'reset'] as const satisfies FaultMode[]) {
    test(`PostgreSQL ${fault === 'refuse' ? 'refuses connections' : 'resets every connection'}: bookmarks are written to SQLite and the outbox, then replayed once`, async () => {
      const db = await createTestDatabase('own_resource_failover')
      const target = new URL(db.url)
      const proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
      const admin = postgres(db.url, { max: 1, onnotice: () => {} })
      const primary = postgresStore(proxy.proxiedUrl(db.url))
      const fallback = sqliteStore()
      const store = primaryModeFailover(dir, primary, fallback, { probeIntervalMs: 100, probeTimeoutMs: 300 })
      try {
        const app = await appOn(store)
        store.startMonitor()
        const me = await login(app, ADMIN.email, ADMIN.password)
        const post = (title: string) => call(app, 'POST', '/api/v1/bookmarks', { token: me.access, body: { title, url: `https://example.com/${title}` } })

        // on PostgreSQL, mirrored into SQLite
        const [kept, edited, removed] = [await post('kept'), await post('edited'), await post('removed')]
        expect([kept.status, edited.status, removed.status, store.status().mode]).toEqual([201, 201, 201, 'primary'])
        await store.mirrored()
        const onPrimary = await primary.exportRows('bookmarks', null, 100)
        expect(onPrimary.map((c) => (c.row as { title: string }).title).sort()).toEqual(['edited', 'kept', 'removed'])
        expect(await fallback.exportRows('bookmarks', null, 100)).toEqual(onPrimary)

        // the snapshot copy carries them too: SQLite's rows replaced by PostgreSQL's, bookmarks included
        const copied = await store.copyToFallback()
        expect(copied.tables.bookmarks).toBe(3)
        expect(await fallback.exportRows('bookmarks', null, 100)).toEqual(onPrimary)

        // PostgreSQL goes away: the first write fails over and is retried on SQLite
        proxy.setMode(fault)
        const during = await post('during outage')
        expect([during.status, store.status().mode]).toEqual([201, 'fallback'])
        const patched = await call(app, 'PATCH', `/api/v1/bookmarks/${edited.body.id}`, { token: me.access, body: { title: 'edited offline' } })
        expect([patched.status, patched.body.version]).toEqual([200, 2])
        expect((await call(app, 'DELETE', `/api/v1/bookmarks/${removed.body.id}`, { token: me.access })).status).toBe(204)
        const found = await call(app, 'GET', '/api/v1/bookmarks?q=OFFLINE', { token: me.access })
        expect(found.body.items.map((b: { id: string }) => b.id)).toEqual([edited.body.id])
        // the outbox also holds the audit event of the failover itself
        const journaled: OutboxEntry[] = fallback.outbox.peek(100)
        const journaledBookmarks = journaled.filter((e) => e.change.table === 'bookmarks')
        expect(journaledBookmarks.map((e) => [e.change.table, (e.change.row as { id: string }).id])).toEqual([
          ['bookmarks', during.body.id],
          ['bookmarks', edited.body.id],
          ['bookmarks', removed.body.id],
        ])

        // PostgreSQL returns: the monitor's recovery replays the outbox and switches back
        proxy.setMode('pass')
        await waitFor('the recovery', () => store.status(), (s) => s.mode === 'primary' && s.outboxPending === 0)
        const replayed = await bookmarksOn(admin)
        expect(replayed).toEqual(
          [
            { id: kept.body.id, title: 'kept', version: 1, deleted: false },
            { id: edited.body.id, title: 'edited offline', version: 2, deleted: false },
            { id: removed.body.id, title: 'removed', version: 2, deleted: true },
            { id: during.body.id, title: 'during outage', version: 1, deleted: false },
          ].sort((a, b) => (a.id < b.id ? -1 : 1)),
        )
        expect((await admin`select count(*)::int as n from applied_ops where op_id = any(${journaled.map((e) => e.opId)}::uuid[])`)[0]!.n).toBe(journaled.length)

        // exactly once: a second replay has nothing left, and the very same entries again are duplicates
        expect(await store.replay()).toEqual({ applied: 0, conflicts: 0, remaining: 0 })
        expect(await primary.replayEntries(journaled)).toEqual(journaled.map(() => 'duplicate'))
        expect(await bookmarksOn(admin)).toEqual(replayed)
        expect((await admin`select count(*)::int as n from sync_conflicts`)[0]!.n).toBe(0)
        const listed = await call(app, 'GET', '/api/v1/bookmarks', { token: me.access })
        expect(listed.body.items.map((b: { title: string }) => b.title)).toEqual(['during outage', 'edited offline', 'kept'])
      } finally {
        await store.close()
        await proxy.close()
        await admin.end({ timeout: 1 })
        await db.drop()
      }
    })
  }
}
