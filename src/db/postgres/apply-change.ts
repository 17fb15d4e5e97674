// The last-writer-wins upsert of one replicated row, as one statement: insert, or update when the
// incoming row wins. It returns one row when the change was applied and none when it was stale.
//
// Incoming wins when the stored row is absent; or when it deletes a live row; never when the stored
// row is deleted and the incoming one is not; otherwise by higher version, then later updated_at.
// A clash on another unique key (email, token hash) or a missing parent row fails with 23505/23503.
import type postgres from 'postgres'
import type { RowChange } from '../store.ts'
import { CODECS } from '../codec.ts'
import type { QuerySql } from './pool.ts'

type Applied = postgres.PendingQuery<{ applied: number }[]>

/** `deleted` is the column that marks a row gone: deleted_at, or revoked_at for sessions. */
function incomingWins(sql: QuerySql, table: string, deleted: string): postgres.PendingQuery<postgres.Row[]> {
  const [t, d] = [sql(table), sql(deleted)]
  return sql`
    (${t}.${d} is null or excluded.${d} is not null)
    and (
      (excluded.${d} is not null and ${t}.${d} is null)
      or excluded.version > ${t}.version
      or (excluded.version = ${t}.version and excluded.updated_at > ${t}.updated_at)
    )`
}

export function upsertChange(sql: QuerySql, change: RowChange): Applied {
  switch (change.table) {
    case 'users':
      return sql`
        insert into users ${sql(CODECS.users.toPostgres(change.row))}
        on conflict (id) do update set
          email = excluded.email, name = excluded.name, role = excluded.role,
          password_hash = excluded.password_hash, disabled = excluded.disabled,
          created_at = excluded.created_at, updated_at = excluded.updated_at,
          version = excluded.version, deleted_at = excluded.deleted_at
        where ${incomingWins(sql, 'users', 'deleted_at')}
        returning 1 as applied`
    case 'sessions':
      return sql`
        insert into sessions ${sql(CODECS.sessions.toPostgres(change.row))}
        on conflict (id) do update set
          user_id = excluded.user_id, token_hash = excluded.token_hash, expires_at = excluded.expires_at,
          revoked_at = excluded.revoked_at, replaced_by = excluded.replaced_by,
          created_at = excluded.created_at, updated_at = excluded.updated_at, version = excluded.version
        where ${incomingWins(sql, 'sessions', 'revoked_at')}
        returning 1 as applied`
    case 'notes':
      return sql`
        insert into notes ${sql(CODECS.notes.toPostgres(change.row))}
        on conflict (id) do update set
          owner_id = excluded.owner_id, title = excluded.title, body = excluded.body,
          search_text = excluded.search_text, created_at = excluded.created_at,
          updated_at = excluded.updated_at, version = excluded.version, deleted_at = excluded.deleted_at
        where ${incomingWins(sql, 'notes', 'deleted_at')}
        returning 1 as applied`
    case 'audit':
      // audit events never change: the first copy of an id stands
      return sql`
        insert into audit ${sql(CODECS.audit.toPostgres(change.row))}
        on conflict (id) do nothing
        returning 1 as applied`
    case 'settings':
      return sql`
        insert into settings ${sql(CODECS.settings.toPostgres(change.row))}
        on conflict (key) do update set
          value = excluded.value, updated_at = excluded.updated_at, version = excluded.version
        where excluded.version > settings.version
           or (excluded.version = settings.version and excluded.updated_at > settings.updated_at)
        returning 1 as applied`
  }
}
