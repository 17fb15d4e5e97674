// What the raw baselines share: HS256 verification with Web Crypto (what hono/jwt uses underneath,
// minus the framework), the bearer-token user check, the /health body, note input and pages, and the
// port line. Nothing here is framework code.

const encoder = new TextEncoder()

export interface RawClaims {
  sub: string
  /** the refresh session the token was issued with */
  sid: string
  exp: number
}

/**
 * A verifier for HS256 access tokens: header alg, HMAC-SHA256 signature (Web Crypto), exp, sub.
 * The key is imported once, as a hand-written server would do.
 */
export async function hs256Verifier(secret: string): Promise<(token: string) => Promise<RawClaims | null>> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
  return async (token) => {
    const parts = token.split('.')
    if (parts.length !== 3) return null
    const [h, p, s] = parts as [string, string, string]
    try {
      const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: unknown }
      if (header.alg !== 'HS256') return null
      if (!(await crypto.subtle.verify('HMAC', key, Buffer.from(s, 'base64url'), encoder.encode(`${h}.${p}`)))) return null
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Partial<RawClaims>
      if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) return null
      return claims as RawClaims
    } catch {
      return null
    }
  }
}

/** The bearer token of a request, or null. */
export function bearer(req: Request): string | null {
  const h = req.headers.get('authorization')
  return h && h.startsWith('Bearer ') ? h.slice(7).trim() : null
}

type UserRow = { id: string; disabled: boolean | number }

/**
 * The id of the live, enabled user whose bearer token comes with a request, or null: what the
 * server's auth guard checks (account and session, users.getForSession), with each baseline's own
 * lookup running the server's statement.
 */
export function bearerUser(
  verify: (token: string) => Promise<RawClaims | null>,
  findUser: (id: string, sessionId: string) => UserRow | null | undefined | Promise<UserRow | null | undefined>,
): (req: Request) => Promise<string | null> {
  return async (req) => {
    const token = bearer(req)
    const claims = token ? await verify(token) : null
    if (!claims) return null
    const user = await findUser(claims.sub, claims.sid)
    return user && !user.disabled ? user.id : null
  }
}

/**
 * What a hand-written server keeps of its database's last probe: the time PostgreSQL last answered,
 * as the ISO string the body carries, refreshed as often as the server probes by default (2 s).
 */
let checkedAt = new Date().toISOString()
setInterval(() => (checkedAt = new Date().toISOString()), 2_000).unref()

/**
 * The same fields, in the same order and of the same size, as the server's GET /health when
 * PostgreSQL is up and no replica is configured; built per request, like the server's.
 */
export function healthBody(startedAt: number, version: string) {
  const now = Date.now()
  return {
    status: 'healthy',
    timestamp: new Date(now).toISOString(),
    database_status: 'connected',
    database_type: 'postgresql',
    fallback_active: false,
    fallback_persistent: true,
    mode: 'primary',
    primary: { configured: true, status: 'up', idle: false, checked_at: checkedAt },
    outbox_pending: 0,
    replica: { configured: false, target: null, lag_ms: null, last_upload_at: null, pending_segments: 0, last_error: null },
    uptime_s: Math.floor((now - startedAt) / 1000),
    version,
    warnings: [] as string[],
  }
}

/** the server's Content-Type for JSON (Response.json says `application/json;charset=utf-8`) */
export const JSON_CONTENT_TYPE = 'application/json'

export const unauthorized = () => Response.json({ error: { code: 'unauthorized', message: 'a valid bearer token is required' } }, { status: 401 })
export const notFound = () => Response.json({ error: { code: 'not_found', message: 'no such route' } }, { status: 404 })
export const badRequest = (message: string) => Response.json({ error: { code: 'validation_error', message } }, { status: 400 })

/** A note body as the server accepts it: title 1..200 characters after trim, body up to 1e6. */
function noteInput(raw: unknown): { title: string; body: string } | string {
  if (!raw || typeof raw !== 'object') return 'body must be a JSON object'
  const { title, body } = raw as Record<string, unknown>
  if (typeof title !== 'string' || typeof body !== 'string') return 'title and body must be strings'
  const t = title.trim()
  if (t.length < 1 || t.length > 200 || body.length > 1_000_000) return 'title or body out of bounds'
  return { title: t, body }
}

/** The note a POST sends, or the 400 that answers it. */
export async function readNote(req: Request): Promise<{ title: string; body: string } | Response> {
  let raw: unknown
  try {
    raw = await req.json()
  } catch {
    return badRequest('malformed JSON')
  }
  const input = noteInput(raw)
  return typeof input === 'string' ? badRequest(input) : input
}

/** The page size a list asks for (default 20), or the 400 that answers it. */
export function pageLimit(url: URL): number | Response {
  const limit = Number(url.searchParams.get('limit') ?? 20)
  return Number.isInteger(limit) && limit >= 1 && limit <= 100 ? limit : badRequest('limit must be 1..100')
}

/**
 * A page answer from the server's budgeted page statement: the rows within the byte budget of the
 * limit + 1 candidates, and how many candidates there were (a page the budget ended early goes on).
 */
export function pageResponse<R extends { id: string; candidates: number }>(rows: R[], limit: number, json: (row: R) => unknown): Response {
  const items = rows.slice(0, limit)
  const more = rows.length > limit || rows.length < (rows[0]?.candidates ?? 0)
  return Response.json({ items: items.map(json), next_cursor: more ? items[items.length - 1]!.id : null })
}

/** The server's first-page statement (notes repositories): the limit + 1 newest notes within 2 MiB of text. */
export const BUDGETED_PAGE_SQL = {
  sqlite: `WITH cand AS (
    SELECT id, octet_length(title) + octet_length(body) AS size FROM notes
    WHERE owner_id = $owner_id AND deleted_at IS NULL AND ($cursor IS NULL OR id < $cursor)
    ORDER BY id DESC LIMIT $n
  ), ranked AS (
    SELECT id, sum(size) OVER (ORDER BY id DESC) AS run, row_number() OVER (ORDER BY id DESC) AS rn, count(*) OVER () AS candidates
    FROM cand)
  SELECT n.id, n.owner_id, n.title, n.body, n.created_at, n.updated_at, n.version, n.deleted_at, ranked.candidates
  FROM ranked JOIN notes n ON n.id = ranked.id
  WHERE ranked.rn = 1 OR ranked.run <= $budget ORDER BY n.id DESC`,
}

export const listenPort = (): number => Number(process.env.PORT ?? 0)
