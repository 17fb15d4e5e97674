// GET / — the status page. Like /health it reads only the runtime's synchronous status and its
// in-memory history: opening or refreshing the page never queries a database.
import { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../app-env.ts'
import { statusPage } from '../pages/status-page.tsx'
import { statusView } from '../pages/status-model.ts'
import { query } from '../validation.ts'

export const REFRESH_DEFAULT_S = 5
// Not strict: Hugging Face adds its own query parameters (e.g. __sign) to the URL it frames.
const statusPageQuery = z.object({
  refresh: z.coerce
    .number('must be a number of seconds')
    .int('must be a whole number of seconds')
    .min(1, 'must be at least 1 second')
    .max(3600, 'must be at most 3600 seconds')
    .default(REFRESH_DEFAULT_S)
    .describe('seconds between refreshes of the page'),
})

export function statusPageRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>()
  r.get('/', query(statusPageQuery), (c) => {
    const view = statusView(c.get('deps'))
    return c.html(statusPage(view, c.req.valid('query').refresh), 200, { 'Cache-Control': 'no-store' })
  })
  return r
}
