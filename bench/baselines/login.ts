// Raw baseline for "GET /health while logins hash passwords": Bun.serve with the same /health JSON and
// a POST /login that only checks a password against a $2b$ bcrypt hash of the same cost, with
//   HASHER=bun       Bun.password.verify (bcrypt on a worker thread: what the server uses), or
//   HASHER=bcryptjs  bcryptjs.compare (pure JS on the event loop, yielding between rounds),
// so the burst figure can be set beside what each way of verifying costs the event loop.
import bcrypt from 'bcryptjs'
import { badRequest, healthBody, listenPort, notFound } from '../lib/raw-http.ts'

const hasher = process.env.HASHER === 'bcryptjs' ? 'bcryptjs' : 'bun'
const password = process.env.LOGIN_PASSWORD
if (!password) throw new Error('LOGIN_PASSWORD is required')
const cost = Number(process.env.BCRYPT_COST ?? 10)
const hash = await Bun.password.hash(password, { algorithm: 'bcrypt', cost })
const check = hasher === 'bun' ? (p: string) => Bun.password.verify(p, hash, 'bcrypt') : (p: string) => bcrypt.compare(p, hash)
const startedAt = Date.now()

Bun.serve({
  port: listenPort(),
  hostname: '127.0.0.1',
  development: false,
  async fetch(req) {
    const { pathname } = new URL(req.url)
    if (req.method === 'GET' && pathname === '/health') return Response.json(healthBody(startedAt, '0.1.0'))
    if (req.method === 'POST' && pathname === '/api/v1/auth/login') {
      let body: { password?: unknown }
      try {
        body = (await req.json()) as { password?: unknown }
      } catch {
        return badRequest('malformed JSON')
      }
      if (typeof body.password !== 'string') return badRequest('password must be a string')
      const ok = await check(body.password)
      return ok ? Response.json({ ok: true }) : Response.json({ error: { code: 'invalid_credentials' } }, { status: 401 })
    }
    return notFound()
  },
})
