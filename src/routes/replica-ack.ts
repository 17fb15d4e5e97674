// REPLICA_SYNC=true: a request that changed data on SQLite is answered only once the replica holds
// the change. Every change a handler makes is committed before it returns, so waiting after it for
// "everything committed so far" covers them all; requests finishing together share one upload.
// While PostgreSQL takes the writes (primary mode) it holds them, and nothing waits.
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../app-env.ts'
import { errorBody } from '../errors.ts'

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

export function replicaAck(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { replica, db } = c.get('deps')
    if (!replica || READS.has(c.req.method)) return next()
    const onSqlite = () => db.status().mode !== 'primary'
    // Known unreachable: refuse before writing anything that could then not be acknowledged.
    if (onSqlite() && !replica.accepting) {
      return c.json(errorBody('unavailable', 'the replica cannot be reached; REPLICA_SYNC=true accepts no write it cannot store', c.get('requestId')), 503)
    }
    await next()
    if (c.res.status >= 400 || !onSqlite()) return
    try {
      await replica.durable()
    } catch (e) {
      const message = e instanceof Error ? e.message : 'the replica did not store the write'
      c.res = c.json(errorBody('unavailable', message, c.get('requestId')), 503)
    }
  }
}
