// GET / and the HTML frame, through app.request(): what the page says for each runtime state, that it
// reads nothing but the runtime's synchronous status and history, its headers (framable by
// huggingface.co, strict CSP) while the JSON API keeps its own, and that no secret reaches a page.
import { afterAll, describe, expect, test } from 'bun:test'
import type { Hono } from 'hono'
import type { AppDeps, AppEnv } from '../src/app-env.ts'
import { createApp } from '../src/app.ts'
import { RuntimeHistory } from '../src/db/history.ts'
import type { DatabaseRuntime, RuntimeStatus } from '../src/db/runtime.ts'
import type { Store } from '../src/db/store.ts'
import { CONTENT_SECURITY_POLICY } from '../src/http-frame.ts'
import { buildTestApp, withAdmin, type TestApp } from './helpers/test-app.ts'

const apps: TestApp[] = []
afterAll(async () => {
  for (const a of apps) await a.close()
})

async function appWith(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await buildTestApp({ env })
  apps.push(t)
  return t
}

const baseStatus = (): RuntimeStatus => ({
  mode: 'primary',
  activeKind: 'postgresql',
  fallbackActive: false,
  primary: { configured: true, status: 'up', lastError: null, lastProbeAt: '2026-01-01T00:00:00.000Z', idle: false, checkedAt: '2026-01-01T00:00:00.000Z', pooler: [] },
  fallback: { ok: true, path: '/data/app.db', persistent: true, journalMode: 'wal' },
  outboxPending: 0,
  pinnedToFallback: false,
  lastFailoverAt: null,
  lastRecoveryAt: null,
})

/**
 * An app whose runtime answers only status() and history(), and whose store answers nothing: any other
 * use by the page throws, and the test sees a 500.
 */
function appOnRuntime(t: TestApp, status: RuntimeStatus, history = new RuntimeHistory(), replica: AppDeps['replica'] = null): { app: Hono<AppEnv>; touched: string[] } {
  const touched: string[] = []
  const allowed: Record<string, unknown> = { status: () => status, history: () => history.snapshot() }
  const db = new Proxy({} as DatabaseRuntime, {
    get(_, key) {
      if (typeof key === 'string' && key in allowed) return allowed[key]
      touched.push(`db.${String(key)}`)
      throw new Error(`the page used db.${String(key)}`)
    },
  })
  const store = new Proxy({} as Store, {
    get(_, key) {
      touched.push(`store.${String(key)}`)
      throw new Error(`the page used store.${String(key)}`)
    },
  })
  return { app: createApp({ ...t.deps, db, store, replica }), touched }
}

const page = async (app: Hono<AppEnv>, path = '/') => {
  const res = await app.request(path)
  return { res, html: await res.text() }
}

