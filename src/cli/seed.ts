// `bun run db seed`: apply the seed accounts to the active store without starting the server.
// The caller (src/cli.ts) opens, migrates and closes the store; a ConfigError from here means
// invalid seed configuration and should end the command with its one-line message.
import type { Logger } from 'pino'
import type { Config } from '../config-types.ts'
import type { Store } from '../db/store.ts'
import { seedAccounts, type SeedResult } from '../seed.ts'

export async function runSeedCommand(deps: {
  store: Store
  config: Config
  logger: Logger
  /** one line of output for the operator (default: stdout) */
  print?: (line: string) => void
}): Promise<SeedResult> {
  const print = deps.print ?? ((line: string) => console.log(line))
  const result = await seedAccounts(deps)
  if (deps.config.seed.accounts.length === 0) {
    print('no seed accounts configured (SEED_ADMIN_EMAIL, SEED_USERS, SEED_USERS_FILE)')
    return result
  }
  for (const email of result.created) print(`created  ${email}`)
  for (const email of result.reset) print(`reset    ${email}`)
  for (const email of result.kept) print(`kept     ${email}`)
  print(`seeded ${deps.store.kind}: ${result.created.length} created, ${result.reset.length} reset, ${result.kept.length} kept`)
  return result
}
