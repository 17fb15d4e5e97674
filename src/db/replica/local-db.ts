// Is the local SQLite file empty, so that a restore may put the replica's data there? Missing, zero
// bytes, or no row in any table counts as empty; anything else is data a restore must never replace
// (only `bun run db replica restore --force` does).
import { Database } from 'bun:sqlite'
import { existsSync, statSync } from 'node:fs'
import { replicatedTables } from './change-log.ts'

export function isEmptyDatabase(path: string): boolean {
  if (!existsSync(path)) return !existsSync(`${path}-wal`)
  if (statSync(path).size === 0 && !existsSync(`${path}-wal`)) return true
  const db = new Database(path, { readwrite: true })
  try {
    return replicatedTables(db).every((t) => db.query(`SELECT 1 FROM main."${t.name.replaceAll('"', '""')}" LIMIT 1`).get() === null)
  } finally {
    db.close()
  }
}
