// The accounts an operator declares (SEED_ADMIN_*, SEED_USERS, SEED_USERS_FILE), made to exist at
// every start: on a wiped disk they are created again, on a kept disk a password the user changed is
// kept — unless SEED_RESET_PASSWORDS=true, the way back in for a locked-out admin.
//
// A reset restores the whole declared account, not only its password: it re-enables it, gives back
// its seeded role and ends its sessions (whoever locked the owner out is signed out too). The name is
// left as the user set it.
import type { Logger } from 'pino'
import { ConfigError, type Config, type SeedAccount } from './config-types.ts'
import { recordAudit } from './auth/audit.ts'
import { isBcryptHash, newPasswordProblem, verifyPassword, hashPassword } from './auth/password.ts'
import { newId, normalizeEmail, type Store, type User } from './db/store.ts'

export interface SeedResult {
  created: string[]
  reset: string[]
  kept: string[]
}

/** The variable an account came from, for messages: 'SEED_USERS[2]' → 'SEED_USERS'. */
const variableOf = (source: string) => source.replace(/\[\d+\]$/, '')

/** Where a field of an account is set: SEED_ADMIN_PASSWORD, or SEED_USERS[2].password. */
const fieldOf = (source: string, field: 'email' | 'password' | 'password_hash') =>
  source === 'SEED_ADMIN_EMAIL' ? `SEED_ADMIN_${field.toUpperCase()}` : `${source}.${field}`

/** Config validated the seeds already; these checks make a bad account stop the start all the same. */
function checkAccounts(accounts: readonly SeedAccount[]): SeedAccount[] {
  const seen = new Map<string, SeedAccount>()
  for (const account of accounts) {
    const email = normalizeEmail(account.email)
    const where = account.source
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new ConfigError(`${fieldOf(where, 'email')}: must be an email address`)
    if ((account.password === undefined) === (account.passwordHash === undefined)) {
      throw new ConfigError(`${fieldOf(where, 'password')}: give exactly one of a password or a password hash`)
    }
    if (account.password !== undefined) {
      const problem = newPasswordProblem(account.password)
      if (problem) throw new ConfigError(`${fieldOf(where, 'password')}: ${problem}`)
    }
    if (account.passwordHash !== undefined && !isBcryptHash(account.passwordHash)) {
      throw new ConfigError(`${fieldOf(where, 'password_hash')}: must be a bcrypt hash ($2a$/$2b$/$2y$)`)
    }
    const earlier = seen.get(email)
    if (earlier) throw new ConfigError(`${where}: ${email} is declared twice (also in ${earlier.source})`)
    seen.set(email, { ...account, email })
  }
  return [...seen.values()]
}

/** Whether the stored account already is what the seed declares (so a reset would change nothing). */
async function matchesSeed(user: User, account: SeedAccount): Promise<boolean> {
  if (user.disabled || user.role !== account.role) return false
  if (account.passwordHash !== undefined) return user.passwordHash === account.passwordHash
  return verifyPassword(account.password!, user.passwordHash)
}

export async function seedAccounts(deps: { store: Store; config: Config; logger: Logger }): Promise<SeedResult> {
  const { store, config, logger } = deps
  const accounts = checkAccounts(config.seed.accounts)
  const result: SeedResult = { created: [], reset: [], kept: [] }
  const cost = config.auth.bcryptCost
  const hashOf = (account: SeedAccount) => account.passwordHash ?? hashPassword(account.password!, cost)

  for (const account of accounts) {
    let user = await store.users.getByEmail(account.email)
    if (!user) {
      // createIfAbsent: an instance starting at the same moment may create it first; then it is kept.
      const outcome = await store.users.createIfAbsent({
        id: newId(),
        email: account.email,
        name: account.name,
        role: account.role,
        passwordHash: await hashOf(account),
      })
      if (outcome.created) {
        result.created.push(account.email)
        await recordAudit(deps, {
          action: 'seed.account_created',
          targetId: outcome.user.id,
          details: { email: account.email, role: account.role, source: variableOf(account.source) },
        })
        continue
      }
      user = outcome.user
    }
    if (!config.seed.resetPasswords || (await matchesSeed(user, account))) {
      result.kept.push(account.email)
      continue
    }
    const passwordHash = await hashOf(account)
    const id = user.id
    await store.transaction(async (tx) => {
      await tx.users.setPassword(id, passwordHash)
      await tx.users.update(id, { disabled: false, role: account.role })
      const revoked = await tx.sessions.revokeAllForUser(id)
      await recordAudit({ store: tx, logger }, {
        action: 'seed.password_reset',
        targetId: id,
        details: { email: account.email, role: account.role, source: variableOf(account.source), sessions_revoked: revoked },
      })
    })
    result.reset.push(account.email)
  }

  logger.info(
    { seed: { created: result.created.length, reset: result.reset.length, kept: result.kept.length }, reset_passwords: config.seed.resetPasswords },
    accounts.length === 0 ? 'no seed accounts configured' : 'seed accounts applied',
  )
  return result
}
