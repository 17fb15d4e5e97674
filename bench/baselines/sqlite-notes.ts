// Raw baseline for the note routes on SQLite: Bun.serve + bun:sqlite, no framework. Per request it
// does what the server does at the database: verify the HS256 token (Web Crypto), look the user up,
// then the note statement — the same SQL text, prepared once, the same pragmas (WAL, synchronous
// NORMAL, foreign keys, busy timeout), writes in BEGIN IMMEDIATE — on the server's own database file.
import { Database } from 'bun:sqlite'
import { bearerUser, BUDGETED_PAGE_SQL, hs256Verifier, listenPort, notFound, pageLimit, pageResponse, readNote, unauthorized } from '../lib/raw-http.ts'

const path = process.env.SQLITE_PATH
const secret = process.env.JWT_SECRET
if (!path || !secret) throw new Error('SQLITE_PATH and JWT_SECRET are required')

const db = new Database(path, { readwrite: true, strict: true })
db.run('PRAGMA busy_timeout = 5000')
db.run('PRAGMA journal_mode = WAL')
db.run('PRAGMA foreign_keys = ON')
db.run('PRAGMA synchronous = NORMAL')

interface NoteRow {
  id: string
  owner_id: string
  title: string
  body: string
  created_at: string
  updated_at: string
  version: number
}

// the server's guard statement (users.getForSession): the account and its session in one query
const userBySession = db.prepare<{ id: string; disabled: number }, [{ id: string; session_id: string; now: string }]>(
  `SELECT u.*, CASE WHEN s.revoked_at IS NULL THEN s.id ELSE r.id END AS live_session_id
  FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN sessions r ON r.id = s.replaced_by
  WHERE s.id = $session_id AND u.id = $id AND u.deleted_at IS NULL AND u.disabled = 0
    AND ((s.revoked_at IS NULL AND s.expires_at > $now)
      OR (r.user_id = s.user_id AND r.revoked_at IS NULL AND r.expires_at > $now))`,
)
// the server's statement for a page without a search (a byte budget of 2 MiB)
const list = db.prepare<NoteRow & { candidates: number }, [Record<string, string | number | null>]>(BUDGETED_PAGE_SQL.sqlite)
const insert = db.prepare<NoteRow, [Record<string, string | number | null>]>(
  'INSERT INTO notes (id, owner_id, title, body, search_text, created_at, updated_at, version, deleted_at) ' +
    'VALUES ($id, $owner_id, $title, $body, $search_text, $created_at, $updated_at, $version, $deleted_at) RETURNING *',
)
const insertTx = db.transaction((params: Record<string, string | number | null>) => insert.get(params)!).immediate

const verify = await hs256Verifier(secret)

const noteJson = (n: NoteRow) => ({ id: n.id, title: n.title, body: n.body, created_at: n.created_at, updated_at: n.updated_at, version: n.version })

const userOf = bearerUser(verify, (id, sessionId) => userBySession.get({ id, session_id: sessionId, now: new Date().toISOString() }))

Bun.serve({
  port: listenPort(),
  hostname: '127.0.0.1',
  development: false,
  async fetch(req) {
    const u = new URL(req.url)
    if (u.pathname !== '/api/v1/notes') return notFound()
    const ownerId = await userOf(req)
    if (!ownerId) return unauthorized()
    if (req.method === 'GET') {
      const limit = pageLimit(u)
      if (limit instanceof Response) return limit
      const rows = list.all({ owner_id: ownerId, cursor: null, n: limit + 1, budget: 2 * 1024 * 1024 })
      return pageResponse(rows, limit, noteJson)
    }
    if (req.method === 'POST') {
      const input = await readNote(req)
      if (input instanceof Response) return input
      const now = new Date().toISOString()
      const row = insertTx({
        id: Bun.randomUUIDv7(),
        owner_id: ownerId,
        title: input.title,
        body: input.body,
        search_text: `${input.title}\n${input.body}`.toLowerCase(),
        created_at: now,
        updated_at: now,
        version: 1,
        deleted_at: null,
      })
      return Response.json(noteJson(row), { status: 201, headers: { Location: `/api/v1/notes/${row.id}` } })
    }
    return notFound()
  },
})
