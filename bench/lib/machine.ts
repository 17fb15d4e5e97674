// The machine a run happened on, as RESULTS.md states it.
import { readFileSync } from 'node:fs'
import { availableParallelism, release, totalmem } from 'node:os'
import type { Machine } from './report.ts'

const cpuModel = (): string => {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown CPU'
  } catch {
    return 'unknown CPU'
  }
}

async function wrkVersion(): Promise<string> {
  const p = Bun.spawn(['wrk', '--version'], { stdout: 'pipe', stderr: 'pipe' })
  const out = (await new Response(p.stdout).text()) + (await new Response(p.stderr).text())
  await p.exited
  return out.split('\n')[0]?.replace(/\s+Copyright.*$/, '').trim() || 'wrk'
}

export async function describeMachine(postgres: string | null): Promise<Machine> {
  return {
    cpus: availableParallelism(),
    model: cpuModel(),
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: release(),
    bun: Bun.version,
    postgres,
    wrk: await wrkVersion(),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  }
}
