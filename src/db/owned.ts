// Owner-scoped resources: tables whose definition names an owner column (src/db/tables.ts). Each is
// served by one generic repository per dialect (postgres/owned-repo.ts, sqlite/owned-repo.ts) and
// one route factory (routes/owned-routes.ts); what differs between resources is their definition.
//
// A row belongs to one user: every read and write is scoped to its owner, so another owner's row is
// indistinguishable from a missing one. Rows carry id, created_at, updated_at, version and
// deleted_at (soft delete); their fields are text; `q` searches the searchable fields through
// search_text, derived from them (tables.ts: searchTextOf).
import { ownedFieldColumns, SEARCH_COLUMN, TABLES, type OWNED_SYSTEM_COLUMNS, type TableDefinition } from './tables.ts'
import { StoreError, type Page, type PageQuery, type RepoKinds } from './store.ts'

export interface OwnedTable<Name extends string = string> extends TableDefinition<Name> {
  owner: string
  rowName: string
}

/** The field columns of an owned table's definition, as a union of their names. */
export type FieldsOf<T extends OwnedTable> = Exclude<keyof T['columns'] & string, (typeof OWNED_SYSTEM_COLUMNS)[number] | T['owner'] | typeof SEARCH_COLUMN>

/** One row of an owned resource with fields F (a union of names), as the application sees it. */
export type Owned<F extends string> = {
  id: string
  ownerId: string
  createdAt: string
  updatedAt: string
  version: number
  deletedAt: string | null
} & { [K in F]: string }

export type NewOwned<F extends string> = { id: string; ownerId: string } & { [K in F]: string }

export type OwnedPatch<F extends string> = { [K in F]?: string }

export interface OwnedQuery extends PageQuery {
  /** case-insensitive substring of a searchable field; `%`, `_` and quotes are literal */
  q?: string | null
}

/** An owner's live rows: how many, and the bytes of their fields (UTF-8) together. */
export interface OwnedUsage {
  count: number
  bytes: number
}

/** Per-owner limits a write must stay within (set by the resource's routes from the configuration). */
export interface OwnedLimits {
  maxCount: number
  /** bytes of the fields (UTF-8) of the owner's live rows together */
  maxBytes: number
  /** a create that checked the limits reports the owner's usage before it, as it found it */
  onUsage?: (usage: OwnedUsage) => void
}

export interface OwnedRepo<F extends string> {
  /** with `limits`: throws StoreError('too_many' | 'too_large') when the row would exceed them */
  create(input: NewOwned<F>, limits?: OwnedLimits): Promise<Owned<F>>
  /** the owner's live row, else null (another owner's row is null too) */
  get(ownerId: string, id: string): Promise<Owned<F> | null>
  usage(ownerId: string): Promise<OwnedUsage>
  /**
   * newest first (by id); a page ends early at OWNED_PAGE_MAX_BYTES of fields, and a search after
   * reading OWNED_SEARCH_SCAN_BYTES: next_cursor then goes on from where it stopped
   */
  list(ownerId: string, query: OwnedQuery): Promise<Page<Owned<F>>>
  /** throws StoreError('not_found'); with `limits`, StoreError('too_large') when the fields would exceed them */
  update(ownerId: string, id: string, patch: OwnedPatch<F>, limits?: OwnedLimits): Promise<Owned<F>>
  /** throws StoreError('not_found') */
  softDelete(ownerId: string, id: string): Promise<void>
}

/**
 * What each repository method does, which decides how the failover layer routes it (MethodKind in
 * store.ts). A method missing here, or one OwnedRepo lacks, does not compile.
 */
export const OWNED_REPO_KINDS = {
  create: 'write',
  get: 'read',
  usage: 'read',
  list: 'read',
  update: 'write',
  softDelete: 'delete',
} as const satisfies RepoKinds<OwnedRepo<string>>

/**
 * Bytes of fields one list page carries at most: the page ends early, and next_cursor goes on from
 * there. A single row larger than this still comes alone on its page.
 */
