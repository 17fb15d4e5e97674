// The words of an owned resource's five operations in /openapi.json, made from its routes' definition
// (routes/owned-routes.ts): its table names the tag and the summaries, its fields the answers' shape
// and the examples, its limits whether a create can answer 409. The factory hangs each on its handler
// (route-meta.ts: documents), so the one line that mounts a fork's resource documents it too.
import type { OwnedTable } from '../db/owned.ts'
import { ownedFieldColumns } from '../db/tables.ts'
import type { ErrorCode } from '../errors.ts'
import type { OwnedRoutesDefinition } from '../routes/owned-routes.ts'
import type { OperationDoc } from './operation-doc.ts'
import { ownedExamples } from './owned-examples.ts'
import { ownedRowSchema, page } from './response-schemas.ts'
import type { RouteDoc } from './route-meta.ts'

type OwnedOperation = 'list' | 'create' | 'get' | 'patch' | 'delete'

/** what every handler can answer with beyond its validators and guards: no database reachable */
const DB: ErrorCode[] = ['unavailable']

/** "a note", "an entry" (words in u- like user and url take "a" more often than not) */
const withArticle = (noun: string) => `${/^[aeio]/i.test(noun) ? 'an' : 'a'} ${noun}`
/** "title", "title or body", "title, url or body" */
const oneOf = (names: string[]) => (names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names.join(''))

export function ownedOperations<T extends OwnedTable>(definition: OwnedRoutesDefinition<T>): Record<OwnedOperation, RouteDoc> {
  const { table } = definition
  const fields = ownedFieldColumns(table)
  const tag = { name: table.name, description: definition.description ?? `Each user's own ${table.name}` }
  const row = ownedRowSchema(fields)
  const one = withArticle(table.rowName)
  const examples = ownedExamples(table.name, definition.fields, definition.examples)
  const doc = (operation: Omit<OperationDoc, 'tag'>): RouteDoc => ({ tag, operation: { tag: tag.name, ...operation } })
  return {
    list: doc({ summary: `Your ${table.name}, newest first, paged`, ok: { status: 200, description: 'a page', schema: page(row) }, errors: DB }),
    create: doc({
      summary: `Create ${one}`,
      ok: { status: 201, description: `the ${table.rowName} (Location: its URL)`, schema: row },
      // over the count limit (409); over the bytes limit is a 413, documented with the JSON body's own
      errors: definition.limits ? ['conflict', ...DB] : DB,
      example: examples.create,
      invalidExample: examples.invalid,
    }),
    get: doc({ summary: `One of your ${table.name}`, ok: { status: 200, description: `the ${table.rowName}`, schema: row }, errors: ['not_found', ...DB] }),
    patch: doc({
      summary: `Change ${one}'s ${oneOf(fields)}`,
      ok: { status: 200, description: `the ${table.rowName}`, schema: row },
      errors: ['not_found', ...DB],
      example: examples.patch,
      // a patch must change something: an empty one is refused whatever the fields
      invalidExample: {},
    }),
    delete: doc({ summary: `Delete ${one}`, ok: { status: 204, description: 'deleted' }, errors: ['not_found', ...DB] }),
  }
}
