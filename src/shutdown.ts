// Graceful shutdown on SIGTERM/SIGINT: stop accepting, let in-flight requests finish (bounded),
// then close the databases (PostgreSQL pool; SQLite checkpointed and closed) and exit.
// Docker and Hugging Face send SIGKILL about 10 s after SIGTERM, so both waits are bounded to fit.
import type { Logger } from 'pino'

export interface ShutdownOptions {
  server: { stop(closeActiveConnections?: boolean): Promise<void> }
  db: { close(): Promise<void> }
  logger: Logger
  /** how long in-flight requests may take to finish */
  drainMs: number
  /** how long closing the databases may take */
  closeMs: number
  exit: (code: number) => void
}

/** true when `p` resolved within `ms`; false on timeout; rejections propagate */
const within = async (p: Promise<unknown>, ms: number): Promise<boolean> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))])
  } finally {
    clearTimeout(timer)
  }
}

export function gracefulShutdown(opts: ShutdownOptions): (signal: string) => Promise<void> {
  const { logger } = opts
  let running: Promise<void> | null = null

  const run = async (signal: string): Promise<void> => {
    const start = performance.now()
    logger.info({ signal, drain_ms: opts.drainMs }, 'shutting down: no new connections, waiting for in-flight requests')
    let code = 0
    try {
      if (!(await within(opts.server.stop(false), opts.drainMs))) {
        logger.warn({ drain_ms: opts.drainMs }, 'in-flight requests did not finish in time; closing their connections')
        await within(opts.server.stop(true), 1_000)
      }
    } catch (e) {
      logger.error({ reason: e instanceof Error ? e.message : String(e) }, 'stopping the HTTP server failed')
    }
    try {
      if (!(await within(opts.db.close(), opts.closeMs))) {
        logger.error({ close_ms: opts.closeMs }, 'closing the databases did not finish in time')
        code = 1
      }
    } catch (e) {
      logger.error({ reason: e instanceof Error ? e.message : String(e) }, 'closing the databases failed')
      code = 1
    }
    logger.info({ ms: Math.round(performance.now() - start), exit_code: code }, 'stopped')
    await within(new Promise<void>((r) => logger.flush(() => r())), 500).catch(() => false)
    opts.exit(code)
  }

  return (signal: string) => {
    if (running) {
      // A second Ctrl-C means "now": the operator has seen the first one hang.
      logger.warn({ signal }, 'second signal during shutdown: exiting at once')
      opts.exit(1)
      return running
    }
    running = run(signal)
    return running
  }
}

export function onTerminationSignals(shutdown: (signal: string) => Promise<void>): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void shutdown(signal))
}
