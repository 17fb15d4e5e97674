// The seed accounts of DESIGN §6 (SEED_ADMIN_*, SEED_USERS, SEED_USERS_FILE), checked entry by entry.
import { z } from 'zod'
import { ConfigError, type SeedAccount } from '../config-types.ts'
import { normalizeEmail, type Role } from '../db/store.ts'
import { get, readNamedFile, secret, shown, type Env, type ReadFile } from './env-values.ts'

const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/
const MAX_NAME_LENGTH = 100
const SEED_USER_KEYS = ['email', 'password', 'password_hash', 'name', 'role'] as const
const SEED_USERS_SHAPE = 'a JSON array of {email, password | password_hash, name?, role?}'
const ROLES: readonly Role[] = ['admin', 'user']

const seedUserSchema = z.strictObject({
  email: z.string(),
  password: z.string().optional(),
  password_hash: z.string().optional(),
  name: z.string().nullable().optional(),
  role: z.string().optional(),
})
const emailSchema = z.email()

interface SeedFields {
  email: string
  password?: string
  password_hash?: string
  name?: string | null
  role?: string
}

/** How each field is named in messages: `SEED_USERS[2].password` or `SEED_ADMIN_PASSWORD`. */
type FieldLabels = Record<keyof SeedFields, string> & { both: string }

function seedAccount(fields: SeedFields, labels: FieldLabels, source: string): SeedAccount {
  const email = normalizeEmail(fields.email)
  if (email.length > 254 || !emailSchema.safeParse(email).success) throw new ConfigError(`${labels.email} must be an email address`)
  const hasPassword = fields.password !== undefined
  if (hasPassword === (fields.password_hash !== undefined)) throw new ConfigError(labels.both)
  if (fields.password !== undefined) {
    const bytes = new TextEncoder().encode(fields.password).length
    if (bytes < 8 || bytes > 72) throw new ConfigError(`${labels.password} must be 8 to 72 bytes`)
  }
  const passwordHash = fields.password_hash?.trim()
  if (passwordHash !== undefined && !BCRYPT_HASH.test(passwordHash)) {
    throw new ConfigError(`${labels.password_hash} must be a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)`)
  }
  const name = fields.name?.trim() || null
  if (name !== null && name.length > MAX_NAME_LENGTH) throw new ConfigError(`${labels.name} must be at most ${MAX_NAME_LENGTH} characters`)
  const role = fields.role === undefined ? 'user' : ROLES.find((r) => r === fields.role)
  if (role === undefined) throw new ConfigError(`${labels.role} must be "admin" or "user" (got ${shown(fields.role ?? '')})`)
  return {
    email,
    ...(fields.password !== undefined ? { password: fields.password } : { passwordHash: passwordHash! }),
    name,
    role,
    source,
  }
}

function seedAdmin(env: Env, readFile: ReadFile): SeedAccount | undefined {
  const email = get(env, 'SEED_ADMIN_EMAIL')
  const password = secret(env, readFile, 'SEED_ADMIN_PASSWORD')
  const hash = get(env, 'SEED_ADMIN_PASSWORD_HASH')
  const name = get(env, 'SEED_ADMIN_NAME')
  if (email === undefined) {
    const orphan = password?.from ?? (hash !== undefined ? 'SEED_ADMIN_PASSWORD_HASH' : name !== undefined ? 'SEED_ADMIN_NAME' : undefined)
    if (orphan) throw new ConfigError(`${orphan} is set but SEED_ADMIN_EMAIL is not`)
    return undefined
  }
  const passwordLabel = password?.from ?? 'SEED_ADMIN_PASSWORD'
  if (password === undefined && hash === undefined) {
    throw new ConfigError('SEED_ADMIN_EMAIL is set but neither SEED_ADMIN_PASSWORD nor SEED_ADMIN_PASSWORD_HASH is')
  }
  const labels: FieldLabels = {
    email: 'SEED_ADMIN_EMAIL',
    password: passwordLabel,
    password_hash: 'SEED_ADMIN_PASSWORD_HASH',
    name: 'SEED_ADMIN_NAME',
    role: 'SEED_ADMIN_EMAIL', // never used: the seeded admin's role is always admin
    both: `set only one of ${passwordLabel} and SEED_ADMIN_PASSWORD_HASH`,
  }
  return seedAccount(
    { email, ...(password ? { password: password.value } : {}), ...(hash !== undefined ? { password_hash: hash } : {}), name: name ?? null, role: 'admin' },
    labels,
    'SEED_ADMIN_EMAIL',
  )
}

function seedIssueMessage(issue: z.core.$ZodIssue, where: string, raw: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    return `${where} has unknown key ${issue.keys.map((k) => shown(k)).join(', ')}; allowed: ${SEED_USER_KEYS.join(', ')}`
  }
  const key = issue.path[0]
  if (key === undefined) return `${where} must be an object`
  const field = `${where}.${String(key)}`
  if ((raw as Record<string, unknown>)[String(key)] === undefined) return `${field} is required`
  return key === 'name' ? `${field} must be a string or null` : `${field} must be a string`
}

function seedList(variable: string, json: string): SeedAccount[] {
  let data: unknown
  try {
    data = JSON.parse(json)
  } catch {
    // The parser's message can quote the input, which may hold a password: never pass it on.
    throw new ConfigError(`${variable} must be ${SEED_USERS_SHAPE} (it is not valid JSON)`)
  }
  if (!Array.isArray(data)) throw new ConfigError(`${variable} must be ${SEED_USERS_SHAPE}`)
  return data.map((item: unknown, i) => {
    const where = `${variable}[${i}]`
    const parsed = seedUserSchema.safeParse(item)
    if (!parsed.success) {
      const unknownKeys = parsed.error.issues.find((issue) => issue.code === 'unrecognized_keys')
      throw new ConfigError(seedIssueMessage(unknownKeys ?? parsed.error.issues[0]!, where, item))
    }
    const labels: FieldLabels = {
      email: `${where}.email`,
      password: `${where}.password`,
      password_hash: `${where}.password_hash`,
      name: `${where}.name`,
      role: `${where}.role`,
      both: `${where} must have exactly one of password and password_hash`,
    }
    return seedAccount(parsed.data, labels, where)
  })
}

export function seedAccounts(env: Env, readFile: ReadFile): SeedAccount[] {
  const accounts: SeedAccount[] = []
  const admin = seedAdmin(env, readFile)
  if (admin) accounts.push(admin)
  const inline = get(env, 'SEED_USERS')
  if (inline !== undefined) accounts.push(...seedList('SEED_USERS', inline))
  const filePath = get(env, 'SEED_USERS_FILE')
  if (filePath !== undefined) accounts.push(...seedList('SEED_USERS_FILE', readNamedFile(readFile, 'SEED_USERS_FILE', filePath)))
  const seen = new Map<string, string>()
  for (const account of accounts) {
    const first = seen.get(account.email)
    if (first !== undefined) throw new ConfigError(`${account.source}.email ${shown(account.email)} is already declared by ${first}`)
    seen.set(account.email, account.source)
  }
  return accounts
}

