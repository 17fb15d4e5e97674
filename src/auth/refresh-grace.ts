// The refresh grace window: a client that sends the same refresh token twice at once (a retry, two
// tabs) gets the same new pair twice, instead of the loser's reuse detection ending the winner's
// session too. Per process and bounded: losing an entry only loses the grace, never a revocation.

/** How many rotations one process remembers (a few MB at most). */
const MAX_ENTRIES = 10_000

interface Entry<T> {
  answer: Promise<T>
  /** ms since the epoch; Infinity while the rotation is still running */
  until: number
}

export class RefreshGrace<T> {
  private readonly entries = new Map<string, Entry<T>>()

  constructor(
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The answer for `tokenHash`: the one a rotation of the same token started within the grace window
   * gave (or is about to give), else `rotate()`'s, which is then kept for the window. A failed
   * rotation is not kept: the next attempt runs anew.
   */
  answer(tokenHash: string, rotate: () => Promise<T>): Promise<T> {
    if (this.graceMs <= 0) return rotate()
    const known = this.entries.get(tokenHash)
    if (known && known.until > this.now()) return known.answer
    const entry: Entry<T> = { answer: rotate(), until: Infinity }
    this.remember(tokenHash, entry)
    entry.answer.then(
      () => (entry.until = this.now() + this.graceMs),
      () => {
        if (this.entries.get(tokenHash) === entry) this.entries.delete(tokenHash)
      },
    )
    return entry.answer
  }

  get size(): number {
    return this.entries.size
  }

  private remember(tokenHash: string, entry: Entry<T>): void {
    this.entries.delete(tokenHash)
    if (this.entries.size >= MAX_ENTRIES) {
      const now = this.now()
      for (const [key, e] of this.entries) if (e.until <= now) this.entries.delete(key)
      // Still full of fresh rotations: drop the oldest (Map keeps insertion order).
      for (const key of this.entries.keys()) {
        if (this.entries.size < MAX_ENTRIES) break
        this.entries.delete(key)
      }
    }
    this.entries.set(tokenHash, entry)
  }
}
