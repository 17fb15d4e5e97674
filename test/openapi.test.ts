// /openapi.json against the server it documents: every route the Hono app mounts is in it and every
// path in it answers; each JSON body's example is accepted and its invalid example rejected exactly as
// documented; answers match the documented shapes; the documented security is enforced.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ERROR_STATUS, type ErrorCode } from '../src/errors.ts'
import { mountedOperations, openApiPath, operationDoc } from '../src/openapi/document.ts'
import { EXAMPLE_ID, OPERATIONS } from '../src/openapi/operations.ts'
import { errorSchema } from '../src/openapi/response-schemas.ts'
import { buildTestApp, call, createUser, login, withAdmin, ADMIN, type TestApp } from './helpers/test-app.ts'

type Json = Record<string, any>

let t: TestApp
let doc: Json
/** every operation of the document: [method, path, operation] */
let operations: Array<[string, string, Json]>

beforeAll(async () => {
  t = await buildTestApp({ env: withAdmin({ ALLOW_REGISTRATION: 'true', LOGIN_MAX_FAILURES: '1000' }) })
  const res = await call(t.app, 'GET', '/openapi.json')
  expect(res.status).toBe(200)
  doc = res.body
  operations = Object.entries(doc.paths as Json).flatMap(([path, methods]) => Object.entries(methods as Json).map(([m, op]) => [m.toUpperCase(), path, op] as [string, string, Json]))
})
afterAll(async () => {
  await t.close()
})

/** a concrete URL for a documented path */
const concrete = (path: string) => path.replace('{id}', EXAMPLE_ID).replace('{file}', 'page.css')

/** the documented error codes of `status` in `op` */
const documentedCodes = (op: Json, status: number): string[] => op.responses[String(status)]?.content?.['application/json']?.schema?.properties?.error?.properties?.code?.enum ?? []

const freshAdmin = () => login(t.app, ADMIN.email, ADMIN.password).then((l) => l.access)

/** The server answered as the document says: a documented status; for an error, a documented code in the documented shape. */
function expectDocumented(op: Json, key: string, res: { status: number; body: any }) {
  expect({ key, status: String(res.status), documented: Object.keys(op.responses) }).toMatchObject({ documented: expect.arrayContaining([String(res.status)]) })
  if (res.status >= 400) {
    const codes = documentedCodes(op, res.status)
    expect({ key, code: res.body?.error?.code, codes }).toMatchObject({ codes: expect.arrayContaining([res.body?.error?.code]) })
    expect(errorSchema(codes as ErrorCode[]).safeParse(res.body).success).toBe(true)
  }
}

describe('the document', () => {
  test('OpenAPI 3.1 with bearer security, tags, and the error shape on every operation', () => {
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info.version).toBe(t.config.version)
    expect(doc.components.securitySchemes.bearerAuth).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }))
    const tags = new Set((doc.tags as Json[]).map((x) => x.name))
    for (const [method, path, op] of operations) {
      expect(tags.has(op.tags[0])).toBe(true)
      expect(op.summary, `${method} ${path}`).toBeString()
      // every operation documents the 500 it can answer with, in the error shape
      expect(documentedCodes(op, 500)).toEqual(['internal'])
      for (const [status, response] of Object.entries(op.responses as Json)) {
        const codes = documentedCodes(op, Number(status))
        for (const code of codes) expect(ERROR_STATUS[code as ErrorCode] as number).toBe(Number(status))
        if (Number(status) >= 400) expect(response.content['application/json'].schema.required).toEqual(['error'])
      }
    }
  })

  test('every route the Hono app mounts is documented, with its method', () => {
    const mounted = t.app.routes.filter((r) => r.method !== 'ALL')
    expect(mounted.length).toBeGreaterThan(30)
    for (const r of mounted) expect({ route: `${r.method} ${r.path}`, documented: Boolean(doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()]) }).toEqual({ route: `${r.method} ${r.path}`, documented: true })
  })

  test('every operation written up in operations.ts is mounted, and every mounted one that does not document itself is written up', () => {
    const writtenUp = mountedOperations(t.app).filter((o) => !o.documented)
    expect(Object.keys(OPERATIONS).sort()).toEqual(writtenUp.map((o) => `${o.method} ${o.path}`).sort())
  })

  test('every documented path exists on the server: no "no route" 404', async () => {
    const token = await freshAdmin()
    for (const [method, path] of operations) {
      if (path === '/api/v1/auth/logout') continue // would end the session the loop uses; sent below on its own
      const res = await call(t.app, method, concrete(path), { token })
      expect({ route: `${method} ${path}`, message: res.body?.error?.message ?? '' }).not.toMatchObject({ message: expect.stringContaining('no route for') })
    }
    const logout = await call(t.app, 'POST', '/api/v1/auth/logout', { token: await freshAdmin() })
    expect(logout.status).toBe(204)
  })

  test('path and query parameters come from the validators: /notes/{id} is a uuid, limit is 1..100', () => {
    const get = doc.paths['/api/v1/notes/{id}'].get
    expect(get.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: expect.objectContaining({ type: 'string', format: 'uuid' }) }])
    const limit = doc.paths['/api/v1/notes'].get.parameters.find((p: Json) => p.name === 'limit')
    expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } })
  })
})

