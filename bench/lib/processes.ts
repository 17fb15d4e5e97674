// Every process and temp folder a bench run makes, so that one cleanup() (in a finally, and on
// Ctrl-C) ends each process by its PID and removes each folder. Output goes to files, not pipes:
// a bench process that parsed every log line of a loaded server would steal its CPU.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'

export interface Spawned {
  readonly name: string
  readonly pid: number
  readonly proc: Subprocess
  /** stdout and stderr, as files */
  readonly stdoutPath: string
  readonly stderrPath: string
  readonly spawnedAt: number
  /** stdout + stderr so far */
  output(): string
  /** the JSON lines printed so far (log records) */
  records(): Record<string, unknown>[]
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone */
  stop(graceMs?: number): Promise<void>
}

const readText = (path: string): string => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

export class Processes {
  private readonly live = new Set<Subprocess>()
  private readonly dirs = new Set<string>()

  /** a unique folder under the OS temp dir, removed by cleanup() */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), `bench-${prefix}-`))
    this.dirs.add(dir)
    return dir
  }

  spawn(name: string, cmd: string[], opts: { env: Record<string, string | undefined>; cwd?: string }): Spawned {
    const dir = this.tempDir(name)
    const stdoutPath = join(dir, 'stdout.log')
    const stderrPath = join(dir, 'stderr.log')
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v
    const spawnedAt = performance.now()
    const proc = Bun.spawn(cmd, {
      cwd: opts.cwd ?? dir,
      env,
      stdin: 'ignore',
      stdout: Bun.file(stdoutPath),
      stderr: Bun.file(stderrPath),
    })
    this.live.add(proc)
    void proc.exited.then(() => this.live.delete(proc))
    const output = () => `${readText(stdoutPath)}${readText(stderrPath)}`
    return {
      name,
      pid: proc.pid,
      proc,
      stdoutPath,
      stderrPath,
      spawnedAt,
      output,
      records: () =>
        readText(stdoutPath)
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .flatMap((l) => {
            try {
              return [JSON.parse(l) as Record<string, unknown>]
            } catch {
              return []
            }
          }),
      stop: (graceMs = 5_000) => stopProcess(proc, graceMs),
    }
  }

  /** ends every process still running (by PID), then removes every temp folder */
  async cleanup(): Promise<void> {
    await Promise.all([...this.live].map((p) => stopProcess(p, 2_000)))
    this.live.clear()
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true })
    this.dirs.clear()
  }
}

async function stopProcess(proc: Subprocess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
  try {
    await proc.exited
  } finally {
    clearTimeout(timer)
  }
}
