// SQLite backups with VACUUM INTO: a consistent copy taken while the server keeps writing.
import { chmodSync, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { SqliteStore } from './sqlite/sqlite-store.ts'

// app-<UTC time to the millisecond>-<random>.db; the random part keeps two backups of one millisecond
// apart. Older names without it are still counted for BACKUP_KEEP.
const NAME = /^app-\d{8}T\d{9}Z(-[0-9a-f]{8})?\.db$/
const suffix = () => Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString('hex')

export async function backupFallback(fallback: SqliteStore, dir: string, keep: number) {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const createdAt = new Date().toISOString()
  const file = `app-${createdAt.replace(/[-:.]/g, '')}-${suffix()}.db`
  const path = join(dir, file)
  await fallback.exclusive(() => fallback.backupTo(path))
  // Backups hold password hashes and sessions: owner-only.
  chmodSync(path, 0o600)
  const sizeBytes = statSync(path).size
  const old = readdirSync(dir).filter((f) => NAME.test(f)).sort().reverse().slice(keep)
  for (const f of old) unlinkSync(join(dir, f))
  return { file, size_bytes: sizeBytes, created_at: createdAt }
}
