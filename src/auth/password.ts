// Password hashing and verification.
//
// Hashes are made by bcryptjs (`$2b$<cost>$...`, portable to any bcrypt implementation); they are
// made only when an account is created or its password set. Verification, which every login pays,
// runs through Bun.password, which computes bcrypt on a worker thread: bcryptjs's async compare
// yields between rounds but still starved /health for the whole of a 20-login burst (measured
// p99 ≈ 1.5 s against ≈ 4 ms). test/password.test.ts checks both directions of compatibility.
//
// Bun pre-hashes passwords longer than 72 bytes while bcryptjs truncates them, and the two treat NUL
// differently; new passwords are therefore limited to 8..72 UTF-8 bytes without NUL, and nothing
// longer than 72 bytes is ever handed to bcrypt.

import bcrypt from 'bcryptjs'

export const PASSWORD_MIN_BYTES = 8
export const PASSWORD_MAX_BYTES = 72

const BCRYPT_HASH = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/

export const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8')

/** Why `password` may not be set as a new password, or null when it may. */
export function newPasswordProblem(password: string): string | null {
  if (!password.isWellFormed()) return 'must be valid unicode text'
  if (password.includes('\u0000')) return 'must not contain NUL characters'
  const bytes = utf8Length(password)
  if (bytes < PASSWORD_MIN_BYTES) return `must be at least ${PASSWORD_MIN_BYTES} bytes`
  if (bytes > PASSWORD_MAX_BYTES) return `must be at most ${PASSWORD_MAX_BYTES} bytes (UTF-8)`
  return null
}

export const isBcryptHash = (hash: string): boolean => BCRYPT_HASH.test(hash)

/** The cost factor encoded in a bcrypt hash, or null when `hash` is not one. */
export function bcryptCost(hash: string): number | null {
  const m = BCRYPT_HASH.exec(hash)
  return m ? Number(m[1]) : null
}

/** A `$2b$` bcrypt hash with the given cost. The caller has checked the password (newPasswordProblem). */
export async function hashPassword(password: string, cost: number): Promise<string> {
  const problem = newPasswordProblem(password)
  if (problem) throw new RangeError(`password ${problem}`)
  return bcrypt.hash(password, await bcrypt.genSalt(cost))
}

/** true when `password` matches `hash`; false for a malformed hash or an over-long password. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (!isBcryptHash(hash) || password.length === 0 || utf8Length(password) > PASSWORD_MAX_BYTES) return false
  try {
    return await Bun.password.verify(password, hash, 'bcrypt')
  } catch {
    return false
  }
}

/**
 * Password checks for one app: `verifyUnknown` spends the same bcrypt work as a real check, so a
 * login for an email that does not exist takes as long as one with a wrong password.
 */
export interface PasswordService {
  hash(password: string): Promise<string>
  verify(password: string, hash: string): Promise<boolean>
  verifyUnknown(password: string): Promise<false>
}

export function createPasswordService(cost: number): PasswordService {
  let dummy: Promise<string> | null = null
  const dummyHash = () => (dummy ??= hashPassword(crypto.randomUUID(), cost))
  return {
    hash: (password) => hashPassword(password, cost),
    verify: verifyPassword,
    async verifyUnknown(password) {
      await verifyPassword(password.length > 0 && utf8Length(password) <= PASSWORD_MAX_BYTES ? password : 'x', await dummyHash())
      return false
    },
  }
}
