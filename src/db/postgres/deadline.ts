// Our own client deadline. postgres.js can wait forever on a half-open or FIN-on-connect socket
// (porsager/postgres#1089, #1193), so every call races a timer that does not depend on the driver.
import { StoreError } from '../store.ts'

/**
 * A timer that fires later than asked by more than this was held up by the event loop itself (a long
 * synchronous task: serialising a huge page, a search), not by PostgreSQL.
 */
const LOOP_LAG_TOLERANCE_MS = 20
/** how many times one deadline may be extended for the loop's own delay */
const MAX_EXTENSIONS = 5

/**
 * setTimeout(onExpire, ms), except that time the event loop spent blocked does not count: when the
 * timer fires late, the delay the loop itself caused is measured (how late it fired) and given back
 * once more, so an answer that arrived meanwhile and waits in the socket is read before we give up.
 * A deadline missed because this process was busy is no evidence against PostgreSQL, and must not
 * fail over. Returns a function that cancels the timer.
 */
export function loopAwareTimeout(ms: number, onExpire: () => void): () => void {
  let timer: ReturnType<typeof setTimeout>
  let extensions = 0
  const arm = (wait: number) => {
    const due = performance.now() + wait
    timer = setTimeout(() => {
      const lag = performance.now() - due
      if (lag > LOOP_LAG_TOLERANCE_MS && extensions < MAX_EXTENSIONS) {
        extensions++
        arm(lag)
      } else onExpire()
    }, wait)
  }
  arm(ms)
  return () => clearTimeout(timer)
}

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
  #cancel: (() => void) | null = null
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
    this.#cancel?.()
    this.#cancel = null
  }

  resume(): void {
    if (this.#expired || this.#cancel) return
    this.#cancel = loopAwareTimeout(this.ms, () => this.#expire())
  }

  #expire(): void {
    this.#cancel = null
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
    const cancel = loopAwareTimeout(ms, () => {
      cancelQuietly(work)
      try {
        onExpire?.()
      } finally {
        reject(deadlineError(ms))
      }
    })
    work.then(
      (value) => {
        cancel()
        resolve(value)
      },
      (error: unknown) => {
        cancel()
        reject(error)
      },
    )
  })
}
