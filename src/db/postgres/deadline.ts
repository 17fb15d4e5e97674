// Our own client deadline. postgres.js can wait forever on a half-open or FIN-on-connect socket
// (porsager/postgres#1089, #1193), so every call races a timer that does not depend on the driver.
import { StoreError } from '../store.ts'

export const deadlineError = (ms: number): StoreError =>
  new StoreError('unavailable', `PostgreSQL did not answer within ${ms} ms`)

/** A pending postgres.js query can be cancelled; a plain promise cannot. */
export type Deadlined<T> = PromiseLike<T> & { canceller?: unknown }

/**
 * Asks the server to cancel a running postgres.js query. Not `query.cancel()`: it drops the promise
 * of the separate cancel connection, and when that connection is refused (the server is down, the
 * very case a deadline is for) Bun exits on the unhandled rejection (seen with postgres 3.4.9).
 * Calling the query's canceller ourselves lets us keep and silence that promise.
 */
function cancelQuietly(work: Deadlined<unknown>): void {
  const canceller = work.canceller
  if (typeof canceller !== 'function') return
  work.canceller = null
  try {
    Promise.resolve(canceller(work)).catch(() => {})
  } catch {
    // the query already finished: nothing to cancel
  }
}

/**
 * A deadline that can be paused while the caller's own code runs (the body of a transaction) and
 * resumed for the driver's part (BEGIN, COMMIT). On expiry `onExpire` runs once and `race` rejects.
 */
export class Deadline {
  #timer: ReturnType<typeof setTimeout> | null = null
  #expired = false
  #reject: ((e: unknown) => void) | null = null

  constructor(
    readonly ms: number,
    private readonly onExpire: () => void = () => {},
  ) {
    this.resume()
  }

  race<T>(work: PromiseLike<T>): Promise<T> {
    const timeout = new Promise<never>((_, reject) => {
      this.#reject = reject
      if (this.#expired) reject(deadlineError(this.ms))
    })
    return Promise.race([Promise.resolve(work), timeout]).finally(() => this.pause())
  }

  pause(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  resume(): void {
    if (this.#expired || this.#timer) return
    this.#timer = setTimeout(() => this.#expire(), this.ms)
  }

  #expire(): void {
    this.#timer = null
    this.#expired = true
    try {
      this.onExpire()
    } finally {
      this.#reject?.(deadlineError(this.ms))
    }
  }
}

/**
 * Resolves like `work`, or rejects with StoreError('unavailable') after `ms`. On expiry the query is
 * cancelled when it can be (best effort: a hung server may not hear it) and `onExpire` runs, e.g. to
 * discard a pool whose socket may be wedged.
 */
export function withDeadline<T>(work: Deadlined<T>, ms: number, onExpire?: () => void): Promise<T> {
  // Every query goes through here: one promise and one timer, not a Deadline and a race.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cancelQuietly(work)
      try {
        onExpire?.()
      } finally {
        reject(deadlineError(ms))
      }
    }, ms)
    work.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
