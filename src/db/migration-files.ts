// Numbered SQL migrations (`0001_init.sql`, ...) read from a dialect's folder, with checksums.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface MigrationFile {
  /** the number in the file name: 1 for 0001_init.sql */
  version: number
  name: string
  sql: string
  /** sha256 hex of the file's text */
  checksum: string
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/

export function readMigrations(dir: string): MigrationFile[] {
  return readdirSync(dir)
    .filter((f) => FILE.test(f))
    .sort()
    .map((f) => {
      const sql = readFileSync(join(dir, f), 'utf8')
      const [, num, name] = FILE.exec(f)!
      return { version: Number(num), name: name!, sql, checksum: new Bun.CryptoHasher('sha256').update(sql).digest('hex') }
    })
}

export interface AppliedMigration {
  version: number
  name: string
  checksum: string
}

/**
 * Compares the files with what the database recorded. A changed or missing applied file is an
 * operator error that must stop the start: running on a schema we cannot describe loses data.
 */
export function planMigrations(files: MigrationFile[], applied: AppliedMigration[]): MigrationFile[] {
  const byVersion = new Map(files.map((f) => [f.version, f]))
  for (const a of applied) {
    const f = byVersion.get(a.version)
    if (!f) throw new Error(`migration ${String(a.version).padStart(4, '0')}_${a.name} is applied in the database but its file is missing`)
    if (f.checksum !== a.checksum)
      throw new Error(`migration ${String(a.version).padStart(4, '0')}_${a.name}.sql was changed after it was applied (checksum differs); add a new migration instead`)
  }
  const done = new Set(applied.map((a) => a.version))
  return files.filter((f) => !done.has(f.version))
}
