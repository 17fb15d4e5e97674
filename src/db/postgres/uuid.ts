// Ids are uuid columns: a lookup by a string that is no uuid finds nothing, as in SQLite, instead of
// failing with invalid_text_representation.
import { StoreError } from '../store.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const isUuid = (s: string): boolean => UUID.test(s)

/** A page cursor is the id of the last row of the previous page. */
export function checkCursor(cursor: string | null | undefined): string | null {
  if (cursor === null || cursor === undefined || cursor === '') return null
  if (!isUuid(cursor)) throw new StoreError('invalid', 'invalid page cursor')
  return cursor.toLowerCase()
}

export const pageOf = <T extends { id: string }>(rows: T[], limit: number): { items: T[]; nextCursor: string | null } => {
  const items = rows.slice(0, limit)
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null }
}