/** the mounted operation `METHOD /hono/:path` */
const mounted = (key: string) => mountedOperations(t.app).find((o) => `${o.method} ${o.path}` === key)!
const jsonValidator = (key: string) => mounted(key).validators.find((v) => v.target === 'json')?.schema
/** an operation's words, wherever they are written (operations.ts or its handler) */
const docOf = (key: string) => operationDoc(mounted(key))

describe('JSON bodies: the example is accepted, the invalid example rejected, as documented', () => {
  const withBodies = () => operations.filter(([, , op]) => op.requestBody)

  test('every JSON body has both examples, and the schema agrees with them', () => {
    const ops = withBodies()
    expect(ops.length).toBeGreaterThanOrEqual(9)
    for (const [method, path, op] of ops) {
      const key = `${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`
      const media = op.requestBody.content['application/json']
      expect({ key, example: media.example !== undefined, invalid: op['x-invalid-example'] !== undefined }).toEqual({ key, example: true, invalid: true })
      // the schema the server validates with (the documented one is its z.toJSONSchema)
      const schema = jsonValidator(key) ?? docOf(key).body!.schema
      expect({ key, valid: schema.safeParse(media.example).success }).toEqual({ key, valid: true })
      expect({ key, invalid: schema.safeParse(op['x-invalid-example']).success }).toEqual({ key, invalid: false })
    }
  })

  test('the server accepts each example (a documented answer, never a validation error)', async () => {
    // Path ids are made up: PATCH of a missing note is a documented 404, past validation all the same.
    for (const [method, path, op] of withBodies()) {
      const token = await freshAdmin()
      const res = await call(t.app, method, concrete(path), { token, body: op.requestBody.content['application/json'].example })
      const key = `${method} ${path}`
      expect({ key, status: res.status }).not.toMatchObject({ status: 400 })
      expect({ key, status: res.status }).not.toMatchObject({ status: 415 })
      expectDocumented(op, key, res)
      const ok = docOf(key.replace(/\{(\w+)\}/g, ':$1')).ok
      if (res.status < 300 && ok.schema) expect({ key, shape: ok.schema.safeParse(res.body).success }).toEqual({ key, shape: true })
    }
  })

  test('the server rejects each invalid example with 400 validation_error naming the field, and writes nothing', async () => {
    const token = await freshAdmin()
    for (const [method, path, op] of withBodies()) {
      const before = await t.snapshot()
      const key = `${method} ${path}`
      const res = await call(t.app, method, concrete(path), { token, body: op['x-invalid-example'] })
      expect({ key, status: res.status, code: res.body?.error?.code }).toEqual({ key, status: 400, code: 'validation_error' })
      expectDocumented(op, key, res)
      expect(res.body.error.details[0]).toEqual({ field: expect.any(String), message: expect.any(String) })
      // a field the schema does not know is refused too (strict objects)
      const extra = await call(t.app, method, concrete(path), { token, body: { ...op.requestBody.content['application/json'].example, unexpected_field: 1 } })
      expect({ key, status: extra.status }).toEqual({ key, status: 400 })
      expect(await t.snapshot()).toBe(before)
    }
  })

  test('a body that is not JSON: 415 as documented', async () => {
    const token = await freshAdmin()
    for (const [method, path, op] of withBodies()) {
      const res = await call(t.app, method, concrete(path), { token, raw: 'hello', headers: { 'Content-Type': 'text/plain' } })
      expect({ key: `${method} ${path}`, status: res.status }).toEqual({ key: `${method} ${path}`, status: 415 })
      expectDocumented(op, `${method} ${path}`, res)
    }
  })
})

describe('answers and security as documented', () => {
  test('bearer operations answer 401 unauthorized without a token; admin ones 403 forbidden to a user', async () => {
    const user = await createUser(t.app, await freshAdmin(), { email: 'plain.user@example.com', password: 'a long passphrase' })
    for (const [method, path, op] of operations) {
      const schemes = (op.security as Json[]).map((s) => Object.keys(s).join())
      if (!schemes.includes('bearerAuth') || schemes.includes('')) continue
      const key = `${method} ${path}`
      const anonymous = await call(t.app, method, concrete(path))
      expect({ key, status: anonymous.status, code: anonymous.body.error.code }).toEqual({ key, status: 401, code: 'unauthorized' })
      expectDocumented(op, key, anonymous)
      if (op['x-required-role'] === 'admin') {
        const forbidden = await call(t.app, method, concrete(path), { token: user.access })
        expect({ key, status: forbidden.status }).toEqual({ key, status: 403 })
        expectDocumented(op, key, forbidden)
      }
    }
  })

  test('GET answers match their documented schema', async () => {
    const token = await freshAdmin()
    await call(t.app, 'POST', '/api/v1/notes', { token, body: { title: 'shape', body: 'check' } })
    for (const [method, path] of operations) {
      const entry = docOf(`${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`)
      if (method !== 'GET' || path.includes('{') || !entry.ok.schema) continue
      // this app has no replica (REPLICA_URL): replica-http.test.ts checks that answer against the same schema
      if (path === '/api/v1/sqlite-fallback/replica') continue
      const res = await call(t.app, method, path, { token })
      expect({ path, status: res.status }).toEqual({ path, status: entry.ok.status })
      const parsed = entry.ok.schema.safeParse(res.body)
      expect({ path, issues: parsed.success ? [] : parsed.error.issues }).toEqual({ path, issues: [] })
    }
  })
})
