// REPLICA_* (DESIGN §13): where the continuous replica of the SQLite database goes and how often, and
// the S3 credentials Bun's S3 client would read, read here so that src/config stays the only reader of
// the environment. Checked with zod; each bad value is one line naming the variable.
import { z } from 'zod'
import { ConfigError, type ReplicaConfig, type S3Credentials } from '../config-types.ts'
import { boolean, get, parseDuration, shown, type Env } from './env-values.ts'

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/** file:///abs/path or s3://bucket/prefix; the prefix may be empty */
const replicaUrl = z.string().transform((value, ctx) => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a URL' })
    return z.NEVER
  }
  if (url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: 'must not carry credentials (use S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY)' })
    return z.NEVER
  }
  if (url.protocol === 'file:') {
    const path = decodeURIComponent(url.pathname).replace(/\/+$/, '')
    if (url.host || !path.startsWith('/') || path === '') {
      ctx.addIssue({ code: 'custom', message: 'must be file:///absolute/folder' })
      return z.NEVER
    }
    return { kind: 'file' as const, path }
  }
  if (url.protocol === 's3:') {
    if (!BUCKET.test(url.hostname)) {
      ctx.addIssue({ code: 'custom', message: 'must be s3://bucket/prefix with a valid bucket name' })
      return z.NEVER
    }
    return { kind: 's3' as const, bucket: url.hostname, prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '') }
  }
  ctx.addIssue({ code: 'custom', message: `must start with file:// or s3:// (got ${url.protocol}//)` })
  return z.NEVER
})

const intervalMs = z.coerce.number().int().min(50).max(3_600_000)
const snapshotSegments = z.coerce.number().int().min(1).max(1_000_000)
const uploadTimeoutMs = z.coerce.number().int().min(100).max(600_000)

function parse<T>(name: string, schema: z.ZodType<T>, value: string, expected: string): T {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  if (name !== 'REPLICA_URL') throw new ConfigError(`${name} ${expected} (got ${shown(value)})`)
  throw new ConfigError(`${name} ${expected}: it ${result.error.issues[0]?.message ?? 'is invalid'} (got ${shownUrl(value)})`)
}

/** a replica URL in a message: scheme and host only, never a path that might carry a token */
const shownUrl = (value: string): string => shown(value.replace(/^([a-z0-9+]+:\/\/)(?:[^/@]*@)?([^/]*).*$/i, '$1$2/…'))

function credentials(env: Env): S3Credentials {
  const pick = (...names: string[]) => {
    for (const n of names) {
      const v = get(env, n)
      if (v !== undefined) return v
    }
    return undefined
  }
  return {
    accessKeyId: pick('S3_ACCESS_KEY_ID', 'AWS_ACCESS_KEY_ID'),
    secretAccessKey: pick('S3_SECRET_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY'),
    sessionToken: pick('S3_SESSION_TOKEN', 'AWS_SESSION_TOKEN'),
    endpoint: pick('S3_ENDPOINT', 'AWS_ENDPOINT'),
    region: pick('S3_REGION', 'AWS_REGION'),
  }
}

export function replicaConfig(env: Env, fallbackPath: string): ReplicaConfig | null {
  const raw = get(env, 'REPLICA_URL')
  if (raw === undefined) return null
  const target = parse('REPLICA_URL', replicaUrl, raw, 'must be file:///folder or s3://bucket/prefix')
  if (fallbackPath === ':memory:') throw new ConfigError('REPLICA_URL needs a SQLite file: FALLBACK_DATABASE_URL is :memory:, which has nothing to replicate across a restart')
  const interval = get(env, 'REPLICA_INTERVAL_MS')
  const segments = get(env, 'REPLICA_SNAPSHOT_SEGMENTS')
  const timeout = get(env, 'REPLICA_UPLOAD_TIMEOUT_MS')
  return {
    target: target.kind === 'file' ? target : { ...target, credentials: credentials(env) },
    sync: boolean('REPLICA_SYNC', get(env, 'REPLICA_SYNC'), false),
    intervalMs: interval === undefined ? 1000 : parse('REPLICA_INTERVAL_MS', intervalMs, interval, 'must be an integer number of milliseconds from 50 to 3600000'),
    snapshotIntervalS: parseDuration('REPLICA_SNAPSHOT_INTERVAL', get(env, 'REPLICA_SNAPSHOT_INTERVAL'), 3600),
    snapshotEverySegments: segments === undefined ? 1000 : parse('REPLICA_SNAPSHOT_SEGMENTS', snapshotSegments, segments, 'must be an integer from 1 to 1000000'),
    uploadTimeoutMs: timeout === undefined ? 10_000 : parse('REPLICA_UPLOAD_TIMEOUT_MS', uploadTimeoutMs, timeout, 'must be an integer number of milliseconds from 100 to 600000'),
  }
}

/** where the replica is, for logs and /health: never a credential */
export function describeReplicaTarget(r: ReplicaConfig): string {
  if (r.target.kind === 'file') return `file://${r.target.path}`
  const endpoint = r.target.credentials.endpoint
  let host = ''
  try {
    host = endpoint ? ` at ${new URL(endpoint).host}` : ''
  } catch {
    host = ''
  }
  return `s3://${r.target.bucket}${r.target.prefix ? `/${r.target.prefix}` : ''}${host}`
}
