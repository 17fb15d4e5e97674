// Raw baseline for the note routes on PostgreSQL: Bun.serve + postgres.js, no framework. Per request
// it does what the server's route does at the database: verify the HS256 token (Web Crypto), look the
// user up (the same SQL as the auth guard), then the same note SQL through the same driver call, on a
// pool of the same size with the same prepare/statement_timeout settings.
//   GET  /api/v1/notes   select <note columns> from notes ... order by id desc limit 21  → {items, next_cursor}
//   POST /api/v1/notes   insert into notes (<columns>) values (...) returning <note columns>  → 201 note
//   GET  /health         the health baseline's JSON (for the mixed load of the memory figure)
import postgres from 'postgres'
import { bearerUser, healthBody, hs256Verifier, listenPort, notFound, pageLimit, pageResponse, readNote, unauthorized } from '../lib/raw-http.ts'

const url = process.env.DATABASE_URL
const secret = process.env.JWT_SECRET
if (!url || !secret) throw new Error('DATABASE_URL and JWT_SECRET are required')

// POOLED=1: through a transaction-mode pooler, as the server then runs: no startup parameters, no
// named prepared statements
const pooled = process.env.POOLED === '1'
const sql = postgres(url, {
  max: Number(process.env.DATABASE_POOL_SIZE ?? 10),
  connect_timeout: 5,
  idle_timeout: 30,
  prepare: !pooled,
  connection: pooled ? {} : { statement_timeout: Number(process.env.DB_STATEMENT_TIMEOUT_MS ?? 15_000) },
  onnotice: () => {},
})
const verify = await hs256Verifier(secret)
const startedAt = Date.now()

interface NoteRow {
  id: string
  owner_id: string
  title: string
  body: string
  created_at: Date
  updated_at: Date
  version: number
}

const noteJson = (n: NoteRow) => ({
  id: n.id,
  title: n.title,
  body: n.body,
  created_at: n.created_at.toISOString(),
  updated_at: n.updated_at.toISOString(),
  version: n.version,
})

// the server's guard statement (users.getForSession): the account and its session in one query
const userOf = bearerUser(verify, async (id, sessionId) => {
  const now = new Date().toISOString()
  const [user] = await sql<{ id: string; disabled: boolean }[]>`
    select u.*, case when s.revoked_at is null then s.id else r.id end as live_session_id
    from sessions s join users u on u.id = s.user_id left join sessions r on r.id = s.replaced_by
    where s.id = ${sessionId} and u.id = ${id} and u.deleted_at is null and not u.disabled
      and ((s.revoked_at is null and s.expires_at > ${now})
        or (r.user_id = s.user_id and r.revoked_at is null and r.expires_at > ${now}))`
  return user
})

Bun.serve({
  port: listenPort(),
  hostname: '127.0.0.1',
  development: false,
  async fetch(req) {
    const u = new URL(req.url)
    // /health as in the health baseline, so the mixed load of the memory figure runs here too
    if (req.method === 'GET' && u.pathname === '/health') return Response.json(healthBody(startedAt, '0.1.0'))
    if (u.pathname !== '/api/v1/notes') return notFound()
    const ownerId = await userOf(req)
    if (!ownerId) return unauthorized()
    if (req.method === 'GET') {
      const limit = pageLimit(u)
      if (limit instanceof Response) return limit
      // the server's statement for a page without a search (a byte budget of 2 MiB)
      const rows = await sql<(NoteRow & { candidates: number })[]>`
        with cand as (
          select id, octet_length(title) + octet_length(body) as size from notes
          where owner_id = ${ownerId} and deleted_at is null
          order by id desc limit ${limit + 1}
        ), ranked as (
          select id, sum(size) over (order by id desc) as run, row_number() over (order by id desc) as rn, (count(*) over ())::int as candidates
          from cand)
        select n.id, n.owner_id, n.title, n.body, n.created_at, n.updated_at, n.version, n.deleted_at, ranked.candidates
        from ranked join notes n on n.id = ranked.id
        where ranked.rn = 1 or ranked.run <= ${2 * 1024 * 1024}
        order by n.id desc`
      return pageResponse(rows, limit, noteJson)
    }
    if (req.method === 'POST') {
      const input = await readNote(req)
      if (input instanceof Response) return input
      const now = new Date().toISOString()
      const id = Bun.randomUUIDv7()
      // the server's statement, written the same way (columns spelled out, not sql(object))
      const [row] = await sql<NoteRow[]>`
        insert into notes (id, owner_id, title, body, search_text, created_at, updated_at, version)
        values (${id}, ${ownerId}, ${input.title}, ${input.body}, ${`${input.title}\n${input.body}`.toLowerCase()}, ${now}, ${now}, 1)
        returning id, owner_id, title, body, created_at, updated_at, version, deleted_at`
      return Response.json(noteJson(row!), { status: 201, headers: { Location: `/api/v1/notes/${row!.id}` } })
    }
    return notFound()
  },
})
