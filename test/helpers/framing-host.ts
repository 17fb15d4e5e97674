// A stand-in for huggingface.co on loopback: an HTTPS server with a throw-away self-signed certificate
// whose page frames a URL, the way a Space page frames the app. The browser is told to resolve
// huggingface.co to it (--host-resolver-rules), so the frame's ancestor really is
// https://huggingface.co — the origin the app's CSP frame-ancestors allows — and no byte leaves the
// machine.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const FRAMING_HOST = 'huggingface.co'

export interface FramingHost {
  /** https://huggingface.co/spaces/test/status: a page with one iframe */
  pageUrl: string
  /** Chromium flags that send huggingface.co to this server and nothing else anywhere */
  chromiumArgs: string[]
  close(): Promise<void>
}

function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const keyPath = join(dir, 'key.pem')
  const certPath = join(dir, 'cert.pem')
  const made = Bun.spawnSync(
    ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${FRAMING_HOST}`, '-addext', `subjectAltName=DNS:${FRAMING_HOST}`, '-keyout', keyPath, '-out', certPath],
    { stdout: 'pipe', stderr: 'pipe' },
  )
  if (made.exitCode !== 0) throw new Error(`openssl could not make a test certificate: ${made.stderr.toString()}`)
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') }
}

export function startFramingHost(framedUrl: string): FramingHost {
  const dir = mkdtempSync(join(tmpdir(), 'framing-host-'))
  try {
    const tls = selfSignedCertificate(dir)
    const page = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Space</title></head>
<body><h1>A Space</h1><iframe id="app" src="${framedUrl}" width="980" height="1500" title="app"></iframe></body></html>`
    const server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      tls,
      fetch: () => new Response(page, { headers: { 'Content-Type': 'text/html; charset=utf-8' } }),
    })
    return {
      pageUrl: `https://${FRAMING_HOST}/spaces/test/status`,
      chromiumArgs: [`--host-resolver-rules=MAP ${FRAMING_HOST} 127.0.0.1:${server.port}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1`],
      async close() {
        await server.stop(true)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
}
