// GET /openapi.json and GET /docs: the OpenAPI 3.1 document of this very app (made once, on first
// request, from its mounted routes) and a readable page made from that document.
import { Hono } from 'hono'
import type { AppEnv } from '../app-env.ts'
import { openApiDocument } from '../openapi/document.ts'
import { docsPage } from '../pages/docs-page.tsx'

/** `app`: the app whose routes are documented, asked for when the first request comes */
export function apiDocsRoutes(app: () => Hono<AppEnv>, version: string): Hono<AppEnv> {
  let document: Record<string, unknown> | null = null
  const documented = () => (document ??= openApiDocument(app(), { version }))

  const r = new Hono<AppEnv>()
  r.get('/openapi.json', (c) => c.json(documented(), 200, { 'Cache-Control': 'no-cache' }))
  r.get('/docs', (c) => c.html(docsPage(documented()), 200, { 'Cache-Control': 'no-cache' }))
  return r
}
