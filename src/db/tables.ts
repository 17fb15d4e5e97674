// The replicated tables, each declared once: its columns with their kinds, its key, the tables its
// foreign keys point at, the columns the application derives and those it keeps secret, how a
// replicated row merges with the stored one, and its indexes. Both dialects' row codecs (codec.ts),
// the merge upsert (merge-sql.ts) and a new table's migrations (create-table-sql.ts) are made from it.
// Both dialects' migrations must agree with it (test/schema-drift.test.ts reads the columns and
// indexes both databases actually have), and the order of TABLES is the order rows are copied and
// replayed in: a table comes after every table it references, which the same test checks against the
// databases' own foreign keys.

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
  /** the record's field for this column; by default the column's name in camelCase (owner_id → ownerId) */
  field?: string
}

/**
 * A column the application computes from other columns whenever it writes a row (both dialects then
 * hold the very same value): records do not carry it, and reading a row skips it.
 */
export interface DerivedColumn {
  /** the columns it is made of */
  from: readonly string[]
  /** its value, from theirs in `from`'s order */
  make(values: readonly unknown[]): string
}

/**
 * How a replicated row (the mirror's, the outbox replay's) meets the row stored under its key; one
 * rule for both dialects, in SQL (merge-sql.ts).
 * - `last-writer-wins`: the incoming row wins when none is stored; or when it deletes a live row (sets
 *   `tombstone`: deletes win); never when the stored row is deleted and the incoming one is not;
 *   otherwise by higher version, then later updated_at. `tombstone` null: rows are never deleted.
 * - `insert-only`: rows never change; the first copy of a key stands.
 */
export type MergeRule = { kind: 'last-writer-wins'; tombstone: string | null } | { kind: 'insert-only' }

export const lastWriterWins = (tombstone: string | null): MergeRule => ({ kind: 'last-writer-wins', tombstone })
export const insertOnly: MergeRule = { kind: 'insert-only' }

/** An index both dialects create alike (`bun run db new` writes it). */
export interface Index {
  name: string
  columns: readonly string[]
  unique?: true
  /** a partial index's condition, in SQL both dialects read alike */
  where?: string
}

export interface TableDefinition<Name extends string = string, Columns extends Readonly<Record<string, Column>> = Readonly<Record<string, Column>>> {
  name: Name
  /** the primary key's column */
  key: string
  columns: Columns
  /** the columns the application computes, by name (see DerivedColumn) */
  derived?: Readonly<Record<string, DerivedColumn>>
  merge: MergeRule
  /** columns whose values conflict listings mask: hashes, secrets */
  secret?: readonly string[]
  indexes?: readonly Index[]
  /**
   * The column holding the user a row belongs to, for an owner-scoped resource (src/db/owned.ts):
   * its rows are read and written only by their owner, through one generic repository per dialect.
   */
  owner?: string
  /** an owned resource's text columns that `q` searches: its search_text is derived from them */
  searchable?: readonly string[]
  /** what one row of an owned resource is called in messages ("note not found") */
  rowName?: string
}

// `const D`: the definition's literal types (name, columns and their kinds, owner) stay in its type,
// of which the rows' and the owned records' types are made (codec.ts, owned.ts).
export function defineTable<const D extends TableDefinition>(definition: D): D {
  const { name, key, columns, merge, secret = [], indexes = [], searchable } = definition
  const wrong = (what: string) => new Error(`table ${name}: ${what}`)
  if (!(key in columns)) throw wrong(`its key ${key} is not one of its columns`)
  // the searchable columns make search_text, as searchText() does for any derived search column
  if (searchable?.length) Object.assign(definition, { derived: { ...definition.derived, [SEARCH_COLUMN]: searchText(...searchable) } })
  for (const [column, d] of Object.entries(definition.derived ?? {})) {
    if (!(column in columns)) throw wrong(`its derived column ${column} is not one of its columns`)
    for (const c of d.from) if (!(c in columns)) throw wrong(`${column} is made of ${c}, which is not one of its columns`)
  }
  if (merge.kind === 'last-writer-wins') {
    const needs: Record<string, ColumnKind> = { version: 'integer', updated_at: 'timestamp' }
    for (const [c, kind] of Object.entries(needs)) if (columns[c]?.kind !== kind) throw wrong(`last-writer-wins needs the column ${c}`)
    const tombstone = merge.tombstone === null ? null : columns[merge.tombstone]
    if (tombstone !== null && !(tombstone?.kind === 'timestamp' && tombstone.nullable))
      throw wrong(`its tombstone ${merge.tombstone} is not one of its nullable timestamp columns`)
  }
  for (const c of secret) if (!(c in columns)) throw wrong(`its secret column ${c} is not one of its columns`)
  for (const index of indexes)
    for (const c of index.columns) if (!(c in columns)) throw wrong(`index ${index.name} is on ${c}, which is not one of its columns`)
  if (definition.owner !== undefined) checkOwned(definition)
  return definition
}

