// Jepsen-style bookkeeping for the process-level failover tests: concurrent HTTP clients write notes
// (create, patch, delete) and an admin creates users through a spawned server; every write the server
// acknowledged (2xx) is recorded with its last acknowledged content, every write that got anything
// else is recorded as "may or may not have happened". Afterwards PostgreSQL, read directly, must hold
// each acknowledged write exactly once with its last acknowledged content, and nothing else.
import { expect } from 'bun:test'
import type postgres from 'postgres'
import type { LogLine, ServerProcess } from './spawn-server.ts'

export const ADMIN_EMAIL = 'admin@failover.test'
export const ADMIN_PASSWORD = 'admin-password-for-failover-tests'
export const USER_PASSWORD = 'user-password-for-failover-tests'

/** The server environment of these tests: fast probes, short deadlines, a seeded admin, cheap bcrypt. */
export function failoverEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    HEALTH_CHECK_INTERVAL_MS: '100',
    DATABASE_TIMEOUT: '1',
    DATABASE_STARTUP_RETRIES: '0',
    DB_STATEMENT_TIMEOUT_MS: '1000',
    DATABASE_POOL_SIZE: '4',
    SEED_ADMIN_EMAIL: ADMIN_EMAIL,
    SEED_ADMIN_PASSWORD: ADMIN_PASSWORD,
    BCRYPT_COST: '4',
    JWT_SECRET: `failover-tests-jwt-secret-${crypto.randomUUID()}`,
    // The rate limiter is not under test here; a client retrying a login must not trip it.
    LOGIN_MAX_FAILURES: '1000',
    ...extra,
  }
}

export interface Reply {
  status: number
  body: any
}

/** A failed request: `status` 0 when no HTTP answer came (connection refused, reset, server killed). */
export class Api {
  constructor(readonly baseUrl: string) {}

