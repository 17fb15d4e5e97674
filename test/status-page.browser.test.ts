// The status page and the docs in a real browser (Debian's Chromium via playwright-core): the page
// framed by https://huggingface.co (a loopback stand-in, see helpers/framing-host.ts) renders with no
// console error and no CSP violation, follows a real failover of the server it shows (the fault proxy
// cuts PostgreSQL) within two refreshes, and back; an admin signs in and runs "sync now"; /docs renders
// and its "try it" gets 200 from /health. Screenshots land in test-artifacts/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Frame, Page } from 'playwright-core'
import { launchBrowser, requireBrowser, type PageGlobals, type TestBrowser } from './helpers/browser.ts'
import { ADMIN_EMAIL, ADMIN_PASSWORD, failoverEnv, waitFor } from './helpers/failover-workload.ts'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import { startFramingHost, type FramingHost } from './helpers/framing-host.ts'
import { createTestDatabase, pgAvailable, requirePostgres, TEST_DATABASE_URL, type TestDatabase } from './helpers/pg.ts'
import { getJson, ServerHarness } from './helpers/spawn-server.ts'

const run = requireBrowser('status page in a browser') && requirePostgres(await pgAvailable(), 'status page in a browser')

/** generous bounds: each wait ends as soon as its condition holds */
const WAIT_MS = 30_000
const REFRESH_S = 1

const h = new ServerHarness()
let db: TestDatabase | null = null
let proxy: FaultProxy | null = null
let host: FramingHost | null = null
let browser: TestBrowser | null = null
let baseUrl = ''

afterAll(async () => {
  await browser?.close()
  await host?.close()
  await h.cleanup()
  await proxy?.close()
  await db?.drop()
})