describe('what the page says', () => {
  test('SQLite only: "SQLite fallback", primary not configured, outbox, uptime and version', async () => {
    const t = await appWith()
    const { res, html } = await page(t.app)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(html).toStartWith('<!DOCTYPE html>')
    expect(html).toContain('<span class="serving" id="serving">SQLite fallback</span>')
    expect(html).toMatch(/id="fact-primary".*<strong>not configured<\/strong>/)
    expect(html).toMatch(/id="fact-outbox".*<strong>0 pending<\/strong>/)
    expect(html).toMatch(/id="fact-version".*<strong>0\.1\.0<\/strong>/)
    expect(html).toMatch(/id="fact-uptime".*<strong>\d+ s<\/strong>/)
    expect(html).not.toContain('id="fact-replica"')
  })

  test('primary mode: "PostgreSQL"; a primary reported idle shows idle; an unknown replica is not shown', async () => {
    const t = await appWith()
    const up = appOnRuntime(t, baseStatus())
    const { html } = await page(up.app)
    expect(html).toContain('<span class="serving" id="serving">PostgreSQL</span>')
    expect(html).toMatch(/id="fact-primary".*<strong>up<\/strong>/)
    expect(html).not.toContain('id="fact-replica"')

    const idleStatus = { ...baseStatus(), primary: { ...baseStatus().primary, idle: true, checkedAt: '2026-01-01T00:05:00.000Z' } }
    const idle = appOnRuntime(t, idleStatus)
    const idleHtml = (await page(idle.app)).html
    expect(idleHtml).toMatch(/id="fact-primary".*<strong>idle<\/strong>/)
    expect(idleHtml).toContain('last checked 2026-01-01T00:05:00.000Z')
    expect([...up.touched, ...idle.touched]).toEqual([])
  })

  test('fallback with a replica and writes waiting: the lag and the outbox are shown', async () => {
    const t = await appWith()
    const status = { ...baseStatus(), mode: 'fallback' as const, activeKind: 'sqlite' as const, fallbackActive: true, outboxPending: 7 }
    status.primary = { ...status.primary, status: 'down', lastError: 'connection refused' }
    // a replicator that can only tell its status: the page asks nothing else of it
    const replica = { status: () => ({ configured: true, target: 'file:///data/replica', sync: false, generation: null, lag_ms: 1234, last_upload_at: null, last_snapshot_at: null, pending_segments: 0, pending_changes: 0, last_error: null }) }
    const { html } = await page(appOnRuntime(t, status, undefined, replica as unknown as AppDeps['replica']).app)
    expect(html).toContain('<span class="serving" id="serving">SQLite fallback</span>')
    expect(html).toMatch(/id="fact-primary".*<strong>down<\/strong>/)
    expect(html).toMatch(/id="fact-outbox".*<strong>7 pending<\/strong>/)
    expect(html).toMatch(/id="fact-replica".*<strong>1234 ms<\/strong>/)
    expect(html).toContain('the primary database (PostgreSQL) is unreachable')
  })

  test('the timeline: one band segment per mode, one latency bar per minute, failures in red, changes in words', async () => {
    const t = await appWith()
    let now = Date.now() - 10 * 60_000
    const history = new RuntimeHistory(() => now)
    history.modeChanged('primary')
    history.probed(true, 3)
    now += 60_000
    history.probed(false, 1000)
    history.modeChanged('fallback')
    now += 60_000
    history.modeChanged('recovering')
    history.modeChanged('primary')
    history.probed(true, 5)
    now += 60_000
    const { html } = await page(appOnRuntime(t, baseStatus(), history).app)
    expect(html.match(/class="m-(primary|fallback|recovering)"/g)).toEqual(['class="m-primary"', 'class="m-fallback"', 'class="m-recovering"', 'class="m-primary"'])
    expect(html.match(/class="probe-ok"/g)).toHaveLength(2)
    expect(html.match(/<rect[^>]*class="probe-failed"/g)).toHaveLength(1)
    expect(html).toContain('Mode over the last 24 hours: 3 changes')
    expect(html).toContain('3 probes, 1 failed')
    expect(html.match(/<li><time[^>]*>[^<]+<\/time> → (\w+)/g)?.map((l) => l.split('→ ')[1])).toEqual(['primary', 'recovering', 'fallback'])
  })

  test('serving / reads only the runtime\'s status and history: no store, no probe, no other runtime call', async () => {
    const t = await appWith()
    const { app, touched } = appOnRuntime(t, baseStatus())
    for (const path of ['/', '/?refresh=2', '/assets/status.js']) expect((await app.request(path)).status).toBe(200)
    expect(touched).toEqual([])
  })
})

describe('setup hints', () => {
  test('no account declared: the four secrets to set, which are set, and where to read more', async () => {
    const t = await appWith({ JWT_SECRET: 'x'.repeat(40) })
    const { html } = await page(t.app)
    expect(html).toContain('no account is declared')
    for (const name of ['SEED_ADMIN_EMAIL', 'SEED_ADMIN_PASSWORD', 'JWT_SECRET', 'DATABASE_URL']) expect(html).toContain(`<code>${name}</code>`)
    expect(html).toMatch(/<code>JWT_SECRET<\/code> <span class="ok">set<\/span>/)
    expect(html).toMatch(/<code>DATABASE_URL<\/code> <span class="missing">not set<\/span>/)
    expect(html).toContain('Declaring accounts (Hugging Face Space secrets)')
  })

  test('on a Space the hint links to its README', async () => {
    const t = await appWith({ SPACE_ID: 'someone/failover-api' })
    const { html } = await page(t.app)
    expect(html).toContain('href="https://huggingface.co/spaces/someone/failover-api/blob/main/README.md#declaring-accounts-hugging-face-space-secrets"')
  })

  test('an account declared: no hint', async () => {
    const t = await appWith(withAdmin())
    const { html } = await page(t.app)
    expect(html).not.toContain('id="setup"')
  })
})

