// wrk (Debian's package) as the load generator, in its own process. Results come from a Lua `done`
// hook that prints one JSON line, not from scraping wrk's human-readable report.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface WrkResult {
  requests: number
  durationS: number
  rps: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** responses outside 2xx/3xx */
  non2xx: number
  /** connect, read, write errors and timeouts */
  socketErrors: number
}

export interface WrkRun {
  url: string
  threads: number
  connections: number
  durationS: number
  headers?: Record<string, string>
  /** Lua that sets wrk.method/body/headers or defines request(); the `done` hook is added */
  script?: string
  /** folder for the script file */
  dir: string
}

const DONE_HOOK = `
done = function(summary, latency, requests)
  io.write(string.format(
    "\\nBENCH_JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,\\"max_us\\":%d,\\"status\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"timeout\\":%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
`

/** The one command that installs wrk, for the message when we cannot run it ourselves. */
export const WRK_INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y wrk'

async function run(cmd: string[]): Promise<number> {
  const p = Bun.spawn(cmd, { stdin: 'ignore', stdout: 'inherit', stderr: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  return p.exited
}

/**
 * The path of wrk. Missing: as root with apt-get, installs it (running `apt-get update` first if the
 * plain install fails); otherwise prints the command to run and exits 1.
 */
export async function ensureWrk(): Promise<string> {
  const found = Bun.which('wrk')
  if (found) return found
  const isRoot = process.getuid?.() === 0
  if (isRoot && Bun.which('apt-get')) {
    console.log('wrk is missing: installing it with apt-get (Debian package "wrk")')
    if ((await run(['apt-get', 'install', '-y', 'wrk'])) !== 0) {
      await run(['apt-get', 'update'])
      await run(['apt-get', 'install', '-y', 'wrk'])
    }
    const installed = Bun.which('wrk')
    if (installed) return installed
  }
  console.error(`wrk (the HTTP load generator) is missing. Install it with:\n  ${WRK_INSTALL_HINT}\nthen run \`bun run bench\` again.`)
  process.exit(1)
}

let scriptSeq = 0

export async function runWrk(o: WrkRun): Promise<WrkResult> {
  const scriptPath = join(o.dir, `wrk-${++scriptSeq}.lua`)
  writeFileSync(scriptPath, `${o.script ?? ''}\n${DONE_HOOK}`)
  const args = ['wrk', `-t${o.threads}`, `-c${Math.max(o.connections, o.threads)}`, `-d${o.durationS}s`, '--timeout', '10s', '-s', scriptPath]
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`)
  args.push(o.url)
  const p = Bun.spawn(args, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}):\n${out}\n${err}`)
  const j = JSON.parse(line.slice('BENCH_JSON '.length)) as Record<string, number>
  const durationS = j.duration_us! / 1e6
  return {
    requests: j.requests!,
    durationS,
    rps: j.requests! / durationS,
    p50Ms: j.p50_us! / 1000,
    p99Ms: j.p99_us! / 1000,
    maxMs: j.max_us! / 1000,
    non2xx: j.status!,
    socketErrors: j.connect! + j.read! + j.write! + j.timeout!,
  }
}

/** Lua for a JSON POST with a fixed body. */
export const postJsonScript = (body: unknown): string => `
wrk.method = "POST"
wrk.body = ${luaString(JSON.stringify(body))}
wrk.headers["Content-Type"] = "application/json"
`

/** Lua that cycles through requests (method, path, body?) per connection thread. */
export function mixedScript(requests: { method: string; path: string; body?: unknown }[]): string {
  const entries = requests
    .map((r) => `{ ${luaString(r.method)}, ${luaString(r.path)}, ${r.body === undefined ? 'nil' : luaString(JSON.stringify(r.body))} }`)
    .join(',\n  ')
  return `
local reqs = {
  ${entries}
}
local i = 0
request = function()
  i = i % #reqs + 1
  local r = reqs[i]
  if r[3] then
    -- a table of our own: wrk.format would otherwise write Content-Length into wrk.headers
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end
    h["Content-Type"] = "application/json"
    return wrk.format(r[1], r[2], h, r[3])
  end
  return wrk.format(r[1], r[2])
end
`
}

const luaString = (s: string): string => JSON.stringify(s)
