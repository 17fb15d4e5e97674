// An owned resource documents itself: a fork's table (bookmarks, defined here as in
// test/own-resource.test.ts) mounted with its one route line is in /openapi.json and /docs — its tag,
// five operations, parameters, bodies with examples its validation agrees with, and answers shaped
// like its rows — with no entry in src/openapi/operations.ts.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../src/app-env.ts'
import { mountedOperations, openApiDocument, operationDoc } from '../src/openapi/document.ts'
import { OPERATIONS } from '../src/openapi/operations.ts'
import { ownedRoutes } from '../src/routes/owned-routes.ts'
import { storableText } from '../src/validation.ts'
import { bookmarks } from './helpers/bookmarks.ts'
import { buildTestApp, call, type TestApp } from './helpers/test-app.ts'

type Json = Record<string, any>

const title = storableText(z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'))
const url = storableText(z.url('must be a URL'))

let t: TestApp
let doc: Json

beforeAll(async () => {
  t = await buildTestApp()
  // the fork's one route line; the document is made on its first request, so it sees the route
  t.app.route('/api/v1/bookmarks', ownedRoutes({ table: bookmarks, fields: { title, url } }))
  const res = await call(t.app, 'GET', '/openapi.json')
  expect(res.status).toBe(200)
  doc = res.body
})
afterAll(async () => {
  await t.close()
})

const KEYS = ['GET /api/v1/bookmarks', 'POST /api/v1/bookmarks', 'GET /api/v1/bookmarks/:id', 'PATCH /api/v1/bookmarks/:id', 'DELETE /api/v1/bookmarks/:id']
const ROW_PROPERTIES = ['id', 'title', 'url', 'created_at', 'updated_at', 'version']
const operation = (method: string, path: string): Json => doc.paths[path][method]
const okSchema = (op: Json, status: string): Json => op.responses[status].content['application/json'].schema

describe('bookmarks, mounted with one route line', () => {
  test('has no entry in operations.ts: its handlers carry their words', () => {
    for (const key of KEYS) expect({ key, written: key in OPERATIONS }).toEqual({ key, written: false })
    const mounted = mountedOperations(t.app).filter((o) => o.path.startsWith('/api/v1/bookmarks'))
    expect(mounted.map((o) => `${o.method} ${o.path}`).sort()).toEqual([...KEYS].sort())
    for (const op of mounted) expect(operationDoc(op)).toBe(op.documented!.operation)
  })

  test('its tag, named by its table, is listed with the owned ones after auth', () => {
    expect((doc.tags as Json[]).map((tag) => tag.name)).toEqual(['status', 'health', 'auth', 'notes', 'bookmarks', 'admin', 'fallback', 'docs'])
    expect((doc.tags as Json[]).find((tag) => tag.name === 'bookmarks')).toEqual({ name: 'bookmarks', description: "Each user's own bookmarks" })
  })

  test('five operations under it, their summaries made from the table and its fields', () => {
    const summaries = {
      'get /api/v1/bookmarks': 'Your bookmarks, newest first, paged',
      'post /api/v1/bookmarks': 'Create a bookmark',
      'get /api/v1/bookmarks/{id}': 'One of your bookmarks',
      'patch /api/v1/bookmarks/{id}': "Change a bookmark's title or url",
      'delete /api/v1/bookmarks/{id}': 'Delete a bookmark',
    }
    for (const [key, summary] of Object.entries(summaries)) {
      const [method, path] = key.split(' ') as [string, string]
      expect({ key, tags: operation(method, path).tags, summary: operation(method, path).summary }).toEqual({ key, tags: ['bookmarks'], summary })
    }
  })

  test('parameters from its validators: the id a uuid, the list paged and searchable', () => {
    for (const method of ['get', 'patch', 'delete']) {
      expect(operation(method, '/api/v1/bookmarks/{id}').parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: expect.objectContaining({ type: 'string', format: 'uuid' }) }])
    }
    expect(operation('get', '/api/v1/bookmarks').parameters.map((p: Json) => [p.name, p.in, p.required])).toEqual([
      ['limit', 'query', false],
      ['cursor', 'query', false],
      ['q', 'query', false],
    ])
  })

  test('answers shaped like its rows; a create without limits answers no 409', () => {
    const row = okSchema(operation('post', '/api/v1/bookmarks'), '201')
    expect(row).toMatchObject({ type: 'object', required: ROW_PROPERTIES, additionalProperties: false })
    expect(Object.keys(row.properties)).toEqual(ROW_PROPERTIES)
    expect(row.properties.url).toEqual({ type: 'string' })
    expect(okSchema(operation('get', '/api/v1/bookmarks/{id}'), '200')).toEqual(row)
    expect(okSchema(operation('patch', '/api/v1/bookmarks/{id}'), '200')).toEqual(row)
    expect(okSchema(operation('get', '/api/v1/bookmarks'), '200').properties.items.items).toEqual(row)
    expect(Object.keys(operation('delete', '/api/v1/bookmarks/{id}').responses)).toContain('204')
    expect(Object.keys(operation('post', '/api/v1/bookmarks').responses)).not.toContain('409')
    expect(Object.keys(operation('post', '/api/v1/notes').responses)).toContain('409')
  })

  test('bodies from its fields, with examples made from their validation: accepted, and the invalid ones refused', () => {
    const create = operation('post', '/api/v1/bookmarks')
    const patch = operation('patch', '/api/v1/bookmarks/{id}')
    expect(Object.keys(create.requestBody.content['application/json'].schema.properties)).toEqual(['title', 'url'])
    expect(create.requestBody.content['application/json'].example).toEqual({ title: 'Example title', url: 'https://example.com/' })
    const validator = (key: string) => mountedOperations(t.app).find((o) => `${o.method} ${o.path}` === key)!.validators.find((v) => v.target === 'json')!.schema
    for (const [key, op] of [['POST /api/v1/bookmarks', create], ['PATCH /api/v1/bookmarks/:id', patch]] as const) {
      expect({ key, valid: validator(key).safeParse(op.requestBody.content['application/json'].example).success }).toEqual({ key, valid: true })
      expect({ key, invalid: validator(key).safeParse(op['x-invalid-example']).success }).toEqual({ key, invalid: false })
    }
  })

  test('/docs shows it in its own section', async () => {
    const res = await call(t.app, 'GET', '/docs')
    expect(res.status).toBe(200)
    expect(res.body).toContain('id="tag-bookmarks"')
    expect(res.body).toContain("Change a bookmark&#39;s title or url")
  })
})

describe('the words of an owned resource', () => {
  test('a field no example value passes: its definition must give examples.create, said when it is mounted', () => {
    const code = storableText(z.string().regex(/^[A-Z]{3}$/, 'must be three capitals'))
    expect(() => ownedRoutes({ table: bookmarks, fields: { title: code, url } })).toThrow('bookmarks: no example value passes the validation of title; give examples.create')
    expect(() => ownedRoutes({ table: bookmarks, fields: { title: code, url }, examples: { create: { title: 'ABC', url: 'https://example.com/' } } })).not.toThrow()
  })

  test('a route that documents itself and has an entry in operations.ts is refused: its words would be written twice', () => {
    const app = new Hono<AppEnv>()
    app.route('/api/v1/admin/users', ownedRoutes({ table: bookmarks, fields: { title, url } }))
    expect(() => openApiDocument(app, { version: 'test' })).toThrow('GET /api/v1/admin/users documents itself and has an entry in src/openapi/operations.ts')
  })
})
