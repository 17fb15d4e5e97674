// The replicated tables, each declared once: its columns with their kinds, its key, and the tables its
// foreign keys point at. Both dialects' migrations must agree with it (test/schema-drift.test.ts
// reads the columns both databases actually have), and the order of TABLES is the order rows are
// copied and replayed in: a table comes after every table it references, which the same test checks
// against the databases' own foreign keys. (Issue 13: the first part of "one definition per table".)

/**
 * What a column holds, and so its type in each dialect: `id` a UUID made by the application (uuid /
 * TEXT), `timestamp` an application-made ISO time (timestamptz(3) / TEXT), `json` an object (jsonb /
 * TEXT), `boolean` (boolean / INTEGER 0 or 1).
 */
export type ColumnKind = 'id' | 'text' | 'boolean' | 'integer' | 'timestamp' | 'json'

export interface Column {
  kind: ColumnKind
  /** may hold NULL */
  nullable?: true
  /** the table whose key this column holds (a foreign key in both databases) */
  references?: string
}

export interface TableDefinition<Name extends string = string> {
  name: Name
  /** the primary key's column */
  key: string
  columns: Readonly<Record<string, Column>>
  /**
   * The column holding the user a row belongs to, for an owner-scoped resource (src/db/owned.ts):
   * its rows are read and written only by their owner, through one generic repository per dialect.
   */
  owner?: string
  /** an owned resource's text columns that `q` searches, kept lower-cased in its `search_text` column */
  searchable?: readonly string[]
  /** what one row of an owned resource is called in messages ("note not found") */
  rowName?: string
}

export function defineTable<const D extends TableDefinition>(definition: D): D {
  if (!(definition.key in definition.columns)) throw new Error(`table ${definition.name}: its key ${definition.key} is not one of its columns`)
  if (definition.owner !== undefined) checkOwned(definition)
  return definition
}

/** Columns every owned resource has beside its owner and its own fields (src/db/owned.ts relies on them). */
export const OWNED_SYSTEM_COLUMNS = ['id', 'created_at', 'updated_at', 'version', 'deleted_at'] as const
export const SEARCH_COLUMN = 'search_text'

function checkOwned(t: TableDefinition): void {
  const missing = [...OWNED_SYSTEM_COLUMNS, t.owner!, ...(t.searchable?.length ? [SEARCH_COLUMN] : [])].filter((c) => !(c in t.columns))
  if (missing.length > 0) throw new Error(`table ${t.name}: an owned resource needs the columns ${missing.join(', ')}`)
  if (!t.rowName) throw new Error(`table ${t.name}: an owned resource needs rowName, what one row is called in messages`)
  if (t.key !== 'id') throw new Error(`table ${t.name}: an owned resource's key is id`)
  // The generic repositories store a field as given and measure it in bytes: text only.
  const notText = ownedFieldColumns(t).filter((c) => t.columns[c]!.kind !== 'text' || t.columns[c]!.nullable)
  if (notText.length > 0) throw new Error(`table ${t.name}: an owned resource's fields are non-null text; ${notText.join(', ')} are not`)
  const unknown = (t.searchable ?? []).filter((c) => !ownedFieldColumns(t).includes(c))
  if (unknown.length > 0) throw new Error(`table ${t.name}: searchable ${unknown.join(', ')} are not fields of it`)
}

/** An owned resource's own fields: its columns but the owner, the system columns and search_text, in order. */
export function ownedFieldColumns(t: TableDefinition): string[] {
  const system = new Set<string>([...OWNED_SYSTEM_COLUMNS, t.owner ?? '', SEARCH_COLUMN])
  return Object.keys(t.columns).filter((c) => !system.has(c))
}

const id: Column = { kind: 'id' }
const text: Column = { kind: 'text' }
const timestamp: Column = { kind: 'timestamp' }
const version: Column = { kind: 'integer' }
const nullable = (c: Column): Column => ({ ...c, nullable: true })

export const users = defineTable({
  name: 'users',
  key: 'id',
  columns: {
    id,
    email: text,
    name: nullable(text),
    role: text,
    password_hash: text,
    disabled: { kind: 'boolean' },
    created_at: timestamp,
    updated_at: timestamp,
    version,
    deleted_at: nullable(timestamp),
  },
})

export const sessions = defineTable({
  name: 'sessions',
  key: 'id',
  columns: {
    id,
    user_id: { kind: 'id', references: 'users' },
    token_hash: text,
    expires_at: timestamp,
    revoked_at: nullable(timestamp),
    // no foreign key: replication may deliver the replacing session after this one
    replaced_by: nullable(id),
    created_at: timestamp,
    updated_at: timestamp,
    version,
  },
})

export const notes = defineTable({
  name: 'notes',
  key: 'id',
  owner: 'owner_id',
  searchable: ['title', 'body'],
  rowName: 'note',
  columns: {
    id,
    owner_id: { kind: 'id', references: 'users' },
    title: text,
    body: text,
    search_text: text,
    created_at: timestamp,
    updated_at: timestamp,
    version,
    deleted_at: nullable(timestamp),
  },
})

export const audit = defineTable({
  name: 'audit',
  key: 'id',
  columns: {
    id,
    at: timestamp,
    action: text,
    // text, no foreign key: an audit event is never refused for what it points at
    actor_id: nullable(text),
    target_id: nullable(text),
    ip: nullable(text),
    details: nullable({ kind: 'json' }),
  },
})

export const settings = defineTable({
  name: 'settings',
  key: 'key',
  columns: {
    key: text,
    value: text,
    updated_at: timestamp,
    version,
  },
})

/** Parents before children: the order of copies, replays and truncations (children first, reversed). */
export const TABLES = [users, sessions, notes, audit, settings] as const

/** The tables a definition references that do not come before it in TABLES (none, when the order is right). */
export function misorderedReferences(tables: readonly TableDefinition[]): string[] {
  const seen = new Set<string>()
  const wrong: string[] = []
  for (const t of tables) {
    for (const [column, c] of Object.entries(t.columns))
      if (c.references && !seen.has(c.references)) wrong.push(`${t.name}.${column} references ${c.references}, which does not come before it`)
    seen.add(t.name)
  }
  return wrong
}
