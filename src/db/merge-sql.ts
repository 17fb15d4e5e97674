// The merge rule of a table (tables.ts, MergeRule) as the tail of its INSERT: one text that PostgreSQL
// and SQLite (≥ 3.24) both run, so the mirror, the outbox replay and a re-copy decide alike. A row the
// rule refuses changes nothing and the statement reports no row written: that is 'stale'. A clash on
// another unique key (email, token hash) is not the conflict target, so it still fails the statement:
// that is 'conflict', and nothing changed.
import type { TableDefinition } from './tables.ts'

/**
 * When the incoming row (`excluded`) replaces the stored one (named by its table): SQL both dialects
 * read alike, or null for insert-only tables, whose rows are never replaced.
 */
export function incomingWinsSql(table: TableDefinition): string | null {
  const { name, merge } = table
  if (merge.kind === 'insert-only') return null
  const newer = `excluded.version > ${name}.version OR (excluded.version = ${name}.version AND excluded.updated_at > ${name}.updated_at)`
  const d = merge.tombstone
  if (d === null) return newer
  // a deleted row is never brought back; a delete beats a live row; otherwise the newer row wins
  return `(${name}.${d} IS NULL OR excluded.${d} IS NOT NULL) AND ((excluded.${d} IS NOT NULL AND ${name}.${d} IS NULL) OR ${newer})`
}

/** `ON CONFLICT (key) DO UPDATE SET … WHERE <the incoming row wins>`, or `DO NOTHING` for insert-only tables. */
export function mergeClause(table: TableDefinition): string {
  const { key } = table
  const wins = incomingWinsSql(table)
  if (wins === null) return `ON CONFLICT (${key}) DO NOTHING`
  const set = Object.keys(table.columns).filter((c) => c !== key).map((c) => `${c} = excluded.${c}`)
  return `ON CONFLICT (${key}) DO UPDATE SET ${set.join(', ')} WHERE ${wins}`
}
