// The primary calls in flight, oldest first. On failover they are abandoned, so that no request
// waits for a dead socket; the monitor's watch looks at how long the oldest has waited.
import type { StoreError } from '../store.ts'

export class InFlightCalls {
  /** each call's rejecter and when it started (performance.now()); a Map keeps insertion order */
  private readonly calls = new Map<(err: StoreError) => void, number>()

  get size(): number {
    return this.calls.size
  }

  /** settles as `call` does, unless abandon() rejects it first */
  track<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.calls.set(reject, performance.now())
      call.then(
        (value) => {
          this.calls.delete(reject)
          resolve(value)
        },
        (error: unknown) => {
          this.calls.delete(reject)
          reject(error)
        },
      )
    })
  }

  /** how long the oldest call has waited, in ms; 0 when none is in flight */
  oldestWait(): number {
    for (const startedAt of this.calls.values()) return performance.now() - startedAt
    return 0
  }

  abandon(error: StoreError): void {
    for (const reject of this.calls.keys()) reject(error)
    this.calls.clear()
  }
}