describe('refresh', () => {
  test('every 5 s by default; ?refresh=N changes it; without JavaScript a <meta refresh> does it', async () => {
    const t = await appWith()
    const byDefault = (await page(t.app)).html
    expect(byDefault).toContain('data-refresh-s="5"')
    expect(byDefault).toContain('<noscript><meta http-equiv="refresh" content="5"/></noscript>')
    const two = (await page(t.app, '/?refresh=2')).html
    expect(two).toContain('data-refresh-s="2"')
    expect(two).toContain('<meta http-equiv="refresh" content="2"/>')
  })

  test('a bad ?refresh is a 400 naming the field; parameters the page does not know (e.g. Hugging Face\'s) are ignored', async () => {
    const t = await appWith()
    const bad = await t.app.request('/?refresh=0')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as any).error).toMatchObject({ code: 'validation_error', details: [{ field: 'refresh' }] })
    expect((await t.app.request('/?__sign=abc&logs=container')).status).toBe(200)
  })
})

describe('headers: pages may be framed by huggingface.co, the JSON API may not', () => {
  test('/, /docs and the page assets: CSP with frame-ancestors, no X-Frame-Options', async () => {
    const t = await appWith()
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'self' https://huggingface.co")
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'")
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe')
    for (const path of ['/', '/docs', '/assets/page.css', '/assets/status.js', '/assets/docs.js']) {
      const res = await t.app.request(path)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY)
      expect(res.headers.get('x-frame-options')).toBeNull()
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    }
    expect((await t.app.request('/assets/status.js')).headers.get('content-type')).toMatch(/^text\/javascript/)
    expect((await t.app.request('/assets/page.css')).headers.get('content-type')).toMatch(/^text\/css/)
    const missing = await t.app.request('/assets/nope.js')
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as any).error.code).toBe('not_found')
  })

  test('the JSON API, /openapi.json included, keeps X-Frame-Options and gets no CSP', async () => {
    const t = await appWith()
    for (const path of ['/openapi.json', '/config/database', '/api/v1/auth/me', '/nope']) {
      const res = await t.app.request(path)
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN')
      expect(res.headers.get('content-security-policy')).toBeNull()
    }
  })

  test('no inline script, no inline style, no event-handler attribute, nothing loaded from elsewhere', async () => {
    const t = await appWith()
    for (const path of ['/', '/docs']) {
      const { html } = await page(t.app, path)
      const scripts = html.match(/<script[^>]*>/g) ?? []
      expect(scripts.length).toBeGreaterThan(0)
      for (const s of scripts) expect(s).toMatch(/^<script src="\/assets\/\w+\.js"/)
      expect(html).not.toMatch(/<script[^>]*>[^<]/)
      expect(html).not.toMatch(/<style|\sstyle="/)
      expect(html).not.toMatch(/\son[a-z]+="/)
      expect(html).not.toMatch(/\s(src|href)="(https?:)?\/\/(?!huggingface\.co\/spaces\/)/)
    }
  })
})

describe('no secret in any page or document', () => {
  test('URL password, JWT secret, seeded password: in none of /, /docs, /openapi.json, the assets', async () => {
    const secrets = { db: 'Db-pass-51c0de', jwt: 'jwt-secret-that-is-long-enough-7f3a9b2c4d', admin: 'Admin-pass-2be8f1' }
    const t = await appWith(
      withAdmin({
        DATABASE_URL: `postgres://app:${secrets.db}@127.0.0.1:1/app`,
        JWT_SECRET: secrets.jwt,
        SEED_ADMIN_PASSWORD: secrets.admin,
      }),
    )
    for (const path of ['/', '/docs', '/openapi.json', '/assets/status.js', '/assets/docs.js']) {
      const text = await (await t.app.request(path)).text()
      for (const secret of Object.values(secrets)) expect(text).not.toContain(secret)
      expect(text).not.toMatch(/\$2[aby]\$\d\d\$/)
    }
  })
})
