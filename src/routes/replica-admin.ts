// /api/v1/sqlite-fallback/replica: see and drive the replica by hand. Admins only (mounted under the
// fallback admin API, behind its guard). Restoring is not here: it replaces the live database, so it
// is `bun run db replica restore` with the server stopped.
import { Hono } from 'hono'
import type { AppEnv } from '../app-env.ts'
import { AppError } from '../errors.ts'

export function replicaAdminRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const replicaOf = (deps: AppEnv['Variables']['deps']) => {
    if (!deps.replica) throw new AppError('not_found', 'no replica is configured (set REPLICA_URL)')
    return deps.replica
  }

  app.get('/', (c) => c.json(replicaOf(c.get('deps')).status()))

  /** ships the pending changes now */
  app.post('/sync', async (c) => c.json(await replicaOf(c.get('deps')).syncNow()))

  /** a new snapshot now; older segments and snapshots are deleted after it */
  app.post('/snapshot', async (c) => c.json(await replicaOf(c.get('deps')).snapshotNow()))

  return app
}
