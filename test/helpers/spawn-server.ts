// Runs the real server as a child process (`bun src/index.ts`) and talks to it over HTTP.
// One ServerHarness per test file: it remembers every process and temp folder it made, and
// `cleanup()` (in afterAll) kills the processes by PID and removes the folders.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Subprocess } from 'bun'

export const ENTRY = resolve(import.meta.dir, '../../src/index.ts')

export interface LogLine {
  stream: 'stdout' | 'stderr'
  raw: string
  /** the parsed JSON log record, or null for a plain-text line */
  json: Record<string, unknown> | null
  /** milliseconds since spawn */
  atMs: number
}

export interface SpawnOptions {
  /** added to a minimal environment (PATH, HOME, PORT=0, HOST, LOG_LEVEL, JWT_SECRET, a temp fallback file); undefined removes a key */
  env?: Record<string, string | undefined>
  /** default: a fresh temp folder, so no .env of the repository is loaded and ./data lands there */
  cwd?: string
  uid?: number
  gid?: number
  /** the script bun runs; default: this checkout's src/index.ts (a relative path is taken from `cwd`) */
  entry?: string
}

export interface ServerProcess {
  readonly pid: number
  readonly lines: LogLine[]
  /** the folder the process runs in */
  readonly cwd: string
  /** resolves with the exit code (or 128 + signal number) */
  readonly exited: Promise<number>
  readonly exitCode: number | null
  readonly signalCode: NodeJS.Signals | number | null
  waitForLine(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>
  /** waits for the `listening` log line; fails early if the process exits first */
  waitForListen(timeoutMs?: number): Promise<ListeningServer>
  /** sends `signal` and waits for the exit */
  stop(signal?: NodeJS.Signals): Promise<number>
  /** every output line joined, for assertion messages */
  output(): string
}

export interface ListeningServer {
  port: number
  baseUrl: string
  /** ms from spawn to the listen line, as the test saw it */
  bootMs: number
  /** the listen line's own record */
  listenLine: Record<string, unknown>
}

export const isListenLine = (l: LogLine): boolean => l.json?.msg === 'listening' && typeof l.json.port === 'number'

const toJson = (raw: string): Record<string, unknown> | null => {
  if (!raw.startsWith('{')) return null
  try {
    const v: unknown = JSON.parse(raw)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export class ServerHarness {
  private readonly procs = new Set<Subprocess>()
  private readonly dirs = new Set<string>()

  /** a unique folder under the OS temp dir, removed by cleanup() */
  tempDir(prefix = 'boot-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    this.dirs.add(dir)
    return dir
  }

  spawn(opts: SpawnOptions = {}): ServerProcess {
    const cwd = opts.cwd ?? this.tempDir('srv-')
    const base: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      // A fixed secret keeps the "generated JWT secret" warning out of the boot logs under test.
      JWT_SECRET: `test-secret-${crypto.randomUUID()}`,
      FALLBACK_DATABASE_URL: `sqlite:///${join(this.tempDir('fallback-'), 'app.db')}`,
    }
    const merged = { ...base, ...opts.env }
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(merged)) if (v !== undefined) env[k] = v

    const spawnedAt = performance.now()
    const proc = Bun.spawn(['bun', opts.entry ?? ENTRY], {
      cwd,
      env,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    })
    this.procs.add(proc)

    const lines: LogLine[] = []
    const waiters = new Set<() => void>()
    const push = (stream: LogLine['stream'], raw: string) => {
      if (raw.trim() === '') return
      lines.push({ stream, raw, json: toJson(raw), atMs: performance.now() - spawnedAt })
      for (const w of [...waiters]) w()
    }
    const pumps = [readLines(proc.stdout, (l) => push('stdout', l)), readLines(proc.stderr, (l) => push('stderr', l))]
    // Output is complete only once both pipes are drained, so `exited` waits for them.
    let hasExited = false
    const exited = proc.exited.then(async (code) => {
      await Promise.allSettled(pumps)
      // Set before waking the waiters, so a wait for a line that never came ends now, not at its timeout.
      hasExited = true
      for (const w of [...waiters]) w()
      return code
    })

    const output = () => lines.map((l) => `[${l.stream}] ${l.raw}`).join('\n')

    const waitForLine = (pred: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> =>
      new Promise((resolveLine, reject) => {
        const check = () => {
          const hit = lines.find(pred)
          if (hit) {
            done()
            resolveLine(hit)
          } else if (hasExited) {
            done()
            reject(new Error(`server exited (code ${proc.exitCode}, signal ${proc.signalCode}) before the awaited line:\n${output()}`))
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`no awaited line within ${timeoutMs} ms:\n${output()}`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })

    return {
      pid: proc.pid,
      lines,
      cwd,
      exited,
      get exitCode() {
        return proc.exitCode
      },
      get signalCode() {
        return proc.signalCode
      },
      waitForLine,
      async waitForListen(timeoutMs = 15_000) {
        const line = await waitForLine(isListenLine, timeoutMs)
        const port = line.json!.port as number
        return { port, baseUrl: `http://127.0.0.1:${port}`, bootMs: line.atMs, listenLine: line.json! }
      },
      async stop(signal = 'SIGTERM') {
        if (!hasExited) proc.kill(signal)
        return exited
      },
      output,
    }
  }

  /** kills every process still running (by PID) and removes every temp folder */
  async cleanup(): Promise<void> {
    await Promise.all(
      [...this.procs].map(async (p) => {
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
        await p.exited
      }),
    )
    this.procs.clear()
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true })
    this.dirs.clear()
  }
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder()
  let buf = ''
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl))
      buf = buf.slice(nl + 1)
    }
  }
  buf += decoder.decode()
  if (buf) onLine(buf)
}

/** GET a JSON endpoint: status, headers and the parsed body */
export async function getJson(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, init)
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: the raw text is what the assertion will show
  }
  return { status: res.status, headers: res.headers, body }
}
