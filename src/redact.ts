// Masking of secrets in text: URLs with credentials, known secret values, and connection strings in
// free text. Used by the logger's last line of defence and by every message that mentions a URL.

const MASK = '***'

/**
 * Secrets shorter than this are not searched for in text: masking every "ab" in every log line would
 * wreck the logs and hide nothing worth hiding. Passwords inside URLs are masked whatever their length.
 */
const MIN_SECRET_LENGTH = 4

const SCHEME_SEPARATOR = '://'

/** `password=value` as a URL query parameter or a libpq keyword/value pair; stops before `"` and `\` so a JSON line stays valid. */
const PASSWORD_PARAM = /(\bpassword\s*=\s*)('[^'"\\]*'|[^\s&#"'`<>\\]*)/gi

/**
 * A URL in free text: scheme, then everything up to whitespace or a quote/bracket. Backslash pairs are
 * taken whole, so a JSON-escaped quote (`\"`) inside a password neither ends the URL nor gets split.
 */
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/(?:[^\s"'`<>\\]|\\\S)*/gi

/**
 * Masks the password of the userinfo: everything between the first ':' after '://' and the LAST '@'.
 * Taking the last '@' (as WHATWG URL parsing does for the authority) never leaks a password that holds a
 * raw '@', '/', '?' or '#', at the price of masking a little more in the rare URL with '@' in its query.
 */
function maskUserinfo(url: string): string {
  const start = url.indexOf(SCHEME_SEPARATOR)
  if (start < 0) return url
  const restStart = start + SCHEME_SEPARATOR.length
  const at = url.lastIndexOf('@')
  if (at < restStart) return url
  const colon = url.indexOf(':', restStart)
  if (colon < 0 || colon > at) return url
  return url.slice(0, colon + 1) + MASK + url.slice(at)
}

const maskPasswordParams = (text: string): string => text.replace(PASSWORD_PARAM, `$1${MASK}`)

/** The URL with its password (and any `password=` parameter) replaced by `***`; works on unparsable strings too. */
export function redactUrl(url: string): string {
  return maskPasswordParams(maskUserinfo(url))
}

/** Masks passwords of every `scheme://user:password@host` URL and every `password=...` inside free text. */
export function redactConnectionStrings(text: string): string {
  return maskPasswordParams(text.replace(URL_IN_TEXT, maskUserinfo))
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** How a password looks inside a URL's userinfo (WHATWG encoding), which differs from encodeURIComponent. */
function userinfoEncoded(secret: string): string {
  const u = new URL('postgres://host')
  u.password = secret
  return u.password
}

/** Escaped form that matches percent-escapes in either hex case (%2F and %2f). */
const percentPattern = (form: string): string =>
  escapeRegExp(form).replace(/%([0-9A-F])([0-9A-F])/g, (_m, a: string, b: string) =>
    `%[${a}${a.toLowerCase()}][${b}${b.toLowerCase()}]`)

/**
 * A function that replaces each secret with `***`, in every form it may take in a log line or message:
 * raw, JSON-escaped, and percent-encoded (as encodeURIComponent and as URL userinfo encode it).
 * Build it once and reuse it: the pattern is compiled here.
 */
export function createSecretRedactor(secrets: readonly string[]): (text: string) => string {
  const patterns = new Set<string>()
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue
    const forms = [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), userinfoEncoded(secret)]
    for (const form of forms) patterns.add(form.includes('%') ? percentPattern(form) : escapeRegExp(form))
  }
  if (patterns.size === 0) return (text) => text
  // Longest first, so a secret's encoded form is masked whole rather than a shorter overlapping form first.
  const regex = new RegExp([...patterns].sort((a, b) => b.length - a.length).join('|'), 'g')
  return (text) => text.replace(regex, MASK)
}

/** Replaces each secret (and its encoded forms) in `text` with `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  return createSecretRedactor(secrets)(text)
}
