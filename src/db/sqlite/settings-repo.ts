import { nowIso, type SettingsRepo } from '../store.ts'
import type { Scope, SqliteConnection } from './connection.ts'
import { toSetting, type SettingRow } from './rows.ts'

const GET = 'SELECT value FROM settings WHERE key = $key'
const SET = `INSERT INTO settings (key, value, updated_at, version) VALUES ($key, $value, $now, 1)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, version = settings.version + 1
  RETURNING *`
const INSERT_IF_ABSENT = `INSERT INTO settings (key, value, updated_at, version) VALUES ($key, $value, $now, 1)
  ON CONFLICT (key) DO NOTHING RETURNING *`

export function sqliteSettingsRepo(conn: SqliteConnection, scope: Scope): SettingsRepo {
  const get = (key: string) => conn.stmt<{ value: string }>(GET).get({ key })?.value ?? null

  return {
    get: (key) => conn.read(scope, () => get(key)),

    set: (key, value) =>
      conn.write(scope, (emit) => {
        const row = conn.stmt<SettingRow>(SET).get({ key, value, now: nowIso() })!
        emit({ table: 'settings', row: toSetting(row) })
      }),

    setIfAbsent: (key, value) =>
      conn.write(scope, (emit) => {
        const row = conn.stmt<SettingRow>(INSERT_IF_ABSENT).get({ key, value, now: nowIso() })
        if (!row) return get(key)!
        emit({ table: 'settings', row: toSetting(row) })
        return row.value
      }),
  }
}
