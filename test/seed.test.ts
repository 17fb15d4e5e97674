import { afterAll, afterEach, describe, expect, setDefaultTimeout, spyOn, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { runSeedCommand } from '../src/cli/seed.ts'
import { loadConfig } from '../src/config.ts'
import { ConfigError, type Config, type SeedAccount } from '../src/config-types.ts'
import { seedAccounts } from '../src/seed.ts'
import { ADMIN, appVariants, call, login, TEST_ENV_DEFAULTS, withAdmin, type TestApp } from './helpers/test-app.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

const dir = mkdtempSync(join(tmpdir(), 'seed-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The configuration a restart with `env` would load. */
const configFor = (env: Record<string, string>): Config =>
  loadConfig({ env: { ...TEST_ENV_DEFAULTS, ...env }, secretsPath: join(dir, 'none'), isTTY: false })

const withAccounts = (base: Config, accounts: SeedAccount[], resetPasswords = false): Config => ({
  ...base,
  seed: { accounts, resetPasswords },
})

describe('seed configuration checks (on top of config.ts)', () => {
  const base = configFor({})
  const account = (over: Partial<SeedAccount>): SeedAccount => ({ email: 'a@example.test', password: 'good-password', name: null, role: 'admin', source: 'SEED_ADMIN_EMAIL', ...over })

  test('a bad account stops the seed with one line naming the variable, never the password', async () => {
    const cases: Array<[SeedAccount[], string]> = [
      [[account({ password: 'nul\u0000inside-pw' })], 'SEED_ADMIN_PASSWORD'],
      [[account({ password: 'short' })], 'SEED_ADMIN_PASSWORD'],
      [[account({ source: 'SEED_USERS[1]', password: 'x'.repeat(80) })], 'SEED_USERS[1].password'],
      [[account({ password: undefined, passwordHash: '$2b$10$not-a-hash' })], 'SEED_ADMIN_PASSWORD_HASH'],
      [[account({ source: 'SEED_USERS_FILE[0]', email: 'not-an-email' })], 'SEED_USERS_FILE[0].email'],
      [[account({ passwordHash: '$2b$04$' + 'a'.repeat(53) })], 'SEED_ADMIN_PASSWORD'],
      [[account({}), account({ source: 'SEED_USERS[0]', email: 'A@example.test ' })], 'SEED_USERS[0]'],
    ]
    for (const [accounts, variable] of cases) {
      // No store call is made before the check fails.
      const store = new Proxy({}, { get: () => { throw new Error('store touched') } }) as never
      const err = await seedAccounts({ store, config: withAccounts(base, accounts), logger: silentLogger() }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConfigError)
      const message = (err as ConfigError).message
      expect(message.startsWith(variable)).toBe(true)
      expect(message).not.toContain('\n')
      for (const a of accounts) if (a.password) expect(message).not.toContain(a.password)
    }
  })

  test('config.ts itself rejects bad seed variables with one line naming them', () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ SEED_USERS: 'not json' }, 'SEED_USERS'],
      [{ SEED_USERS: '[{"email":"x@example.test","password":"p"}]' }, 'SEED_USERS[0].password'],
      [{ SEED_ADMIN_EMAIL: 'root@example.test' }, 'SEED_ADMIN_EMAIL'],
      [{ SEED_ADMIN_EMAIL: 'root@example.test', SEED_ADMIN_PASSWORD_HASH: 'plain-text-oops' }, 'SEED_ADMIN_PASSWORD_HASH'],
    ]
    for (const [env, variable] of bad) {
      let message = ''
      try {
        configFor(env)
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError)
        message = (e as Error).message
      }
      expect(message).toContain(variable)
      expect(message).not.toContain('\n')
    }
  })
})

function silentLogger() {
  return { info() {}, warn() {}, error() {}, debug() {} } as never
}

