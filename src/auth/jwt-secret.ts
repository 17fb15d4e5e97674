// The HS256 key for access tokens: JWT_SECRET, or one generated once and kept in the store.
import type { Logger } from 'pino'
import type { Config } from '../config-types.ts'
import type { Store } from '../db/store.ts'

export const JWT_SECRET_SETTING = 'jwt_secret'

export async function resolveJwtSecret(deps: { store: Store; config: Config; logger: Logger }): Promise<string> {
  const configured = deps.config.auth.jwtSecret
  if (configured) return configured
  // setIfAbsent: instances starting together on one database agree on a single secret.
  const generated = Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString('base64url')
  const secret = await deps.store.settings.setIfAbsent(JWT_SECRET_SETTING, generated)
  deps.logger.warn(
    { setting: JWT_SECRET_SETTING, generated: secret === generated },
    "JWT_SECRET is not set: using a secret kept in the database's settings; sessions will not survive a wiped disk (or a SQLite-only restart) unless JWT_SECRET is set",
  )
  return secret
}
