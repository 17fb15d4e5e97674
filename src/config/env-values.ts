// Reading single environment values: each reader names the variable in its one-line error and never
// echoes a value that may hold a secret.
import { readFileSync } from 'node:fs'
import { ConfigError } from '../config-types.ts'

export interface ConfigSources {
  env: Record<string, string | undefined>
  /**
   * Reads a file for <NAME>_FILE and the secrets path; default: fs readFileSync utf8. Null or a throw means
   * missing: skipped for the secrets path, an error for an explicit _FILE.
   */
  readFile?: (path: string) => string | null
  /** default '/run/secrets/database_url' */
  secretsPath?: string
  /** whether stdout is a terminal; default process.stdout.isTTY */
  isTTY?: boolean
}

export type Env = ConfigSources['env']
export type ReadFile = (path: string) => string | null

export const DEFAULT_SECRETS_PATH = '/run/secrets/database_url'

export const defaultReadFile: ReadFile = (path) => readFileSync(path, 'utf8')

// ---------------------------------------------------------------------------------------------------
// Scalar readers. An empty (or blank) variable counts as unset everywhere.

export function get(env: Env, name: string): string | undefined {
  const value = env[name]?.trim()
  return value ? value : undefined
}

/** The first set variable among a name and its aliases, with the name actually used (for messages). */
export function getAliased(env: Env, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = get(env, name)
    if (value !== undefined) return { name, value }
  }
  return undefined
}

/** A non-secret value for an error message: quoted and cut short. */
export const shown = (value: string): string => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)

export function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!(n >= min && n <= max)) throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got ${shown(value)})`)
  return n
}

/** Seconds, fractions allowed (`0.5`). */
export function seconds(name: string, value: string | undefined, fallback: number, opts: { allowZero: boolean; max: number }): number {
  if (value === undefined) return fallback
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(value) ? Number(value) : Number.NaN
  const low = opts.allowZero ? n >= 0 : n > 0
  if (!(low && n <= opts.max)) {
    const range = opts.allowZero ? `from 0 to ${opts.max}` : `greater than 0 and at most ${opts.max}`
    throw new ConfigError(`${name} must be a number of seconds ${range} (got ${shown(value)})`)
  }
  return n
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on'])
const FALSE_WORDS = new Set(['false', '0', 'no', 'off'])

export function boolean(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback
  const word = value.toLowerCase()
  if (TRUE_WORDS.has(word)) return true
  if (FALSE_WORDS.has(word)) return false
  throw new ConfigError(`${name} must be true or false (or 1/0, yes/no, on/off) (got ${shown(value)})`)
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }
const MAX_DURATION_S = 10 * 366 * 86400

/** `45s`, `15m`, `12h`, `30d`, or a bare number of seconds; returns whole seconds. */
export function parseDuration(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const m = /^(\d+)\s*([smhd])?$/i.exec(value)
  const n = m ? Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()]! : Number.NaN
  if (!(n >= 1 && n <= MAX_DURATION_S)) {
    throw new ConfigError(`${name} must be a duration like 45s, 15m, 12h, 30d or a number of seconds, at least 1s and at most 10 years (got ${shown(value)})`)
  }
  return n
}

export function oneOf<T extends string>(name: string, value: string | undefined, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback
  const lower = value.toLowerCase()
  const found = allowed.find((a) => a === lower)
  if (found === undefined) throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got ${shown(value)})`)
  return found
}

const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2 }
const MAX_BODY_LIMIT = 1024 ** 3

/** A size in bytes, optionally with a k/kb/kib or m/mb/mib suffix (powers of 1024). */
export function byteSize(name: string, value: string | undefined, fallback: number, max = MAX_BODY_LIMIT): number {
  if (value === undefined) return fallback
  const m = /^(\d+)\s*([a-z]+)?$/i.exec(value)
  const unit = m ? SIZE_UNITS[(m[2] ?? 'b').toLowerCase()] : undefined
  const n = m && unit !== undefined ? Number(m[1]) * unit : Number.NaN
  if (!(n >= 1 && n <= max)) {
    throw new ConfigError(`${name} must be a size in bytes from 1 to ${max}, optionally with a kb or mb suffix (got ${shown(value)})`)
  }
  return n
}

/** Reads a file named by a variable; the reason (not the content) goes into the message. */
export function readNamedFile(readFile: ReadFile, variable: string, path: string): string {
  let content: string | null
  let reason = 'not found'
  try {
    content = readFile(path)
  } catch (e) {
    content = null
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') reason = code
  }
  if (content === null) throw new ConfigError(`${variable} could not be read: ${path} (${reason})`)
  return content
}

/**
 * A secret from `NAME` (used as-is) or else from the file named by `NAME_FILE` (trailing newlines
 * dropped, as Docker and Kubernetes secrets usually end with one).
 */
export function secret(env: Env, readFile: ReadFile, name: string): { value: string; from: string } | undefined {
  const direct = env[name]
  if (direct) return { value: direct, from: name }
  const fileVar = `${name}_FILE`
  const path = get(env, fileVar)
  if (path === undefined) return undefined
  const value = readNamedFile(readFile, fileVar, path).replace(/[\r\n]+$/, '')
  if (!value) throw new ConfigError(`${fileVar} names an empty file: ${path}`)
  return { value, from: fileVar }
}