for (const variant of await appVariants('seed')) {
  describe(`seeding on ${variant.name}`, () => {
    const apps: TestApp[] = []
    const build = async (env: Record<string, string>) => {
      const t = await variant.build(env)
      apps.push(t)
      return t
    }
    // Each test's apps (and, on PostgreSQL, their databases) go as soon as the test ends.
    afterEach(async () => {
      for (const t of apps.splice(0)) await t.close()
    })
    /** what the next start would do, on the same database */
    const restart = (t: TestApp, env: Record<string, string>) =>
      seedAccounts({ store: t.store, config: configFor(env), logger: silentLogger() })

    test('first start: the admin is created with a $2b$ hash of BCRYPT_COST, audited, nothing secret logged', async () => {
      const t = await build(withAdmin({ SEED_ADMIN_NAME: 'Root' }))
      expect(t.seeded).toEqual({ created: [ADMIN.email], reset: [], kept: [] })
      const user = await t.store.users.getByEmail(ADMIN.email)
      expect(user).toMatchObject({ role: 'admin', name: 'Root', disabled: false })
      expect(user!.passwordHash.startsWith('$2b$04$')).toBe(true)
      expect(await bcrypt.compare(ADMIN.password, user!.passwordHash)).toBe(true)
      const events = (await t.store.audit.list({ limit: 10 })).items
      expect(events.find((e) => e.action === 'seed.account_created')).toMatchObject({ targetId: user!.id, details: { email: ADMIN.email, source: 'SEED_ADMIN_EMAIL' } })
      const logs = t.logLines.join('\n')
      expect(logs).toContain('seed.account_created')
      expect(logs).not.toContain(ADMIN.password)
      expect(logs).not.toContain(user!.passwordHash)
    })

    test('later starts keep the account and compute no hash', async () => {
      const t = await build(withAdmin())
      const before = await t.store.users.getByEmail(ADMIN.email)
      const hash = spyOn(Bun.password, 'hash')
      try {
        expect(await restart(t, withAdmin())).toEqual({ created: [], reset: [], kept: [ADMIN.email] })
        expect(hash).not.toHaveBeenCalled()
      } finally {
        hash.mockRestore()
      }
      expect(await t.store.users.getByEmail(ADMIN.email)).toEqual(before)
    })

    test('a changed password survives restarts; SEED_RESET_PASSWORDS=true brings the seed password back', async () => {
      const t = await build(withAdmin())
      const a = await login(t.app, ADMIN.email, ADMIN.password)
      const changed = await call(t.app, 'POST', '/api/v1/auth/password', { token: a.access, body: { current_password: ADMIN.password, new_password: 'user-chosen-pw' } })
      expect(changed.status).toBe(204)

      expect((await restart(t, withAdmin())).kept).toEqual([ADMIN.email])
      await login(t.app, ADMIN.email, 'user-chosen-pw')
      expect((await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: ADMIN.email, password: ADMIN.password } })).status).toBe(401)

      const session = await login(t.app, ADMIN.email, 'user-chosen-pw')
      expect(await restart(t, withAdmin({ SEED_RESET_PASSWORDS: 'true' }))).toEqual({ created: [], reset: [ADMIN.email], kept: [] })
      await login(t.app, ADMIN.email, ADMIN.password)
      expect((await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: ADMIN.email, password: 'user-chosen-pw' } })).status).toBe(401)
      // Whoever held a session before the reset is signed out.
      expect((await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } })).status).toBe(401)
      expect((await t.store.audit.list({ limit: 100 })).items.map((e) => e.action)).toContain('seed.password_reset')

      // Reset again while the account already matches the seed: nothing to do, nothing written.
      const before = await t.store.users.getByEmail(ADMIN.email)
      expect((await restart(t, withAdmin({ SEED_RESET_PASSWORDS: 'true' }))).kept).toEqual([ADMIN.email])
      expect(await t.store.users.getByEmail(ADMIN.email)).toEqual(before)
    })

    test('a reset also re-enables the account and gives back its seeded role', async () => {
      const t = await build(withAdmin())
      const user = (await t.store.users.getByEmail(ADMIN.email))!
      await t.store.users.update(user.id, { disabled: true, role: 'user' })
      expect((await call(t.app, 'POST', '/api/v1/auth/login', { body: { email: ADMIN.email, password: ADMIN.password } })).status).toBe(401)
      // Without a reset the operator's lock-out stands.
      expect((await restart(t, withAdmin())).kept).toEqual([ADMIN.email])
      expect((await t.store.users.getByEmail(ADMIN.email))!.disabled).toBe(true)

      expect((await restart(t, withAdmin({ SEED_RESET_PASSWORDS: 'true' }))).reset).toEqual([ADMIN.email])
      const back = await login(t.app, ADMIN.email, ADMIN.password)
      expect((await call(t.app, 'GET', '/api/v1/admin/users', { token: back.access })).status).toBe(200)
    })

    test('a pre-hashed password (SEED_ADMIN_PASSWORD_HASH) is stored as given and logs in', async () => {
      const hash = await bcrypt.hash('from-a-hash-1', 4)
      const env = { SEED_ADMIN_EMAIL: 'hashed@example.test', SEED_ADMIN_PASSWORD_HASH: hash }
      const t = await build(env)
      expect((await t.store.users.getByEmail('hashed@example.test'))!.passwordHash).toBe(hash)
      await login(t.app, 'hashed@example.test', 'from-a-hash-1')
      expect(t.logLines.join('\n')).not.toContain(hash)
    })

    test('SEED_USERS and SEED_USERS_FILE: every account, with its name and role', async () => {
      const file = join(dir, `users-${crypto.randomUUID()}.json`)
      writeFileSync(file, JSON.stringify([{ email: 'file@example.test', password: 'from-the-file', role: 'admin' }]))
      const users = [
        { email: 'Ann@Example.test', password: 'ann-password', name: 'Ann' },
        { email: 'ben@example.test', password_hash: await bcrypt.hash('ben-password', 4), role: 'user' },
      ]
      const t = await build(withAdmin({ SEED_USERS: JSON.stringify(users), SEED_USERS_FILE: file }))
      expect(t.seeded.created.sort()).toEqual([ADMIN.email, 'ann@example.test', 'ben@example.test', 'file@example.test'].sort())
      expect(await t.store.users.getByEmail('ann@example.test')).toMatchObject({ name: 'Ann', role: 'user' })
      expect(await t.store.users.getByEmail('file@example.test')).toMatchObject({ role: 'admin' })
      await login(t.app, 'ann@example.test', 'ann-password')
      await login(t.app, 'ben@example.test', 'ben-password')
      await login(t.app, 'file@example.test', 'from-the-file')
    })

    test('seeding twice at the same moment creates each account once', async () => {
      const env = withAdmin({ SEED_USERS: JSON.stringify([{ email: 'twin@example.test', password: 'twin-password' }]) })
      const t = await build({})
      const results = await Promise.all([restart(t, env), restart(t, env), restart(t, env)])
      for (const email of [ADMIN.email, 'twin@example.test']) {
        expect(results.filter((r) => r.created.includes(email))).toHaveLength(1)
        expect(results.filter((r) => r.kept.includes(email))).toHaveLength(2)
      }
      const all = (await t.store.users.list({ limit: 100 })).items.map((u) => u.email)
      expect(all.sort()).toEqual([ADMIN.email, 'twin@example.test'].sort())
      await login(t.app, 'twin@example.test', 'twin-password')
    })

    test('a seeded account that was deleted is created again', async () => {
      const t = await build(withAdmin())
      const user = (await t.store.users.getByEmail(ADMIN.email))!
      await t.store.users.softDelete(user.id)
      expect((await restart(t, withAdmin())).created).toEqual([ADMIN.email])
      await login(t.app, ADMIN.email, ADMIN.password)
    })

    test('`bun run db seed` (runSeedCommand) applies the seeds and reports per account', async () => {
      const t = await build({})
      const lines: string[] = []
      const config = configFor(withAdmin())
      const result = await runSeedCommand({ store: t.store, config, logger: silentLogger(), print: (l) => lines.push(l) })
      expect(result.created).toEqual([ADMIN.email])
      expect(lines).toEqual([`created  ${ADMIN.email}`, `seeded ${t.store.kind}: 1 created, 0 reset, 0 kept`])
      await login(t.app, ADMIN.email, ADMIN.password)
      const again: string[] = []
      await runSeedCommand({ store: t.store, config, logger: silentLogger(), print: (l) => again.push(l) })
      expect(again[0]).toBe(`kept     ${ADMIN.email}`)
      const none: string[] = []
      await runSeedCommand({ store: t.store, config: configFor({}), logger: silentLogger(), print: (l) => none.push(l) })
      expect(none).toEqual(['no seed accounts configured (SEED_ADMIN_EMAIL, SEED_USERS, SEED_USERS_FILE)'])
      expect([...lines, ...again].join('\n')).not.toContain(ADMIN.password)
    })
  })
}
