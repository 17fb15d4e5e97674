// The tables one store replicates (mirror, outbox and replay, snapshot copy, exports), made once per
// store from the definitions it was opened with (default TABLES) and handed to the code that moves
// rows. Nothing that moves rows looks tables up in a module-level list, so a fork's table (or a
// test's) replicates by being in the store's definitions, without being in TABLES.
import { codecOf, type Codec } from './codec.ts'
import { mergeClause } from './merge-sql.ts'
import { StoreError, type TableRow } from './store.ts'
import { misorderedReferences, type TableDefinition } from './tables.ts'

/** One replicated table, prepared once: what every row of it needs */
export interface PreparedTable {
  readonly definition: TableDefinition
  readonly codec: Codec<object>
  /** `ON CONFLICT …` (merge-sql.ts): the table's merge rule, the same text in both dialects */
  readonly mergeClause: string
}

export interface SyncTables {
  /** parents before children: the order of copies; reversed, of deletes */
  readonly names: readonly string[]
  /** throws StoreError('invalid') for a table the store was not opened with */
  of(name: string): PreparedTable
  /** the key of the row a change carries */
  keyOf(change: TableRow): string
  /** what a dialect makes of each table once (its statements), looked up by name like of() */
  prepare<S>(make: (table: PreparedTable) => S): (name: string) => S
}

export function syncTables(definitions: readonly TableDefinition[]): SyncTables {
  // a wrong order would fail a copy's inserts, or its deletes, on a foreign key
  const misordered = misorderedReferences(definitions)
  if (misordered.length > 0) throw new Error(`the tables are not in foreign-key order: ${misordered.join('; ')}`)
  const byName = new Map(definitions.map((definition) => [definition.name, { definition, codec: codecOf<object>(definition), mergeClause: mergeClause(definition) }]))
  if (byName.size !== definitions.length) throw new Error('two table definitions have the same name')

  // one Map get per row; a name from an outbox entry or a request is checked here, before it is put into SQL
  const lookup =
    <S>(map: ReadonlyMap<string, S>) =>
    (name: string): S => {
      const found = map.get(name)
      if (found === undefined) throw new StoreError('invalid', `this store does not replicate a table named ${JSON.stringify(name)}`)
      return found
    }
  const of = lookup(byName)
  return {
    names: definitions.map((d) => d.name),
    of,
    keyOf: (change) => of(change.table).codec.keyOf(change.row),
    prepare: (make) => lookup(new Map([...byName].map(([name, table]) => [name, make(table)]))),
  }
}