  async call(method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<Reply> {
    const headers: Record<string, string> = {}
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(20_000),
      })
    } catch {
      return { status: 0, body: null }
    }
    const text = await res.text().catch(() => '')
    let body: unknown = text
    try {
      body = text ? JSON.parse(text) : null
    } catch {
      // not JSON: kept as text for the assertion message
    }
    return { status: res.status, body }
  }

  /** the call, which must answer `status` */
  async expect(status: number, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<any> {
    const reply = await this.call(method, path, opts)
    if (reply.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${reply.status} ${JSON.stringify(reply.body)}`)
    return reply.body
  }

  async login(email: string, password: string): Promise<{ token: string; userId: string }> {
    const body = await this.expect(200, 'POST', '/api/v1/auth/login', { body: { email, password } })
    return { token: body.access_token, userId: body.user.id }
  }

  health(): Promise<any> {
    return this.expect(200, 'GET', '/health')
  }
}

interface NoteState {
  title: string
  body: string
  deleted: boolean
}

interface AckedNote extends NoteState {
  ownerId: string
  version: number
  /** states an unanswered write may have left instead of the acknowledged one */
  maybe: NoteState[]
}

export interface WriteRecord {
  kind: 'note.create' | 'note.patch' | 'note.delete' | 'user.create' | 'session.rotate'
  startedAt: number
  doneAt: number
  status: number
}

/** Every write of a run, what it was answered, and what PostgreSQL must therefore hold. */
export class Ledger {
  readonly notes = new Map<string, AckedNote>()
  /** user id → email, for users an admin created with a 2xx answer */
  readonly users = new Map<string, string>()
  /** titles of note creations without a 2xx: such a note may exist (id unknown) or not */
  readonly unansweredNoteTitles = new Set<string>()
  /** emails of user creations without a 2xx */
  readonly unansweredEmails = new Set<string>()
  /** per rotating client: the refresh tokens it was handed, oldest first, and whether the last rotation went unanswered */
  readonly refreshChains: Array<{ tokens: string[]; uncertain: boolean }> = []
  readonly writes: WriteRecord[] = []
  readonly failures: Array<{ what: string; status: number; body: unknown }> = []

  get nonOk(): number {
    return this.failures.length
  }

  get acked(): number {
    return this.writes.filter((w) => w.status >= 200 && w.status < 300).length
  }

  record(kind: WriteRecord['kind'], startedAt: number, reply: Reply): boolean {
    this.writes.push({ kind, startedAt, doneAt: Date.now(), status: reply.status })
    const ok = reply.status >= 200 && reply.status < 300
    if (!ok) this.failures.push({ what: kind, status: reply.status, body: reply.body })
    return ok
  }

  /** first 2xx write answered at or after `at` (epoch ms), and the first one issued at or after it */
  firstAckAfter(at: number): { answered: number | null; issued: number | null } {
    const ok = this.writes.filter((w) => w.status >= 200 && w.status < 300)
    const answered = ok.filter((w) => w.doneAt >= at).map((w) => w.doneAt)
    const issued = ok.filter((w) => w.startedAt >= at).map((w) => w.doneAt)
    return { answered: answered.length ? Math.min(...answered) - at : null, issued: issued.length ? Math.min(...issued) - at : null }
  }
}

export interface Writer {
  token: string
  userId: string
}

/**
 * One client writing notes until `stop()` is true: mostly creates, every third write a patch of one
 * of its own notes, now and then a delete. Each note is written by this client only, one request at
 * a time, so its last acknowledged content is well defined.
 */
export async function noteWriter(api: Api, ledger: Ledger, w: Writer, tag: string, stop: () => boolean, pauseMs = 5): Promise<void> {
  const mine: string[] = []
  for (let n = 1; !stop(); n++) {
    const startedAt = Date.now()
    const target = mine.length > 0 ? mine[(n * 7919) % mine.length]! : null
    if (target && n % 3 === 0) {
      const title = `${tag} edit ${n}`
      const body = `patched by ${tag} at step ${n} ✓`
      const reply = await api.call('PATCH', `/api/v1/notes/${target}`, { token: w.token, body: { title, body } })
      const note = ledger.notes.get(target)!
      if (ledger.record('note.patch', startedAt, reply)) Object.assign(note, { title, body, version: reply.body.version })
      else uncertain(note, mine, target, { title, body, deleted: false })
    } else if (target && n % 17 === 0) {
      const reply = await api.call('DELETE', `/api/v1/notes/${target}`, { token: w.token })
      const note = ledger.notes.get(target)!
      if (ledger.record('note.delete', startedAt, reply)) {
        note.deleted = true
        mine.splice(mine.indexOf(target), 1)
      } else uncertain(note, mine, target, { ...note, deleted: true })
    } else {
      const title = `${tag} note ${n}`
      const body = `body of ${title} — ünïcödé, 'quotes', 100%_`
      const reply = await api.call('POST', '/api/v1/notes', { token: w.token, body: { title, body } })
      if (ledger.record('note.create', startedAt, reply)) {
        ledger.notes.set(reply.body.id, { ownerId: w.userId, title, body, deleted: false, version: reply.body.version, maybe: [] })
        mine.push(reply.body.id)
      } else ledger.unansweredNoteTitles.add(title)
    }
    if (pauseMs > 0) await Bun.sleep(pauseMs)
  }
}

/** A write without an answer may have happened: its note is left alone from then on. */
function uncertain(note: AckedNote, mine: string[], id: string, state: NoteState): void {
  note.maybe.push(state)
  mine.splice(mine.indexOf(id), 1)
}

/** An admin creating users through POST /api/v1/admin/users until `stop()` is true. */
export async function userCreator(api: Api, ledger: Ledger, adminToken: string, tag: string, stop: () => boolean, pauseMs = 20): Promise<void> {
  for (let n = 1; !stop(); n++) {
    const email = `${tag}-user-${n}@failover.test`
    const startedAt = Date.now()
    const reply = await api.call('POST', '/api/v1/admin/users', { token: adminToken, body: { email, password: USER_PASSWORD, name: `${tag} ${n}` } })
    if (ledger.record('user.create', startedAt, reply)) ledger.users.set(reply.body.user.id, email)
    else ledger.unansweredEmails.add(email)
    await Bun.sleep(pauseMs)
  }
}

/**
 * A client that signs in and then rotates its refresh token back to back (POST /auth/refresh): each
 * rotation revokes a session and creates one, so the sessions table and its reuse detection ride
 * through the failover too. An unanswered rotation leaves the chain's end unknown: the client stops.
 */
export async function sessionRotator(api: Api, ledger: Ledger, email: string, password: string, stop: () => boolean, pauseMs = 10): Promise<void> {
  const login = await api.expect(200, 'POST', '/api/v1/auth/login', { body: { email, password } })
  const chain = { tokens: [login.refresh_token as string], uncertain: false }
  ledger.refreshChains.push(chain)
  while (!stop()) {
    const startedAt = Date.now()
    const reply = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: chain.tokens.at(-1) } })
    if (!ledger.record('session.rotate', startedAt, reply)) {
      chain.uncertain = true
      return
    }
    chain.tokens.push(reply.body.refresh_token)
    await Bun.sleep(pauseMs)
  }
}

/** Users (via the admin API) that then sign in: the note writers. */
export async function makeWriters(api: Api, ledger: Ledger, adminToken: string, tag: string, count: number): Promise<Writer[]> {
  const writers: Writer[] = []
  for (let i = 0; i < count; i++) {
    const email = `${tag}-writer-${i}@failover.test`
    const startedAt = Date.now()
    const reply = await api.call('POST', '/api/v1/admin/users', { token: adminToken, body: { email, password: USER_PASSWORD } })
    if (!ledger.record('user.create', startedAt, reply)) throw new Error(`creating ${email}: ${reply.status} ${JSON.stringify(reply.body)}`)
    ledger.users.set(reply.body.user.id, email)
    writers.push(await api.login(email, USER_PASSWORD))
  }
  return writers
}

interface PgNote {
  id: string
  owner_id: string
  title: string
  body: string
  version: number
  deleted: boolean
}

/**
 * PostgreSQL holds every acknowledged write exactly once with its last acknowledged content, and no
 * row that no write could have made. `ownerIds`: whose notes to look at; `emailLike`: which users.
 */
export async function verifyLedger(sql: postgres.Sql, ledger: Ledger, opts: { ownerIds: string[]; emailLike: string }): Promise<void> {
  const notes = await sql<PgNote[]>`
    select id::text, owner_id::text, title, body, version, deleted_at is not null as deleted
    from notes where owner_id = any(${opts.ownerIds}::uuid[])`
  const byId = new Map<string, PgNote[]>()
  for (const n of notes) byId.set(n.id, [...(byId.get(n.id) ?? []), n])

  const missing = [...ledger.notes.keys()].filter((id) => !byId.has(id))
  expect(missing).toEqual([])
  const duplicated = [...byId].filter(([, rows]) => rows.length !== 1).map(([id]) => id)
  expect(duplicated).toEqual([])

  const wrong: unknown[] = []
  for (const [id, want] of ledger.notes) {
    const got = byId.get(id)![0]!
    const same = (s: NoteState) => got.title === s.title && got.body === s.body && got.deleted === s.deleted
    const exact = same(want) && got.owner_id === want.ownerId && (want.deleted || got.version === want.version)
    if (!exact && !want.maybe.some(same)) wrong.push({ id, want: { ...want }, got })
  }
  expect(wrong).toEqual([])

  // Rows no acknowledged write made: only an unanswered create may have made them.
  const phantoms = notes.filter((n) => !ledger.notes.has(n.id) && !ledger.unansweredNoteTitles.has(n.title))
  expect(phantoms).toEqual([])

  const users = await sql<{ id: string; email: string }[]>`
    select id::text, email from users where email like ${opts.emailLike} and deleted_at is null`
  const usersByEmail = new Map<string, string[]>()
  for (const u of users) usersByEmail.set(u.email, [...(usersByEmail.get(u.email) ?? []), u.id])
  const wrongUsers = [...ledger.users].filter(([id, email]) => usersByEmail.get(email)?.length !== 1 || usersByEmail.get(email)![0] !== id)
  expect(wrongUsers).toEqual([])
  const extraUsers = users.filter((u) => !ledger.users.has(u.id) && !ledger.unansweredEmails.has(u.email))
  expect(extraUsers).toEqual([])
}

/**
 * The server's first log record with this `event`, failing at once (with its last lines) if the
 * process dies first rather than waiting out the timeout.
 */
export async function waitForEvent(proc: ServerProcess, event: string, timeoutMs: number): Promise<LogLine> {
  const died = proc.exited.then(() => {
    throw new Error(`the server died (exit ${proc.exitCode}, signal ${proc.signalCode}) before logging '${event}':\n${lastLines(proc)}`)
  })
  died.catch(() => {})
  return Promise.race([proc.waitForLine((l) => l.json?.event === event, timeoutMs), died])
}

const lastLines = (proc: ServerProcess) => proc.output().split('\n').slice(-15).join('\n')

/** fails at once, with the server's last lines, when the server process has died */
export function expectAlive(proc: ServerProcess): void {
  if (proc.exitCode === null && proc.signalCode === null) return
  throw new Error(`the server died (exit ${proc.exitCode}, signal ${proc.signalCode}):\n${lastLines(proc)}`)
}

const sha256 = (token: string) => new Bun.CryptoHasher('sha256').update(token).digest('hex')

/**
 * Every refresh token a client was handed is one session in PostgreSQL; each but the last was
 * revoked and replaced by the next; the last is live (unless its rotation went unanswered).
 */
export async function verifySessions(sql: postgres.Sql, ledger: Ledger): Promise<void> {
  const hashes = ledger.refreshChains.flatMap((c) => c.tokens.map(sha256))
  const rows = await sql<{ id: string; token_hash: string; revoked: boolean; replaced_by: string | null }[]>`
    select id::text, token_hash, revoked_at is not null as revoked, replaced_by::text
    from sessions where token_hash = any(${hashes})`
  const byHash = new Map<string, (typeof rows)[number][]>()
  for (const r of rows) byHash.set(r.token_hash, [...(byHash.get(r.token_hash) ?? []), r])
  const wrong: unknown[] = []
  for (const chain of ledger.refreshChains) {
    const sessions = chain.tokens.map((t) => byHash.get(sha256(t)) ?? [])
    sessions.forEach((found, i) => {
      const last = i === chain.tokens.length - 1
      if (found.length !== 1) return wrong.push({ link: i, of: chain.tokens.length, found: found.length })
      const s = found[0]!
      if (!last && (!s.revoked || s.replaced_by !== sessions[i + 1]![0]?.id)) wrong.push({ link: i, of: chain.tokens.length, session: s })
      if (last && !chain.uncertain && s.revoked) wrong.push({ link: i, of: chain.tokens.length, last: s })
    })
  }
  expect(wrong).toEqual([])
}

/** waits until `pred` holds, polling every `everyMs`; throws with `what` after `timeoutMs` */
export async function waitFor<T>(what: string, probe: () => Promise<T> | T, pred: (v: T) => boolean, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: T | undefined
  for (;;) {
    try {
      last = await probe()
      if (pred(last)) return last
    } catch {
      // not yet answerable: keep polling
    }
    if (Date.now() > end) throw new Error(`waiting for ${what}: gave up after ${timeoutMs} ms (last: ${JSON.stringify(last)})`)
    await Bun.sleep(everyMs)
  }
}

/** the server's own pino record of an event (`event: 'failover'`, 'recovered', ...) after line index `from` */
export function eventLine(proc: ServerProcess, event: string, from = 0): LogLine | undefined {
  return proc.lines.slice(from).find((l) => l.json?.event === event)
}

/** epoch ms of a pino record (its ISO `time`) */
export const lineTime = (l: LogLine): number => Date.parse(String(l.json!.time))

/** rows in PostgreSQL's sync_conflicts */
export async function syncConflictCount(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from sync_conflicts`
  return row!.n
}
