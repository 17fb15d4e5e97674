// Numbered SQL migrations (`0001_init.sql`, ...) read from a dialect's folder, with checksums.
//
// A file may end with a down part: a line `-- down` alone (trailing blanks allowed), after which
// come the statements that undo the file. Migrate runs only what is above that line (the up part),
// `bun run db rollback` runs what is below it. The checksum covers the whole file, so a down part
// cannot be added to, or edited in, an applied file. A file without the line cannot be rolled back.
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

/** what a migration's name (the part after `NNNN_`) must match */
export const MIGRATION_NAME = /^[a-z0-9_]+$/

/** the line that starts a file's down part */
const DOWN_LINE = /^-- down[ \t]*\r?$/gm

export const migrationLabel = (m: { version: number; name: string }): string => `${String(m.version).padStart(4, '0')}_${m.name}`

/** The highest number among a folder's migration files; 0 for none (or no folder). */
export function highestMigrationNumber(dir: string): number {
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return 0
    throw e
  }
  return Math.max(0, ...entries.map((f) => FILE.exec(f)).filter((m) => m !== null).map((m) => Number(m[1])))
}

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

/** A file's up part (what migrate runs) and down part (null: the file has no `-- down` line). */
export function splitMigration(file: MigrationFile): { up: string; down: string | null } {
  const lines = [...file.sql.matchAll(DOWN_LINE)]
  if (lines.length > 1) throw new Error(`migration ${migrationLabel(file)}.sql has ${lines.length} "-- down" lines; a file has at most one`)
  const line = lines[0]
  if (!line) return { up: file.sql, down: null }
  return { up: file.sql.slice(0, line.index), down: file.sql.slice(line.index + line[0].length) }
}

/** Does the SQL hold anything but comments, blanks and semicolons? (bun:sqlite refuses to run nothing.) */
export function holdsStatements(sql: string): boolean {
  return /[^\s;]/.test(sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' '))
}

/** The SQL migrate runs for a file: its up part, which must hold a statement. */
export function upSql(file: MigrationFile): string {
  const { up, down } = splitMigration(file)
  if (!holdsStatements(up))
    throw new Error(`migration ${migrationLabel(file)}.sql has no SQL to apply${down === null ? '' : ' above its "-- down" line'}; write the change there first`)
  return up
}

export interface RollbackStep {
  version: number
  name: string
  /** `0003_add_tags` */
  label: string
  /** the file's down part, as written */
  sql: string
}

/**
 * What rolling back the last applied migration runs, or null when none is applied. Throws, with a
 * one-line reason, when the applied files do not match the folder (as planMigrations) or when the
 * last one has no down part or an empty one: such a migration cannot be rolled back.
 */
export function planRollback(files: MigrationFile[], applied: AppliedMigration[]): RollbackStep | null {
  planMigrations(files, applied)
  const last = applied.reduce<AppliedMigration | null>((a, b) => (a === null || b.version > a.version ? b : a), null)
  if (!last) return null
  const file = files.find((f) => f.version === last.version)!
  const label = migrationLabel(file)
  const { down } = splitMigration(file)
  if (down === null) throw new Error(`migration ${label} has no "-- down" section; it cannot be rolled back`)
  if (!holdsStatements(down))
    throw new Error(`migration ${label} has an empty "-- down" section; write the SQL that undoes it before rolling it back`)
  return { version: file.version, name: file.name, label, sql: down }
}
