// The few API calls the bench makes itself: log in, write notes, switch databases, read /health.
import { getJson } from '../../test/helpers/spawn-server.ts'

export interface Account {
  email: string
  password: string
}

/** status and parsed JSON body (raw text when not JSON): the test suite's reader */
async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const { status, body } = await getJson(url, init)
  return { status, body }
}

const json = (body: unknown, token?: string): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
})

/** The access token of a fresh login. */
export async function login(baseUrl: string, account: Account): Promise<string> {
  const r = await call(`${baseUrl}/api/v1/auth/login`, json(account))
  if (r.status !== 200 || typeof r.body?.access_token !== 'string') throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
  return r.body.access_token as string
}

export const NOTE = { title: 'bench note', body: 'a note written by the benchmark: short, like most notes are.' }

/** Writes `n` notes, `concurrency` requests at a time; throws on the first non-201. */
export async function createNotes(baseUrl: string, token: string, n: number, concurrency = 16): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < n) {
      next++
      const r = await call(`${baseUrl}/api/v1/notes`, json(NOTE, token))
      if (r.status !== 201) throw new Error(`note create failed: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
}

/** Creates `n` users (role user) with the given password through the admin API; returns their accounts. */
export async function createUsers(baseUrl: string, adminToken: string, n: number, password: string): Promise<Account[]> {
  const accounts: Account[] = []
  for (let i = 0; i < n; i++) {
    const account = { email: `bench-user-${i}-${crypto.randomUUID().slice(0, 8)}@example.com`, password }
    const r = await call(`${baseUrl}/api/v1/admin/users`, json({ ...account, role: 'user' }, adminToken))
    if (r.status !== 201) throw new Error(`user create failed: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
    accounts.push(account)
  }
  return accounts
}

export async function adminPost(baseUrl: string, token: string, path: string): Promise<{ status: number; body: any }> {
  return call(`${baseUrl}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })
}

export async function health(baseUrl: string): Promise<any> {
  return (await call(`${baseUrl}/health`)).body
}

/** Polls /health until `pred` holds; throws after timeoutMs. */
export async function waitForHealth(baseUrl: string, pred: (h: any) => boolean, timeoutMs: number): Promise<any> {
  const deadline = performance.now() + timeoutMs
  let last: unknown = null
  while (performance.now() < deadline) {
    try {
      last = await health(baseUrl)
      if (pred(last)) return last
    } catch {
      // not answering yet
    }
    await Bun.sleep(50)
  }
  throw new Error(`/health did not reach the awaited state within ${timeoutMs} ms; last: ${JSON.stringify(last)}`)
}
