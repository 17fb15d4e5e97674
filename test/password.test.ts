import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import bcrypt from 'bcryptjs'
import fc from 'fast-check'
import {
  bcryptCost,
  createPasswordService,
  hashPassword,
  isBcryptHash,
  newPasswordProblem,
  PASSWORD_MAX_BYTES,
  verifyPassword,
} from '../src/auth/password.ts'

// Real databases and servers on a machine that may be busy: a test fails for what it finds, never
// for being slow (Bun's default is 5 s). Timing targets live in bench/.
setDefaultTimeout(60_000)

// Cost 4 keeps the property runs quick; the format and interchange do not depend on the cost.
const COST = 4

describe('hashPassword', () => {
  test('produces a $2b$ bcrypt hash with the configured cost', async () => {
    for (const cost of [4, 5]) {
      const hash = await hashPassword('correct horse battery', cost)
      expect(hash.startsWith(`$2b$0${cost}$`)).toBe(true)
      expect(isBcryptHash(hash)).toBe(true)
      expect(bcryptCost(hash)).toBe(cost)
      expect(bcrypt.getRounds(hash)).toBe(cost)
    }
  })

  test('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same password', COST), hashPassword('same password', COST)])
    expect(a).not.toBe(b)
  })

  test('refuses passwords it must never store', async () => {
    for (const bad of ['short', 'x'.repeat(PASSWORD_MAX_BYTES + 1), 'é'.repeat(37), 'has\u0000nul-char', 'lone \ud800 surrogate']) {
      expect(newPasswordProblem(bad)).not.toBeNull()
      await expect(hashPassword(bad, COST)).rejects.toThrow(RangeError)
    }
  })

  test('accepts exactly 8 and exactly 72 UTF-8 bytes, counting bytes not characters', () => {
    expect(newPasswordProblem('12345678')).toBeNull()
    expect(newPasswordProblem('x'.repeat(72))).toBeNull()
    expect(newPasswordProblem('é'.repeat(36))).toBeNull() // 72 bytes
    expect(newPasswordProblem('éééé')).toBeNull() // 4 characters, 8 bytes
    expect(newPasswordProblem('ééé')).toMatch(/at least 8 bytes/)
    expect(newPasswordProblem('🔑'.repeat(19))).toMatch(/at most 72 bytes/) // 76 bytes
  })
})

describe('interchange with bcryptjs (the portable reference)', () => {
  const storable = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
    .filter((s) => newPasswordProblem(s) === null)

  test('our hashes verify with bcryptjs, and bcryptjs hashes verify with ours', async () => {
    await fc.assert(
      fc.asyncProperty(storable, async (password) => {
        const ours = await hashPassword(password, COST)
        const theirs = await bcrypt.hash(password, COST)
        expect(theirs.startsWith('$2b$')).toBe(true)
        expect(await bcrypt.compare(password, ours)).toBe(true)
        expect(await verifyPassword(password, theirs)).toBe(true)
        expect(await verifyPassword(password, ours)).toBe(true)
        expect(await verifyPassword(`${password}!`, theirs)).toBe(false)
        expect(await bcrypt.compare(`${password}!`, ours)).toBe(false)
      }),
      { numRuns: 25 },
    )
  })

  test('$2a$ and $2y$ hashes made elsewhere verify (pre-hashed seed passwords)', async () => {
    const b = await bcrypt.hash('operator secret', COST)
    for (const prefix of ['$2a$', '$2y$']) expect(await verifyPassword('operator secret', prefix + b.slice(4))).toBe(true)
  })
})

describe('verifyPassword', () => {
  test('is false, never a throw, for malformed hashes and unusable passwords', async () => {
    const hash = await hashPassword('a fine password', COST)
    expect(await verifyPassword('a fine password', 'not a hash')).toBe(false)
    expect(await verifyPassword('a fine password', '$2b$10$tooshort')).toBe(false)
    expect(await verifyPassword('a fine password', `$argon2id$v=19$m=65536,t=2,p=1$${'a'.repeat(43)}`)).toBe(false)
    expect(await verifyPassword('', hash)).toBe(false)
    // bcryptjs would truncate to 72 bytes and accept this; we never pass more than 72 bytes to bcrypt.
    const long = 'y'.repeat(72)
    const longHash = await hashPassword(long, COST)
    expect(await bcrypt.compare(`${long}extra`, longHash)).toBe(true)
    expect(await verifyPassword(`${long}extra`, longHash)).toBe(false)
  })
})

describe('createPasswordService', () => {
  test('verifyUnknown runs a compare against a dummy hash and is always false', async () => {
    const service = createPasswordService(COST)
    expect(await service.verifyUnknown('anything at all')).toBe(false)
    expect(await service.verifyUnknown('')).toBe(false)
    expect(await service.verifyUnknown('z'.repeat(500))).toBe(false)
  })

  test('hash and verify round-trip at the service cost', async () => {
    const service = createPasswordService(5)
    const hash = await service.hash('round trip pw')
    expect(bcryptCost(hash)).toBe(5)
    expect(await service.verify('round trip pw', hash)).toBe(true)
    expect(await service.verify('round trip pX', hash)).toBe(false)
  })
})

describe('event loop', () => {
  // While bcrypt verifies, the main thread must keep serving other work. Counted in event-loop turns,
  // not milliseconds: Bun.password verifies on a worker thread (measured: >100 000 turns at cost 12),
  // bcryptjs.compare hands the loop back only between 100 ms chunks (3 turns), compareSync never (0).
  test('verification leaves the main thread free', async () => {
    const hash = await hashPassword('blocking test password', 12)
    let settled = false
    let turns = 0
    const verifying = verifyPassword('blocking test password', hash).then((ok) => {
      settled = true
      return ok
    })
    await new Promise<void>((resolve) => {
      const spin = () => {
        if (settled) return resolve()
        turns++
        setImmediate(spin)
      }
      setImmediate(spin)
    })
    expect(await verifying).toBe(true)
    expect(turns).toBeGreaterThan(100)
  })
})
