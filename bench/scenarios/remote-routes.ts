// The routes the "remote database" section times: for each, the request that is timed and what one
// sample needs first, made untimed (a fresh note or user to delete, a fresh session to log out, the
// refresh token the previous rotation handed out). Every timed request is valid and must answer the
// given 2xx; a sample that does not stops the scenario.
import { login, NOTE, type Account } from '../lib/api.ts'

export interface Answer {
  status: number
  body: any
}

/** ≤ roundTrips, or (login) ≤ the password check + roundTrips */
export interface RoundTripTarget {
  /** whole round trips; a route meets it within MEASUREMENT_SLACK (remote.ts) */
  max: number
  passwordCheck?: true
}

export interface RemoteRoute {
  /** method and path as a client sends it, ids as :id */
  label: string
  target: RoundTripTarget
  /** the 2xx it must answer */
  status: number
  /** untimed setup of one sample; resolves to the timed request */
  prepare(): Promise<() => Promise<Answer>>
}

type Send = (method: string, path: string, o?: { token?: string; body?: unknown }) => Promise<Answer>

function client(baseUrl: string): { send: Send; expect: (status: number, ...a: Parameters<Send>) => Promise<any> } {
  const send: Send = async (method, path, o = {}) => {
    const headers: Record<string, string> = {}
    if (o.token) headers.Authorization = `Bearer ${o.token}`
    if (o.body !== undefined) headers['Content-Type'] = 'application/json'
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) })
    const text = await res.text()
    return { status: res.status, body: text === '' ? null : JSON.parse(text) }
  }
  const expect = async (status: number, ...a: Parameters<Send>) => {
    const r = await send(...a)
    if (r.status !== status) throw new Error(`${a[0]} ${a[1]}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
    return r.body
  }
  return { send, expect }
}

const ROUND_TRIP = { max: 1 }

/** Makes the accounts and notes the routes act on, and returns the routes in the order they are measured. */
export async function remoteRoutes(baseUrl: string, admin: Account): Promise<RemoteRoute[]> {
  const { send, expect } = client(baseUrl)
  const adminToken = await login(baseUrl, admin)
  const as = (token: string) => ({ token })
  const newAccount = (): Account => ({ email: `bench-remote-${crypto.randomUUID().slice(0, 8)}@example.com`, password: `bench-${crypto.randomUUID()}`.slice(0, 40) })
  const createUser = async (): Promise<{ id: string; account: Account }> => {
    const account = newAccount()
    const r = await expect(201, 'POST', '/api/v1/admin/users', { token: adminToken, body: { ...account, role: 'user' } })
    return { id: r.user.id as string, account }
  }
  const createNote = async (): Promise<string> => (await expect(201, 'POST', '/api/v1/notes', { token: adminToken, body: NOTE })).id as string

  // a full page for the list, one note to read and patch
  for (let i = 0; i < 25; i++) await createNote()
  const noteId = await createNote()
  // one account that logs in, out and refreshes; one that changes its password; one the admin patches
  const member = await createUser()
  const changer = await createUser()
  const patched = await createUser()
  const changerToken = await login(baseUrl, changer.account)
  let passwords = [changer.account.password, newAccount().password] as const
  let refreshToken = (await expect(200, 'POST', '/api/v1/auth/login', { body: member.account })).refresh_token as string
  let n = 0

  const timed = (f: () => Promise<Answer>) => async () => f
  return [
    { label: 'GET /api/v1/notes?limit=20', target: ROUND_TRIP, status: 200, prepare: timed(() => send('GET', '/api/v1/notes?limit=20', as(adminToken))) },
    { label: 'GET /api/v1/notes/:id', target: ROUND_TRIP, status: 200, prepare: timed(() => send('GET', `/api/v1/notes/${noteId}`, as(adminToken))) },
    { label: 'POST /api/v1/notes', target: ROUND_TRIP, status: 201, prepare: timed(() => send('POST', '/api/v1/notes', { token: adminToken, body: NOTE })) },
    {
      label: 'PATCH /api/v1/notes/:id',
      target: ROUND_TRIP,
      status: 200,
      prepare: timed(() => send('PATCH', `/api/v1/notes/${noteId}`, { token: adminToken, body: { title: `bench note ${++n}` } })),
    },
    {
      label: 'DELETE /api/v1/notes/:id',
      target: ROUND_TRIP,
      status: 204,
      prepare: async () => {
        const id = await createNote()
        return () => send('DELETE', `/api/v1/notes/${id}`, as(adminToken))
      },
    },
    { label: 'GET /api/v1/auth/me', target: ROUND_TRIP, status: 200, prepare: timed(() => send('GET', '/api/v1/auth/me', as(adminToken))) },
    {
      label: 'POST /api/v1/auth/logout',
      target: ROUND_TRIP,
      status: 204,
      prepare: async () => {
        const token = await login(baseUrl, member.account)
        return () => send('POST', '/api/v1/auth/logout', as(token))
      },
    },
    { label: 'POST /api/v1/auth/login', target: { max: 2, passwordCheck: true }, status: 200, prepare: timed(() => send('POST', '/api/v1/auth/login', { body: member.account })) },
    {
      label: 'POST /api/v1/auth/refresh',
      target: { max: 2 },
      status: 200,
      // a chain: each rotation hands out the token the next one presents
      prepare: timed(async () => {
        const r = await send('POST', '/api/v1/auth/refresh', { body: { refresh_token: refreshToken } })
        if (r.status === 200) refreshToken = r.body.refresh_token
        return r
      }),
    },
    {
      label: 'POST /api/v1/auth/password',
      target: { max: 3 },
      status: 204,
      // back and forth between two passwords; the session of the token survives its own change
      prepare: timed(async () => {
        const r = await send('POST', '/api/v1/auth/password', { token: changerToken, body: { current_password: passwords[0], new_password: passwords[1] } })
        if (r.status === 204) passwords = [passwords[1], passwords[0]]
        return r
      }),
    },
    { label: 'GET /api/v1/admin/users', target: ROUND_TRIP, status: 200, prepare: timed(() => send('GET', '/api/v1/admin/users', as(adminToken))) },
    { label: 'GET /api/v1/admin/users/:id', target: ROUND_TRIP, status: 200, prepare: timed(() => send('GET', `/api/v1/admin/users/${patched.id}`, as(adminToken))) },
    {
      label: 'PATCH /api/v1/admin/users/:id',
      target: ROUND_TRIP,
      status: 200,
      prepare: timed(() => send('PATCH', `/api/v1/admin/users/${patched.id}`, { token: adminToken, body: { name: `bench user ${++n}` } })),
    },
    {
      label: 'DELETE /api/v1/admin/users/:id',
      target: ROUND_TRIP,
      status: 204,
      prepare: async () => {
        const { id } = await createUser()
        return () => send('DELETE', `/api/v1/admin/users/${id}`, as(adminToken))
      },
    },
    { label: 'GET /api/v1/admin/audit', target: ROUND_TRIP, status: 200, prepare: timed(() => send('GET', '/api/v1/admin/audit', as(adminToken))) },
  ]
}
