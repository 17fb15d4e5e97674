// How the failover layer reports an error in logs and in its status: the first line, bounded.
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.split('\n')[0]!.slice(0, 300)
}
