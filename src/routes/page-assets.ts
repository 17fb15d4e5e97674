// GET /assets/:file — the stylesheet and the scripts of the HTML pages, read once when the app is
// made and served from memory. Only the files listed here exist.
import { readFileSync } from 'node:fs'
import { Hono } from 'hono'
import type { AppEnv } from '../app-env.ts'
import { AppError } from '../errors.ts'

const TYPES = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8' } as const
export const PAGE_ASSETS = ['page.css', 'status.js', 'docs.js'] as const

export function pageAssetRoutes(): Hono<AppEnv> {
  const files = new Map<string, { body: string; type: string }>()
  for (const name of PAGE_ASSETS) {
    const ext = name.slice(name.lastIndexOf('.') + 1) as keyof typeof TYPES
    files.set(name, { body: readFileSync(new URL(`../pages/assets/${name}`, import.meta.url), 'utf8'), type: TYPES[ext] })
  }
  const r = new Hono<AppEnv>()
  r.get('/:file', (c) => {
    const file = files.get(c.req.param('file'))
    if (!file) throw new AppError('not_found', `no asset ${c.req.param('file')}`)
    // Revalidated on each load: a new version of the app is picked up at once.
    return c.body(file.body, 200, { 'Content-Type': file.type, 'Cache-Control': 'no-cache' })
  })
  return r
}
