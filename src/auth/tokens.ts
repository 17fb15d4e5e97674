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
