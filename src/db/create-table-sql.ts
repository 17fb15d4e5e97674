// A table's CREATE TABLE in each dialect, made from its definition (tables.ts): what `bun run db new
// <table>` writes for a table no migration creates yet. From then on the migration files are the
// schema, and test/schema-drift.test.ts holds them to the definition.
import type { Column, ColumnKind, TableDefinition } from './tables.ts'

export type Dialect = 'postgres' | 'sqlite'

const TYPES: Record<Dialect, Record<ColumnKind, string>> = {
  postgres: { id: 'uuid', text: 'text', boolean: 'boolean', integer: 'integer', timestamp: 'timestamptz(3)', json: 'jsonb' },
  sqlite: { id: 'TEXT', text: 'TEXT', boolean: 'INTEGER', integer: 'INTEGER', timestamp: 'TEXT', json: 'TEXT' },
}

function columnSql(dialect: Dialect, table: TableDefinition, name: string, column: Column, registry: readonly TableDefinition[]): string {
  const parts = [name, TYPES[dialect][column.kind]]
  // keys sort bytewise, as in SQLite, so exportRows pages alike in both dialects
  if (name === table.key && dialect === 'postgres' && column.kind === 'text') parts.push('COLLATE "C"')
  if (!column.nullable) parts.push('NOT NULL')
  if (name === table.key) parts.push('PRIMARY KEY')
  if (dialect === 'sqlite' && column.kind === 'boolean') parts.push(`CHECK (${name} IN (0, 1))`)
  if (column.references) {
    const parent = registry.find((t) => t.name === column.references)
    if (!parent) throw new Error(`table ${table.name}: ${name} references ${column.references}, which no definition declares`)
    parts.push(`REFERENCES ${parent.name} (${parent.key})`)
  }
  return parts.join(' ')
}

/** The statements that create `table` and its indexes; `registry` holds the tables it references. */
export function createTableSql(dialect: Dialect, table: TableDefinition, registry: readonly TableDefinition[]): string {
  const columns = Object.entries(table.columns).map(([name, c]) => `  ${columnSql(dialect, table, name, c, registry)}`)
  const indexes = (table.indexes ?? []).map(
    (i) => `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${i.name} ON ${table.name} (${i.columns.join(', ')})${i.where ? ` WHERE ${i.where}` : ''};`,
  )
  const create = `CREATE TABLE ${table.name} (\n${columns.join(',\n')}\n)${dialect === 'sqlite' ? ' STRICT' : ''};`
  return [create, ...indexes].join('\n')
}

/** What undoes createTableSql (its indexes go with the table). */
export const dropTableSql = (table: TableDefinition): string => `DROP TABLE ${table.name};`

/** Does a migration's SQL create `table`? (Comments do not count.) */
export function createsTable(sql: string, table: string): boolean {
  const code = sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ')
  return new RegExp(`\\bcreate\\s+table\\s+(if\\s+not\\s+exists\\s+)?["\`]?${table}["\`]?\\s*\\(`, 'i').test(code)
}
