// Access tokens (HS256 JWTs) and refresh tokens (random, stored only as a SHA-256 hash).
import { sign, verify } from 'hono/jwt'
import type { Role } from '../db/store.ts'

export interface AccessClaims {
  sub: string
  role: Role
  /** the refresh session this token was issued with */
  sid: string
  iat: number
  exp: number
}

const REFRESH_TOKEN = /^[A-Za-z0-9_-]{43}$/

/** 32 random bytes, base64url (43 characters). */
export const newRefreshToken = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')

export const looksLikeRefreshToken = (token: string): boolean => REFRESH_TOKEN.test(token)

/** What the sessions table keeps: the token itself never reaches the database. */
export const hashRefreshToken = (token: string): string => new Bun.CryptoHasher('sha256').update(token).digest('hex')

export async function signAccessToken(
  input: { userId: string; role: Role; sessionId: string; ttlS: number; nowS?: number },
  secret: string,
): Promise<string> {
  const iat = input.nowS ?? Math.floor(Date.now() / 1000)
  const claims: AccessClaims = { sub: input.userId, role: input.role, sid: input.sessionId, iat, exp: iat + input.ttlS }
  return sign({ ...claims }, secret, 'HS256')
}

export type AccessTokenFailure = 'expired' | 'invalid'

/** The claims of a valid, unexpired token signed with `secret`, else the reason it was refused. */
export async function verifyAccessToken(token: string, secret: string): Promise<AccessClaims | AccessTokenFailure> {
  let payload: Record<string, unknown>
  try {
    payload = await verify(token, secret, 'HS256')
  } catch (e) {
    return e instanceof Error && e.name === 'JwtTokenExpired' ? 'expired' : 'invalid'
  }
  const { sub, role, sid, iat, exp } = payload
  if (typeof sub !== 'string' || typeof sid !== 'string' || (role !== 'admin' && role !== 'user')) return 'invalid'
  if (typeof iat !== 'number' || typeof exp !== 'number') return 'invalid'
  return { sub, role, sid, iat, exp }
}

/** How many verified tokens one app remembers (a few MB at most). */
const VERIFIED_CACHE_SIZE = 10_000

/**
 * verifyAccessToken for one app and secret, remembering tokens it already verified until they expire:
 * a client sends the same token with every request for its whole lifetime, and the HMAC check is the
 * largest cost of an authenticated request. Only exact token strings that verified are remembered,
 * so a changed byte is a miss and is verified in full.
 */
export function createAccessTokenVerifier(secret: string, nowS: () => number = () => Math.floor(Date.now() / 1000)) {
  const verified = new Map<string, AccessClaims>()
  return async (token: string): Promise<AccessClaims | AccessTokenFailure> => {
    const known = verified.get(token)
    if (known) {
      if (known.exp > nowS()) return known
      verified.delete(token)
      return 'expired'
    }
    const claims = await verifyAccessToken(token, secret)
    if (typeof claims === 'object') {
      if (claims.exp <= nowS()) return 'expired'
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!)
      verified.set(token, claims)
    }
    return claims
  }
}
