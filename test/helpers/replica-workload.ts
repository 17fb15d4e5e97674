// Jepsen-style checks for the replica: the same writers as the failover tests (notes, users), plus a
// client changing its password, against a server whose disk is then wiped; what comes back is read
// from the restored SQLite file directly.
import { Database } from 'bun:sqlite'
import bcrypt from 'bcryptjs'
import { decodeSegment } from '../../src/db/replica/segment-format.ts'
import { listGenerations } from '../../src/db/replica/restore.ts'
import type { ReplicaTarget } from '../../src/db/replica/target.ts'
import { Api, type Ledger, type Reply } from './failover-workload.ts'

/** An Api that remembers when each note (by id) and user (by email) last got a 2xx answer. */
export class TimedApi extends Api {
  readonly ackedAt = new Map<string, number>()

  override async call(method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<Reply> {
    const reply = await super.call(method, path, opts)
    if (reply.status >= 200 && reply.status < 300) {
      const now = Date.now()
      const noteId = /^\/api\/v1\/notes\/([^/]+)$/.exec(path)?.[1]
      if (noteId) this.ackedAt.set(noteId, now)
      else if (method === 'POST' && path === '/api/v1/notes') this.ackedAt.set(reply.body.id, now)
      else if (method === 'POST' && path === '/api/v1/admin/users') this.ackedAt.set(reply.body.user.email, now)
    }
    return reply
  }
}

/** one client changing its own password back to back; what it was last told, and what it may be */
export interface PasswordTrail {
  email: string
  /** acknowledged passwords, oldest first, with when each answer came */
  acked: Array<{ password: string; doneAt: number }>
  /** a change that got no answer: its password may or may not be the current one */
  uncertain: string | null
}

export async function passwordChanger(api: Api, email: string, password: string, stop: () => boolean): Promise<PasswordTrail> {
  const trail: PasswordTrail = { email, acked: [{ password, doneAt: 0 }], uncertain: null }
  const { token } = await api.login(email, password)
  for (let n = 1; !stop(); n++) {
    const next = `changed-${n}-${crypto.randomUUID().slice(0, 8)}`
    const reply = await api.call('POST', '/api/v1/auth/password', { token, body: { current_password: trail.acked.at(-1)!.password, new_password: next } })
    if (reply.status !== 204) {
      trail.uncertain = next
      return trail
    }
    trail.acked.push({ password: next, doneAt: Date.now() })
    await Bun.sleep(5)
  }
  return trail
}

/** an acknowledged write the restored database does not reflect, and when its answer came */
export interface Missing {
  what: string
  doneAt: number
}

/** compares the restored file with every acknowledged write; returns those it lacks */
export function missingWrites(path: string, ledger: Ledger, passwords: PasswordTrail[], ackTime: Map<string, number>): Missing[] {
  const db = new Database(path, { readonly: true })
  try {
    const missing: Missing[] = []
    const notes = db.query<{ id: string; title: string; body: string; version: number; deleted: number }, []>(
      'SELECT id, title, body, version, deleted_at IS NOT NULL AS deleted FROM notes',
    ).all()
    const byId = new Map(notes.map((n) => [n.id, n]))
    const lastAck = Number.MAX_SAFE_INTEGER
    for (const [id, want] of ledger.notes) {
      const got = byId.get(id)
      const same = (s: { title: string; body: string; deleted: boolean }) => got && got.title === s.title && got.body === s.body && Boolean(got.deleted) === s.deleted
      if (!same(want) && !want.maybe.some(same)) missing.push({ what: `note ${id}`, doneAt: ackTime.get(id) ?? lastAck })
    }
    const emails = new Set(db.query<{ email: string }, []>('SELECT email FROM users WHERE deleted_at IS NULL').all().map((u) => u.email))
    for (const email of ledger.users.values()) if (!emails.has(email)) missing.push({ what: `user ${email}`, doneAt: ackTime.get(email) ?? lastAck })
    for (const trail of passwords) {
      const row = db.query<{ password_hash: string }, [string]>('SELECT password_hash FROM users WHERE email = ?').get(trail.email)
      const current = trail.acked.findLastIndex((a) => row !== null && bcrypt.compareSync(a.password, row.password_hash))
      const uncertainMatches = trail.uncertain !== null && row !== null && bcrypt.compareSync(trail.uncertain, row.password_hash)
      // every change after the one the file holds is missing
      if (!uncertainMatches) for (const a of trail.acked.slice(current + 1)) missing.push({ what: `password of ${trail.email}`, doneAt: a.doneAt })
    }
    return missing
  } finally {
    db.close()
  }
}

/**
 * When the newest complete segment of the newest generation was made: every write answered before
 * then is in the replica (a segment takes every change committed before its createdAt).
 */
export async function lastSegmentMadeAt(target: ReplicaTarget): Promise<number> {
  const [gen] = await listGenerations(target)
  if (!gen) return 0
  const keys = (await target.list(`generations/${gen}/segments/`)).reverse()
  for (const key of keys) {
    try {
      return Date.parse(decodeSegment((await target.get(key))!).header.createdAt)
    } catch {
      // the torn last one: the one before it counts
    }
  }
  return 0
}
