// A real browser for page tests: Debian's Chromium (/usr/bin/chromium) driven by playwright-core,
// never a downloaded build. Each launch gets a fresh profile folder, removed on close; everything the
// pages log as an error, and every CSP violation in any frame, is collected for the test to check.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
/** screenshots the browser tests take: test artifacts, never committed (.gitignore) */
export const ARTIFACTS_DIR = resolve(import.meta.dir, '../../test-artifacts/screenshots')

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

/**
 * Whether the browser suite runs: it needs Chromium, and openssl for the framing host's certificate.
 * Either missing fails under REQUIRE_BROWSER=1 (.ci/run installs both), else one loud line and a skip.
 */
export function requireBrowser(suite: string): boolean {
  const missing = [existsSync(CHROMIUM) ? null : CHROMIUM, Bun.which('openssl') ? null : 'openssl'].filter(Boolean)
  if (missing.length === 0) return true
  const why = `${missing.join(' and ')} missing (apt-get install -y chromium openssl)`
  if (process.env.REQUIRE_BROWSER === '1') throw new Error(`${suite}: ${why} and REQUIRE_BROWSER=1`)
  console.warn(`SKIPPED ${suite}: ${why}`)
  return false
}

/**
 * What page functions passed to evaluate() may read (this project's types have no DOM). Functions, not
 * strings: a string is eval'ed in the page, which the app's CSP rightly refuses.
 */
export interface PageGlobals {
  __csp?: string[]
  document: { body: { dataset: Record<string, string | undefined> }; cookie: string }
  localStorage: { length: number }
  sessionStorage: { length: number }
}

export interface Problems {
  /** console messages of type error, and uncaught page errors, from every frame */
  errors: string[]
  /** securitypolicyviolation events seen in any frame: "directive blockedURI" */
  cspViolations(page: Page): Promise<string[]>
}

export interface TestBrowser {
  context: BrowserContext
  problems: Problems
  newPage(): Promise<Page>
  screenshot(page: Page, name: string): Promise<string>
  close(): Promise<void>
}

// Runs in every frame before its own scripts: a CSP violation in a cross-origin iframe is recorded
// where the test can read it.
const RECORD_CSP = `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI))`

export async function launchBrowser(opts: { extraArgs?: string[]; ignoreHTTPSErrors?: boolean } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, ...(opts.extraArgs ?? [])],
      ignoreHTTPSErrors: opts.ignoreHTTPSErrors ?? false,
      viewport: { width: 1000, height: 900 },
    })
  } catch (e) {
    rmSync(profile, { recursive: true, force: true })
    throw e
  }
  await context.addInitScript(RECORD_CSP)
  const errors: string[] = []
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`)
    })
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
  }
  context.on('page', watch)
  for (const page of context.pages()) watch(page)

  return {
    context,
    problems: {
      errors,
      async cspViolations(page) {
        const found: string[] = []
        for (const frame of page.frames()) found.push(...(await frame.evaluate(() => (globalThis as unknown as PageGlobals).__csp ?? [])))
        return found
      },
    },
    newPage: () => context.newPage(),
    async screenshot(page, name) {
      mkdirSync(ARTIFACTS_DIR, { recursive: true })
      const path = join(ARTIFACTS_DIR, `${name}.png`)
      await page.screenshot({ path, fullPage: true })
      return path
    },
    async close() {
      // Closing the only context of a persistent launch ends the browser process it started.
      await context.close().catch(() => undefined)
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
