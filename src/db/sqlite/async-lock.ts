// A first-come, first-served lock for async work. The SQLite store has one connection: while an
// async transaction is open on it, everything else must wait, or it would run inside that transaction.
export class AsyncLock {
  private held = false
  private readonly waiters: Array<() => void> = []

  get busy(): boolean {
    return this.held
  }

  async run<T>(fn: () => T | Promise<T>): Promise<T> {
    // Ownership passes straight to the next waiter on release, so nobody can cut the queue.
    if (this.held) await new Promise<void>((resolve) => this.waiters.push(resolve))
    else this.held = true
    try {
      return await fn()
    } finally {
      const next = this.waiters.shift()
      if (next) next()
      else this.held = false
    }
  }
}
