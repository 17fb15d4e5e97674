/** @jsxImportSource hono/jsx */
// GET /docs — the OpenAPI document made readable: routes grouped by tag, their parameters, bodies
// (schema and example) and answers, and a "try it" form (docs.js) that sends a request with a token
// the reader pastes. Built from the document alone, so it shows exactly what /openapi.json says.
import { page } from './layout.tsx'

type Json = Record<string, any>

const pretty = (v: unknown) => JSON.stringify(v, null, 2)

function Operation({ method, path, op }: { method: string; path: string; op: Json }) {
  const body = op.requestBody?.content?.['application/json']
  const secured = Array.isArray(op.security) && op.security.some((s: Json) => 'bearerAuth' in s)
  const optional = secured && op.security.some((s: Json) => Object.keys(s).length === 0)
  const role = op['x-required-role'] as string | undefined
  return (
    <details class="op" id={op.operationId}>
      <summary>
        <span class={`method ${method}`}>{method.toUpperCase()}</span> <code>{path}</code> {op.summary}{' '}
        {secured ? <span class="lock">{role ? `bearer, ${role} role` : optional ? 'bearer optional' : 'bearer'}</span> : null}
      </summary>
      <div class="body">
        {op.description ? <p>{op.description}</p> : null}
        {op.parameters?.length ? (
          <table>
            <thead>
              <tr>
                <th>parameter</th>
                <th>in</th>
                <th>schema</th>
              </tr>
            </thead>
            <tbody>
              {op.parameters.map((p: Json) => (
                <tr>
                  <td>
                    <code>{p.name}</code>
                    {p.required ? ' (required)' : ''}
                  </td>
                  <td>{p.in}</td>
                  <td>
                    <code>{JSON.stringify(p.schema)}</code>
                    {p.description ? ` — ${p.description}` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {body ? (
          <div>
            <h4>Request body{op.requestBody.required ? '' : ' (optional)'}</h4>
            <pre>{pretty(body.schema)}</pre>
            {body.example !== undefined ? (
              <div>
                <h4>Example</h4>
                <pre>{pretty(body.example)}</pre>
              </div>
            ) : null}
          </div>
        ) : null}
        <h4>Responses</h4>
        <table>
          <tbody>
            {Object.entries(op.responses as Json).map(([status, r]) => (
              <tr>
                <td>{status}</td>
                <td>{(r as Json).description}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p>
          <button
            type="button"
            class="try"
            data-method={method.toUpperCase()}
            data-path={path}
            data-body={body?.example !== undefined ? pretty(body.example) : ''}
          >
            Try it
          </button>
        </p>
      </div>
    </details>
  )
}

export function docsPage(doc: Json) {
  const byTag = new Map<string, Array<{ method: string; path: string; op: Json }>>()
  for (const [path, methods] of Object.entries(doc.paths as Json))
    for (const [method, op] of Object.entries(methods as Json)) {
      const tag = (op as Json).tags?.[0] ?? 'other'
      byTag.set(tag, [...(byTag.get(tag) ?? []), { method, path, op: op as Json }])
    }
  return page({
    title: `${doc.info.title} · API docs`,
    script: 'docs.js',
    children: (
      <main id="page">
        <header class="top">
          <h1>
            {doc.info.title} <small>{doc.info.version}</small>
          </h1>
          <nav>
            <a href="/">Status</a> · <a href="/openapi.json">OpenAPI {doc.openapi}</a>
          </nav>
        </header>
        <p>{doc.info.description}</p>
        <section class="card" id="tryit">
          <h2>Try it</h2>
          <noscript>
            <p>Sending requests from this page needs JavaScript.</p>
          </noscript>
          <form id="tryit-form">
            <div class="row">
              <select name="method" aria-label="method">
                {['GET', 'POST', 'PATCH', 'DELETE'].map((m) => (
                  <option value={m}>{m}</option>
                ))}
              </select>
              <input name="path" aria-label="path" value="/health" required />
              <button type="submit">Send</button>
            </div>
            <div class="row">
              <input name="token" type="password" autocomplete="off" aria-label="bearer token" placeholder="bearer token (access_token of POST /api/v1/auth/login), kept in this page only" />
            </div>
            <textarea name="body" aria-label="JSON body" placeholder="JSON body (POST, PATCH)" />
          </form>
          <h3 id="tryit-status" />
          <pre id="tryit-response" />
        </section>
        {(doc.tags as Json[]).map((tag) =>
          byTag.has(tag.name) ? (
            <section class="card" id={`tag-${tag.name}`}>
              <h2>{tag.name}</h2>
              <p class="note">{tag.description}</p>
              {byTag.get(tag.name)!.map((o) => (
                <Operation {...o} />
              ))}
            </section>
          ) : null,
        )}
      </main>
    ),
  })
}
