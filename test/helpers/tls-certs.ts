// Test certificates made with openssl (Debian's): a CA, a server certificate it signs for the names
// given, and an unrelated CA for the "untrusted" cases. Everything lives in a temp folder.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestCerts {
  dir: string
  /** PEM files */
  caFile: string
  otherCaFile: string
  serverCert: string
  serverKey: string
  remove(): void
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const p = Bun.spawn(['openssl', ...args], { cwd: dir, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (${code}): ${err}`)
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** A CA and a server certificate for `names` (DNS names; IP addresses become IP entries). */
export async function makeTestCerts(names: string[]): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'tls-certs-'))
  await openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=hono-failover test CA'])
  await openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=some other CA'])
  await openssl(dir, ['req', ...EC_KEY, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${names[0]}`])
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=${san}\n`)
  await openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext'])
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    otherCaFile: join(dir, 'other-ca.crt'),
    serverCert: readFileSync(join(dir, 'server.crt'), 'utf8'),
    serverKey: readFileSync(join(dir, 'server.key'), 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
