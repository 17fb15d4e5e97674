// What Linux's /proc says about a process: the TCP ports it listens on, and its resident memory.
// The port comes from here rather than from the server's 'listening' log line, because that line is
// logged at info and the throughput runs use LOG_LEVEL=warn.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)
  return m ? Number(m[1]) * 1024 : null
}

/** Resident set size in bytes (VmRSS of /proc/<pid>/status), or null when the process is gone. */
export const rssBytes = (pid: number): number | null => statusKb(pid, 'VmRSS')

/** The highest resident set size the process has had (VmHWM), in bytes. */
export const peakRssBytes = (pid: number): number | null => statusKb(pid, 'VmHWM')

/** CPU time (user + system) the process has used so far, in ms; null when it is gone. */
export function cpuMs(pid: number): number | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // fields after the command name (which may contain spaces) start after the last ')'
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(f[11]) + Number(f[12])
  return (ticks * 1000) / CLOCK_TICKS
}

/** USER_HZ: 100 on every Linux architecture Bun runs on. */
const CLOCK_TICKS = 100

/** The socket inodes among the process's open file descriptors. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>()
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return inodes
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m) inodes.add(m[1]!)
    } catch {
      // closed between readdir and readlink
    }
  }
  return inodes
}

const LISTEN = '0A'

/** TCP ports the process listens on (IPv4 and IPv6). */
export function listeningPorts(pid: number): number[] {
  const inodes = socketInodes(pid)
  if (inodes.size === 0) return []
  const ports: number[] = []
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== LISTEN || !inodes.has(f[9]!)) continue
      ports.push(parseInt(f[1]!.split(':')[1]!, 16))
    }
  }
  return ports
}
