// Lets writes run concurrently, and lets one holder pause them all: the final flip from the
// fallback back to the primary must see no write in flight, or a write could land in SQLite after
// the last outbox entry was replayed and never reach PostgreSQL.
export class WriteGate {
  private active = 0
  private paused: { promise: Promise<void>; resolve: () => void } | null = null
  private drained: (() => void) | null = null

  async enter(): Promise<void> {
    while (this.paused) await this.paused.promise
    this.active++
  }

  leave(): void {
    this.active--
    if (this.active === 0 && this.drained) this.drained()
  }

  /** Blocks new writes and resolves once the writes already in flight have finished. */
  async pause(): Promise<void> {
    while (this.paused) await this.paused.promise
    const { promise, resolve } = Promise.withResolvers<void>()
    this.paused = { promise, resolve }
    if (this.active > 0) {
      await new Promise<void>((done) => (this.drained = done))
      this.drained = null
    }
  }

  resume(): void {
    const p = this.paused
    this.paused = null
    p?.resolve()
  }
}
