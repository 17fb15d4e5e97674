// What the replica needs of a place to keep files: put a whole file once, read it, list, delete.
// Keys are relative ("generations/…"); each target maps them onto its folder or bucket prefix.
import type { ReplicaConfig } from '../../config-types.ts'
import { FileTarget } from './file-target.ts'
import { S3Target } from './s3-target.ts'

export interface ReplicaTarget {
  /** for logs and /health: never a credential */
  readonly description: string
  /** writes the whole file at `key`, start to end, once: bytes, or a local file's content */
  put(key: string, data: Uint8Array | { localPath: string }): Promise<void>
  /** the file's bytes, or null when there is none */
  get(key: string): Promise<Uint8Array | null>
  /** every key under `prefix`, sorted */
  list(prefix: string): Promise<string[]>
  delete(key: string): Promise<void>
}

/** An operation on the replica failed: unreachable, refused, an error status, or too slow. */
export class ReplicaUnreachable extends Error {
  override readonly name = 'ReplicaUnreachable'
}

export function openTarget(config: ReplicaConfig, describe: string): ReplicaTarget {
  const t = config.target
  const target = t.kind === 'file' ? new FileTarget(t.path, describe) : new S3Target(t, describe)
  return withDeadline(target, config.uploadTimeoutMs)
}

/** every call of `target` fails ReplicaUnreachable after `ms` (a slow store must not hold writes forever) */
export function withDeadline(target: ReplicaTarget, ms: number): ReplicaTarget {
  const timed = <T>(what: string, call: () => Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const run = call()
    run.catch(() => {})
    return Promise.race([
      run,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ReplicaUnreachable(`${what} took longer than ${ms} ms`)), ms)
      }),
    ])
      .catch((e: unknown) => {
        throw e instanceof ReplicaUnreachable ? e : new ReplicaUnreachable(`${what} failed: ${reason(e)}`, { cause: e })
      })
      .finally(() => clearTimeout(timer))
  }
  return {
    description: target.description,
    put: (key, data) => timed(`storing ${key}`, () => target.put(key, data)),
    get: (key) => timed(`reading ${key}`, () => target.get(key)),
    list: (prefix) => timed('listing the replica', () => target.list(prefix)),
    delete: (key) => timed(`deleting ${key}`, () => target.delete(key)),
  }
}

/** a short reason without anything a caller passed in (S3 errors carry no credentials; keep it one line) */
function reason(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown }
  const code = typeof err?.code === 'string' ? err.code : null
  const message = typeof err?.message === 'string' ? err.message.split('\n')[0]!.slice(0, 200) : String(e)
  return code && !message.includes(code) ? `${code}: ${message}` : message
}