export const OWNED_PAGE_MAX_BYTES = 2 * 1024 * 1024

/**
 * Bytes of search_text one search (`q`) reads per page at most: the page then ends after the rows read
 * so far, possibly with fewer matches than `limit` (even none), and next_cursor goes on from there.
 */
export const OWNED_SEARCH_SCAN_BYTES = 8 * 1024 * 1024

/** An owned table as both repositories use it: its columns sorted by role, and its messages. */
export interface OwnedShape {
  table: string
  owner: string
  fields: readonly string[]
  searchable: readonly string[]
  notFound: () => StoreError
  idTaken: () => StoreError
}

export function ownedShape(t: OwnedTable): OwnedShape {
  return {
    table: t.name,
    owner: t.owner,
    fields: ownedFieldColumns(t),
    searchable: t.searchable ?? [],
    notFound: () => new StoreError('not_found', `${t.rowName} not found`),
    idTaken: () => new StoreError('conflict', `a ${t.rowName} with this id already exists`),
  }
}

export const fieldBytes = (values: readonly string[]): number => values.reduce((n, v) => n + Buffer.byteLength(v), 0)

/** The errors a write over OwnedLimits throws. */
export function ownedLimitError(table: string, over: 'count' | 'bytes', limits: OwnedLimits): StoreError {
  return over === 'count'
    ? new StoreError('too_many', `this account already keeps ${limits.maxCount} ${table}, the most allowed; delete some first`)
    : new StoreError('too_large', `this would bring this account's ${table} over ${limits.maxBytes} bytes of text, the most allowed; delete or shorten some first`)
}

/**
 * A page from rows fetched as limit+1 candidates, of which `rows` are those within the byte budget
 * (the first always), `candidates` how many there were; `scan`: where a bounded search stopped reading.
 */
export function budgetedPage<T extends { id: string }>(
  rows: T[],
  limit: number,
  candidates: number,
  scan?: { end: string | null; cut: boolean },
): Page<T> {
  if (rows.length > limit) {
    const items = rows.slice(0, limit)
    return { items, nextCursor: items[items.length - 1]!.id }
  }
  if (rows.length < candidates) return { items: rows, nextCursor: rows[rows.length - 1]!.id }
  if (scan?.cut && scan.end) return { items: rows, nextCursor: scan.end }
  return { items: rows, nextCursor: null }
}

// ---- the registry: which owned tables a store serves ----

export const isOwned = (t: TableDefinition): t is OwnedTable => t.owner !== undefined

/**
 * The compiled form (statements, mappers) of each owned table among `tables`, made once when a store
 * opens: what a store's resource(table) serves. A table the store was not opened with is a bug.
 */
export function compileOwnedTables<C>(tables: readonly TableDefinition[], compile: (t: OwnedTable) => C): (table: OwnedTable) => C {
  const compiled = new Map(tables.filter(isOwned).map((t) => [t.name, compile(t)]))
  return (table) => {
    const found = compiled.get(table.name)
    if (found === undefined) throw new Error(`table ${table.name} is not among the tables this store was opened with`)
    return found
  }
}

type BuiltInOwned = Extract<(typeof TABLES)[number], { owner: string }>

/** The built-in owned tables (TABLES with an owner), each a property of every Store. */
const BUILT_IN_OWNED = TABLES.filter((t): t is BuiltInOwned => isOwned(t))

export type OwnedRepos = { readonly [T in BuiltInOwned as T['name']]: OwnedRepo<FieldsOf<T>> }

/**
 * Gives `target` (a Store, or a Store class's prototype) a property per built-in owned table, its
 * resource(table): how every Store implementation gets one property per owned table of TABLES.
 */
export function defineOwnedRepos(target: { resource(table: OwnedTable): unknown }): void {
  for (const t of BUILT_IN_OWNED)
    Object.defineProperty(target, t.name, {
      get(this: typeof target) {
        return this.resource(t)
      },
      enumerable: true,
      configurable: true,
    })
}
