import { nowIso, type Setting, type SettingsRepo } from '../store.ts'
import type { PgExecutor } from './executor.ts'
import { toSetting, type SettingRow } from './rows.ts'

export function createSettingsRepo(ex: PgExecutor): SettingsRepo {
  const written = (row: SettingRow): Setting => {
    const setting = toSetting(row)
    ex.emit({ table: 'settings', row: setting })
    return setting
  }

  return {
    async get(key) {
      const [row] = await ex.run((sql) => sql<SettingRow[]>`select * from settings where key = ${key}`)
      return row ? row.value : null
    },

    async set(key, value) {
      const now = nowIso()
      const [row] = await ex.run((sql) => sql<SettingRow[]>`
        insert into settings (key, value, updated_at, version) values (${key}, ${value}, ${now}, 1)
        on conflict (key) do update
        set value = excluded.value, updated_at = excluded.updated_at, version = settings.version + 1
        returning *`)
      written(row!)
    },

    async setIfAbsent(key, value) {
      // Two instances generating a JWT secret at once: the first insert wins, both use its value.
      const [row] = await ex.run((sql) => sql<SettingRow[]>`
        insert into settings (key, value, updated_at, version) values (${key}, ${value}, ${nowIso()}, 1)
        on conflict (key) do nothing
        returning *`)
      if (row) return written(row).value
      const [existing] = await ex.run((sql) => sql<SettingRow[]>`select * from settings where key = ${key}`)
      return existing!.value
    },
  }
}