describe.skipIf(!run)('status page in Chromium', () => {
  let page: Page
  let frame: Frame

  beforeAll(async () => {
    db = await createTestDatabase('status_page')
    const target = new URL(TEST_DATABASE_URL)
    proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
    const proc = h.spawn({ env: failoverEnv(proxy.proxiedUrl(db.url)) })
    baseUrl = (await proc.waitForListen(WAIT_MS)).baseUrl
    host = startFramingHost(`${baseUrl}/?refresh=${REFRESH_S}`)
    browser = await launchBrowser({ extraArgs: host.chromiumArgs, ignoreHTTPSErrors: true })
    page = await browser.newPage()
    await page.goto(host.pageUrl)
    const iframe = await page.waitForSelector('iframe#app', { timeout: WAIT_MS })
    const content = await iframe.contentFrame()
    if (!content) throw new Error('the iframe has no frame')
    frame = content
    await frame.waitForSelector('#live', { timeout: WAIT_MS })
  }, 120_000)

  const serving = () => frame.locator('#serving').innerText()
  const refreshes = async () => Number(await frame.locator('body').getAttribute('data-refreshes'))
  const healthType = async () => (await getJson(`${baseUrl}/health`)).body.database_type as string

  /** once the server itself serves from `kind`, the page must say `words` by its second refresh */
  async function pageFollows(kind: 'postgresql' | 'sqlite', words: string) {
    await waitFor(`the server to serve from ${kind}`, healthType, (t) => t === kind, WAIT_MS)
    const before = await refreshes()
    await frame.locator('#serving', { hasText: words }).waitFor({ timeout: WAIT_MS })
    expect(await refreshes()).toBeLessThanOrEqual(before + 2)
  }

  test('framed by https://huggingface.co: renders, says PostgreSQL, no console error, no CSP violation', async () => {
    expect(page.url()).toBe(host!.pageUrl)
    expect(await serving()).toBe('PostgreSQL')
    expect(await frame.locator('#fact-primary strong').innerText()).toBe('up')
    expect(await frame.locator('svg.chart').count()).toBe(2)
    // the script runs: the page refreshes itself
    await frame.waitForFunction(() => Number((globalThis as unknown as PageGlobals).document.body.dataset.refreshes) >= 1, undefined, { timeout: WAIT_MS })
    await browser!.screenshot(page, 'status-framed-postgresql')
    expect(browser!.problems.errors).toEqual([])
    expect(await browser!.problems.cspViolations(page)).toEqual([])
  }, 60_000)

  test('the primary is cut: SQLite fallback within two refreshes; back: PostgreSQL again', async () => {
    proxy!.setMode('refuse')
    await pageFollows('sqlite', 'SQLite fallback')
    expect(await frame.locator('#fact-primary strong').innerText()).toBe('down')
    await browser!.screenshot(page, 'status-framed-fallback')
    proxy!.setMode('pass')
    await pageFollows('postgresql', 'PostgreSQL')
    await browser!.screenshot(page, 'status-framed-recovered')
    expect(browser!.problems.errors).toEqual([])
    expect(await browser!.problems.cspViolations(page)).toEqual([])
  }, 120_000)

  test('an admin signs in inside the frame, sees the details, and runs "sync now" after confirming', async () => {
    await frame.fill('#signin input[name=email]', ADMIN_EMAIL)
    await frame.fill('#signin input[name=password]', ADMIN_PASSWORD)
    await frame.click('#signin button[type=submit]')
    await frame.locator('#admin-area').waitFor({ state: 'visible', timeout: WAIT_MS })
    expect(await frame.locator('#admin-email').innerText()).toBe(ADMIN_EMAIL)
    await frame.locator('#admin-status', { hasText: '"outbox_pending"' }).waitFor({ timeout: WAIT_MS })
    await frame.locator('#admin-config', { hasText: '"url"' }).waitFor({ timeout: WAIT_MS })
    // the password field is emptied, and the token is in no storage and no cookie (a framed page on
    // another site may be denied storage altogether: then nothing can be in it either)
    expect(await frame.inputValue('#signin input[name=password]')).toBe('')
    const stored = await frame.evaluate(() => {
      const page = globalThis as unknown as PageGlobals
      const count = (get: () => { length: number }) => {
        try {
          return get().length
        } catch {
          return 0
        }
      }
      return [count(() => page.localStorage), count(() => page.sessionStorage), page.document.cookie]
    })
    expect(stored).toEqual([0, 0, ''])

    await frame.click('button[data-action=sync]')
    await frame.locator('#confirm', { hasText: 'Really replay the outbox' }).waitFor({ state: 'visible', timeout: WAIT_MS })
    await frame.click('#confirm-yes')
    await frame.locator('#result-title', { hasText: 'Sync now: done (HTTP 200)' }).waitFor({ timeout: WAIT_MS })
    expect(JSON.parse(await frame.locator('#result-body').innerText())).toEqual({ applied: 0, conflicts: 0, remaining: 0 })
    await browser!.screenshot(page, 'status-framed-admin-sync')

    // no secret in what the page shows an admin: the redacted URL, never a password or a token
    const shown = await frame.locator('body').innerText()
    expect(shown).not.toContain(ADMIN_PASSWORD)
    expect(shown).not.toMatch(/eyJ[\w-]+\.[\w-]+\./)
    expect(browser!.problems.errors).toEqual([])
    expect(await browser!.problems.cspViolations(page)).toEqual([])
  }, 60_000)

  test('the page on its own, after a failover and back: the mode changes are listed (README screenshot)', async () => {
    const own = await browser!.newPage()
    await own.goto(`${baseUrl}/`)
    expect(await own.locator('#serving').innerText()).toBe('PostgreSQL')
    const changes = await own.locator('#mode-changes li').allInnerTexts()
    expect(changes.slice(0, 3).map((c) => c.split('→ ')[1])).toEqual(['primary', 'recovering', 'fallback'])
    await browser!.screenshot(own, 'status-page')
    expect(browser!.problems.errors).toEqual([])
    expect(await browser!.problems.cspViolations(own)).toEqual([])
    await own.close()
  }, 60_000)

  test('with JavaScript off: the status renders, sign-in says it needs JavaScript, and <meta refresh> reloads the page', async () => {
    const off = await browser!.newPage()
    const cdp = await browser!.context.newCDPSession(off)
    await cdp.send('Emulation.setScriptExecutionDisabled', { value: true })
    await off.goto(`${baseUrl}/?refresh=${REFRESH_S}`)
    expect(await off.locator('#serving').innerText()).toBe('PostgreSQL')
    expect(await off.locator('#signin').isVisible()).toBe(false)
    expect(await off.locator('#admin').innerText()).toContain('Signing in needs JavaScript')
    // the browser itself reloads the page: a new navigation of the main frame
    await off.waitForEvent('framenavigated', { predicate: (f) => f === off.mainFrame(), timeout: WAIT_MS })
    await off.locator('#serving', { hasText: 'PostgreSQL' }).waitFor({ timeout: WAIT_MS })
    await browser!.screenshot(off, 'status-without-javascript')
    expect(browser!.problems.errors).toEqual([])
    await off.close()
  }, 60_000)

  test('/docs renders, and its "try it" gets 200 from /health', async () => {
    const docs = await browser!.newPage()
    await docs.goto(`${baseUrl}/docs`)
    await docs.locator('#tag-fallback').waitFor({ timeout: WAIT_MS })
    await docs.click('#getHealth summary')
    await docs.click('#getHealth button.try')
    expect(await docs.inputValue('#tryit-form input[name=path]')).toBe('/health')
    await docs.click('#tryit-form button[type=submit]')
    await docs.locator('#tryit-status[data-status="200"]').waitFor({ timeout: WAIT_MS })
    expect(JSON.parse(await docs.locator('#tryit-response').innerText())).toMatchObject({ database_type: 'postgresql' })
    await browser!.screenshot(docs, 'docs-try-health')
    expect(browser!.problems.errors).toEqual([])
    expect(await browser!.problems.cspViolations(docs)).toEqual([])
    await docs.close()
  }, 60_000)
})
