// Cursor pages by id: fetch limit+1 rows, so "is there more?" costs no extra query.
import { StoreError, type Page, type PageQuery } from '../store.ts'

export function pageLimit(query: PageQuery): number {
  const { limit } = query
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new StoreError('invalid', 'limit must be an integer from 1 to 100')
  return limit
}

/** `rows` were fetched with LIMIT limit+1 */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit)
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null }
}
