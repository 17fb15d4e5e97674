// The outbox (writes PostgreSQL has not received, oldest first) and the log of sync conflicts, as the
// replay code sees them: synchronous, and safe to call while a transaction() is open on the store.
// Then readers see only committed entries, and acks and conflict records wait until it ends, so that
// its rollback cannot undo them and a row that may still roll back is never replayed.
import type { SyncConflict } from '../runtime.ts'
import type { OutboxEntry } from '../store.ts'
import type { SqliteConnection } from './connection.ts'

interface OutboxRow {
  seq: number
  op_id: string
  tbl: string
  row_json: string
  at: string
}

interface ConflictRow {
  id: string
  at: string
  tbl: string
  row_id: string
  reason: string
  row_json: string
}

const VISIBLE = 'seq > $acked AND seq < $uncommitted'
const INSERT_CONFLICT = `INSERT INTO sync_conflicts (id, at, tbl, row_id, reason, row_json)
  VALUES ($id, $at, $tbl, $row_id, $reason, $row_json) ON CONFLICT (id) DO NOTHING`

export class SqliteOutbox {
  /** an ack made during a transaction: hidden from readers now, deleted when it ends */
  private pendingAck = 0
  private readonly pendingConflicts: SyncConflict[] = []

  constructor(private readonly conn: SqliteConnection) {}

  private visible() {
    return { acked: this.pendingAck, uncommitted: this.conn.uncommittedOutboxFrom ?? Number.MAX_SAFE_INTEGER }
  }

  // Readers settle the open group commit first: an entry whose COMMIT may still fail is never replayed.
  count(): number {
    this.conn.assertOpen()
    this.conn.settle()
    return this.conn.stmt<{ n: number }>(`SELECT count(*) AS n FROM outbox WHERE ${VISIBLE}`).get(this.visible())!.n
  }

  peek(limit: number): OutboxEntry[] {
    this.conn.assertOpen()
    this.conn.settle()
    return this.conn
      .stmt<OutboxRow>(`SELECT seq, op_id, tbl, row_json, at FROM outbox WHERE ${VISIBLE} ORDER BY seq LIMIT $n`)
      .all({ ...this.visible(), n: limit })
      .map((r) => ({ seq: r.seq, opId: r.op_id, change: { table: r.tbl, row: JSON.parse(r.row_json) }, at: r.at }))
  }

  /** deletes every entry with seq <= uptoSeq */
  ack(uptoSeq: number): void {
    // Only entries readers could see may go: never the open transaction's own.
    const upto = Math.min(uptoSeq, (this.conn.uncommittedOutboxFrom ?? Number.MAX_SAFE_INTEGER) - 1)
    if (this.conn.db.inTransaction) this.pendingAck = Math.max(this.pendingAck, upto)
    this.conn.whenIdle(() => {
      this.conn.stmt('DELETE FROM outbox WHERE seq <= $seq').run({ seq: upto })
      this.pendingAck = 0
    })
  }

  /** idempotent on id */
  recordConflict(c: SyncConflict): void {
    if (this.conn.db.inTransaction) this.pendingConflicts.push(c)
    this.conn.whenIdle(() => {
      this.conn.stmt(INSERT_CONFLICT).run({ id: c.id, at: c.at, tbl: c.table, row_id: c.rowId, reason: c.reason, row_json: JSON.stringify(c.row) })
      const waiting = this.pendingConflicts.indexOf(c)
      if (waiting >= 0) this.pendingConflicts.splice(waiting, 1)
    })
  }

  listConflicts(): SyncConflict[] {
    this.conn.assertOpen()
    const stored = this.conn
      .stmt<ConflictRow>('SELECT * FROM sync_conflicts ORDER BY at, id')
      .all()
      .map((r) => ({ id: r.id, at: r.at, table: r.tbl, rowId: r.row_id, reason: r.reason, row: JSON.parse(r.row_json) as Record<string, unknown> }))
    const ids = new Set(stored.map((c) => c.id))
    const waiting = this.pendingConflicts.filter((c) => !ids.has(c.id))
    return [...stored, ...waiting].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1))
  }
}
