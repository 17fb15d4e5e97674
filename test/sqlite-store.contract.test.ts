// The Store contract against SqliteStore: a fresh, migrated database file per test (WAL, as in
// production), all inside one temp folder removed in afterAll.
import { afterAll, setDefaultTimeout } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newId } from '../src/db/store.ts'
import { SqliteStore } from '../src/db/sqlite/sqlite-store.ts'
import { storeContract } from './store.contract.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

const dir = mkdtempSync(join(tmpdir(), 'sqlite-contract-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

storeContract({
  name: 'SqliteStore',
  open: async () => {
    const store = new SqliteStore({ path: join(dir, `${newId()}.db`), busyTimeoutS: 5 })
    await store.migrate()
    return store
  },
  close: (store) => store.close(),
})