/** The record's field of a column (see Column.field). */
export const fieldOf = (name: string, column: Column): string => column.field ?? name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())

/** Text a search reads: the parts on lines of their own, lower-cased in JS so both dialects fold unicode alike. */
export const searchTextOf = (parts: readonly unknown[]): string => parts.join('\n').toLowerCase()

/** A column holding searchTextOf(the `from` columns). */
export const searchText = (...from: string[]): DerivedColumn => ({ from, make: searchTextOf })

/** Columns every owned resource has beside its owner and its own fields (src/db/owned.ts relies on them). */
export const OWNED_SYSTEM_COLUMNS = ['id', 'created_at', 'updated_at', 'version', 'deleted_at'] as const
export const SEARCH_COLUMN = 'search_text'

function checkOwned(t: TableDefinition): void {
  const missing = [...OWNED_SYSTEM_COLUMNS, t.owner!, ...(t.searchable?.length ? [SEARCH_COLUMN] : [])].filter((c) => !(c in t.columns))
  if (missing.length > 0) throw new Error(`table ${t.name}: an owned resource needs the columns ${missing.join(', ')}`)
  if (!t.rowName) throw new Error(`table ${t.name}: an owned resource needs rowName, what one row is called in messages`)
  if (t.key !== 'id') throw new Error(`table ${t.name}: an owned resource's key is id`)
  // its deletes are soft: deleted_at is what replication must let win
  if (t.merge.kind !== 'last-writer-wins' || t.merge.tombstone !== 'deleted_at') throw new Error(`table ${t.name}: an owned resource merges as lastWriterWins('deleted_at')`)
  if (fieldOf(t.owner!, t.columns[t.owner!]!) !== 'ownerId') throw new Error(`table ${t.name}: its owner column's record field must be ownerId (field: 'ownerId')`)
  // The generic repositories store a field as given and measure it in bytes; its column's name is
  // its name in records and in JSON alike.
  const wrong = ownedFieldColumns(t).filter((c) => t.columns[c]!.kind !== 'text' || t.columns[c]!.nullable || fieldOf(c, t.columns[c]!) !== c)
  if (wrong.length > 0) throw new Error(`table ${t.name}: an owned resource's fields are non-null text named without _ or field; ${wrong.join(', ')} are not`)
  const unknown = (t.searchable ?? []).filter((c) => !ownedFieldColumns(t).includes(c))
  if (unknown.length > 0) throw new Error(`table ${t.name}: searchable ${unknown.join(', ')} are not fields of it`)
}

/** An owned resource's own fields: its columns but the owner, the system columns and search_text, in order. */
export function ownedFieldColumns(t: TableDefinition): string[] {
  const system = new Set<string>([...OWNED_SYSTEM_COLUMNS, t.owner ?? '', SEARCH_COLUMN])
  return Object.keys(t.columns).filter((c) => !system.has(c))
}

// `as const`: each column's kind stays a literal type, of which the rows' types are made (codec.ts)
const id = { kind: 'id' } as const
const text = { kind: 'text' } as const
const timestamp = { kind: 'timestamp' } as const
const version = { kind: 'integer' } as const
const nullable = <C extends Column>(c: C): C & { nullable: true } => ({ ...c, nullable: true })

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
  merge: lastWriterWins('deleted_at'),
  secret: ['password_hash'],
  // a soft-deleted user gives the email back
  indexes: [{ name: 'users_email_live', columns: ['email'], unique: true, where: 'deleted_at IS NULL' }],
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
  // a revoked session is never live again: revocation plays the part of deletion
  merge: lastWriterWins('revoked_at'),
  secret: ['token_hash'],
  indexes: [
    { name: 'sessions_token_hash', columns: ['token_hash'], unique: true },
    { name: 'sessions_user_id', columns: ['user_id'] },
  ],
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
  merge: lastWriterWins('deleted_at'),
  indexes: [{ name: 'notes_owner_id', columns: ['owner_id', 'id'] }],
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
  merge: insertOnly,
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
  merge: lastWriterWins(null),
  secret: ['value'],
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
