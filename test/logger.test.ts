import { describe, expect, test } from 'bun:test'
import type { Config } from '../src/config-types.ts'
import { createLogger, prettyLine } from '../src/logger.ts'
import { redactConnectionStrings, redactSecrets, redactUrl } from '../src/redact.ts'

const SECRET = 'S3cr3t-p@ss:w/rd?#%&"x'
const OTHER = 'unlisted-Pa55word'

/** A logger writing into an array; every line must stay parseable JSON unless pretty. */
function capture(config: Partial<Pick<Config, 'logLevel' | 'prettyLogs'>> = {}, secrets: string[] = [SECRET]) {
  const lines: string[] = []
  const logger = createLogger(
    { logLevel: config.logLevel ?? 'trace', prettyLogs: config.prettyLogs ?? false },
    { destination: { write: (line: string) => void lines.push(line) }, secrets },
  )
  return { logger, lines }
}

/** Every form in which a secret could show up in a line. */
function expectNoSecret(lines: string[], secret: string) {
  expect(lines.length).toBeGreaterThan(0)
  const url = new URL('postgres://h')
  url.password = secret
  for (const line of lines) {
    for (const form of [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), url.password]) {
      expect(line).not.toContain(form)
    }
  }
}

const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>)

describe('createLogger: JSON lines', () => {
  test('one JSON line per call, with a level label, ISO time and the message', () => {
    const { logger, lines } = capture()
    logger.info({ request_id: 'r1' }, 'hello')
    expect(lines).toHaveLength(1)
    expect(lines[0]!.endsWith('\n')).toBe(true)
    const [entry] = parsed(lines)
    expect(entry).toMatchObject({ level: 'info', msg: 'hello', request_id: 'r1' })
    expect(String(entry!.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  test('levels are respected', () => {
    const { logger, lines } = capture({ logLevel: 'warn' })
    logger.trace('t')
    logger.debug('d')
    logger.info('i')
    logger.warn('w')
    logger.error('e')
    logger.fatal('f')
    expect(parsed(lines).map((e) => e.level)).toEqual(['warn', 'error', 'fatal'])
  })

  test('silent writes nothing', () => {
    const { logger, lines } = capture({ logLevel: 'silent' })
    logger.fatal('nothing')
    expect(lines).toEqual([])
  })

  test('info is the cut-off for info', () => {
    const { logger, lines } = capture({ logLevel: 'info' })
    logger.debug('hidden')
    logger.info('shown')
    expect(parsed(lines).map((e) => e.msg)).toEqual(['shown'])
  })
})

describe('createLogger: secrets never reach a line', () => {
  test('a password in a URL-valued key is masked, the rest of the URL kept', () => {
    const { logger, lines } = capture({}, [])
    logger.info({ url: `postgres://app:${encodeURIComponent(OTHER)}@db.example:5432/app`, databaseUrl: `postgresql://app:${OTHER}@h/x` }, 'connecting')
    expectNoSecret(lines, OTHER)
    const [entry] = parsed(lines)
    expect(entry!.url).toBe('postgres://app:***@db.example:5432/app')
    expect(entry!.databaseUrl).toBe('postgresql://app:***@h/x')
  })

  test('a request-body-shaped object: every secret field is redacted', () => {
    const { logger, lines } = capture({}, [])
    logger.info({
      password: OTHER,
      body: { email: 'a@example.com', password: OTHER, new_password: OTHER, current_password: OTHER, refresh_token: OTHER },
      access_token: OTHER,
      token: OTHER,
      passwordHash: OTHER,
      password_hash: OTHER,
      jwtSecret: OTHER,
    }, 'request')
    expectNoSecret(lines, OTHER)
    const [entry] = parsed(lines)
    expect(entry!.body).toEqual({
      email: 'a@example.com', password: '[Redacted]', new_password: '[Redacted]', current_password: '[Redacted]', refresh_token: '[Redacted]',
    })
  })

  test('nested two levels deep, headers and arrays', () => {
    const { logger, lines } = capture({}, [])
    logger.info({
      req: { headers: { authorization: `Bearer ${OTHER}`, cookie: `sid=${OTHER}`, 'set-cookie': OTHER, accept: 'application/json' } },
      users: [{ email: 'a@example.com', password: OTHER }],
    }, 'nested')
    expectNoSecret(lines, OTHER)
    const [entry] = parsed(lines) as Array<{ req: { headers: Record<string, string> } }>
    expect(entry!.req.headers.accept).toBe('application/json')
  })

  test('deeper than the redact paths, a listed secret is still masked by the line filter', () => {
    const { logger, lines } = capture()
    logger.info({ a: { b: { c: { password: SECRET, note: `contains ${SECRET}` } } } }, 'deep')
    expectNoSecret(lines, SECRET)
    expect(parsed(lines)).toHaveLength(1)
  })

  test('a listed secret in a free-text message, raw and percent-encoded', () => {
    const { logger, lines } = capture()
    logger.warn(`login with ${SECRET} failed`)
    logger.warn(`encoded ${encodeURIComponent(SECRET)} and lower-case ${encodeURIComponent(SECRET).toLowerCase()}`)
    logger.warn({ detail: `quoted "${SECRET}"` }, 'in a field')
    expectNoSecret(lines, SECRET)
    expect(parsed(lines)[0]!.msg).toBe('login with *** failed')
  })

  test('an unlisted password inside a connection string in free text', () => {
    const { logger, lines } = capture({}, [])
    logger.warn(`primary down: postgres://app:${OTHER}@db:5432/app refused; retry postgresql+asyncpg://x:${OTHER}@h/y`)
    logger.warn(`conninfo host=db password=${OTHER} user=app`)
    expectNoSecret(lines, OTHER)
    expect(parsed(lines)[0]!.msg).toBe('primary down: postgres://app:***@db:5432/app refused; retry postgresql+asyncpg://x:***@h/y')
  })

  test('an error whose message holds the password: neither message nor stack leaks it', () => {
    const { logger, lines } = capture()
    logger.error(new Error(`connect failed: postgres://u:${OTHER}@h/db`))
    logger.error({ err: new Error(`bad password ${SECRET}`) }, 'startup failed')
    expectNoSecret(lines, OTHER)
    expectNoSecret(lines, SECRET)
    const [first, second] = parsed(lines) as Array<{ err: { message: string; stack: string }; msg: string }>
    expect(first!.err.message).toBe('connect failed: postgres://u:***@h/db')
    expect(first!.err.stack).toContain('postgres://u:***@h/db')
    expect(second!.err.message).toBe('bad password ***')
  })

  test('child loggers inherit the redaction', () => {
    const { logger, lines } = capture()
    logger.child({ component: 'db' }).info({ password: SECRET }, `x ${SECRET}`)
    expectNoSecret(lines, SECRET)
    expect(parsed(lines)[0]).toMatchObject({ component: 'db', password: '[Redacted]', msg: 'x ***' })
  })

  test('secrets shorter than 4 characters are not hunted in text', () => {
    const { logger, lines } = capture({}, ['in'])
    logger.info('info line')
    expect(parsed(lines)[0]!.msg).toBe('info line')
  })
})

describe('createLogger: pretty', () => {
  test('a human-readable line: time level msg key=value, secrets masked', () => {
    const { logger, lines } = capture({ prettyLogs: true })
    logger.info({ port: 7860, mode: 'primary', note: 'two words', password: SECRET }, `listening ${SECRET}`)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  listening \*\*\* port=7860 mode=primary note="two words" password=\[Redacted\]\n$/)
    expectNoSecret(lines, SECRET)
  })

  test('levels are respected', () => {
    const { logger, lines } = capture({ prettyLogs: true, logLevel: 'error' })
    logger.warn('no')
    logger.error('yes')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('ERROR yes')
  })

  test('prettyLine leaves a line that is not JSON as it is', () => {
    expect(prettyLine('not json\n')).toBe('not json\n')
  })
})

describe('redactUrl', () => {
  test.each([
    ['postgres://user:pw@host:5432/db?sslmode=require', 'postgres://user:***@host:5432/db?sslmode=require'],
    ['postgresql+asyncpg://user:p%40ss%2F@host/db', 'postgresql+asyncpg://user:***@host/db'],
    ['postgres://:pw@host/db', 'postgres://:***@host/db'],
    ['postgres://user@host/db', 'postgres://user@host/db'],
    ['postgres://host:5432/db', 'postgres://host:5432/db'],
    ['postgres://user:p@ss@host/db', 'postgres://user:***@host/db'],
    ['postgres://user:12/ss#x@host/db', 'postgres://user:***@host/db'],
    ['mysql://root:pw@host/db', 'mysql://root:***@host/db'],
    ['postgres://host/db?password=pw&x=1', 'postgres://host/db?password=***&x=1'],
    ['not a url', 'not a url'],
    ['/api/v1/notes?x=1', '/api/v1/notes?x=1'],
  ])('%s → %s', (input, output) => {
    expect(redactUrl(input)).toBe(output)
  })
})

describe('redactSecrets', () => {
  test('raw, encodeURIComponent, URL userinfo, lower-case hex and JSON-escaped forms', () => {
    const secret = `a b'c"d\\e@f/g!`
    const u = new URL('postgres://h')
    u.password = secret
    const text = [secret, encodeURIComponent(secret), u.password, encodeURIComponent(secret).toLowerCase(), JSON.stringify(secret)].join(' | ')
    expect(redactSecrets(text, [secret])).toBe('*** | *** | *** | *** | "***"')
  })

  test('several secrets, regex characters are literal, short ones ignored', () => {
    expect(redactSecrets('one (a+b)* two [x] three ab', ['(a+b)*', '[x] three', 'ab'])).toBe('one *** two *** ab')
    expect(redactSecrets('nothing here', [])).toBe('nothing here')
  })
})

describe('redactConnectionStrings', () => {
  test('every URL password in free text, other text untouched', () => {
    expect(redactConnectionStrings('a postgres://u:x@h/d, then redis://:y@r:6379 and https://example.com/a@b done'))
      .toBe('a postgres://u:***@h/d, then redis://:***@r:6379 and https://example.com/a@b done')
  })

  test('keeps a JSON line valid', () => {
    const line = JSON.stringify({ msg: 'url postgres://u:pa"ss@h/db', other: 'password=top"secret' })
    const out = redactConnectionStrings(line)
    expect(() => JSON.parse(out)).not.toThrow()
    expect(out).not.toContain('top')
    expect(JSON.parse(out).msg).toBe('url postgres://u:***@h/db')
  })

  test('password=value pairs, quoted or not', () => {
    expect(redactConnectionStrings("host=h password='a b' user=u")).toBe('host=h password=*** user=u')
    expect(redactConnectionStrings('?sslmode=require&password=zz&x=1')).toBe('?sslmode=require&password=***&x=1')
  })
})
