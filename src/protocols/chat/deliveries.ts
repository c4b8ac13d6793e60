/**
 * What the running node knows of our messages beyond the store: which were written to the wire and wait for their
 * ack (they stay `sent` across resends), and who waits for one to be answered (acked or refused).
 */
export class Deliveries {
  /** Our messages written to the wire at least once and not answered yet, by peer. */
  private readonly onWire = new Map<string, Set<string>>()
  private readonly waiters = new Map<string, Set<() => void>>()

  /** Messages written to the peer's stream. */
  sent(peer: string, ids: string[]): void {
    let set = this.onWire.get(peer)
    if (set == null) {
      set = new Set()
      this.onWire.set(peer, set)
    }
    for (const id of ids) set.add(id)
  }

  /** Whether one of our messages was written and is not answered yet. */
  onTheWire(peer: string, id: string): boolean {
    return this.onWire.get(peer)?.has(id) === true
  }

  /** Our messages are answered (acked or refused): off the wire, their waiters told. */
  settled(peer: string, ids: string[]): void {
    const set = this.onWire.get(peer)
    for (const id of ids) {
      set?.delete(id)
      for (const resolve of this.waiters.get(`${peer}/${id}`) ?? []) resolve()
    }
    if (set?.size === 0) this.onWire.delete(peer)
  }

  /** Resolves true when the message is answered, false when the signal aborts first. */
  async wait(peer: string, id: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const key = `${peer}/${id}`
    const { promise, resolve } = Promise.withResolvers<boolean>()
    const done = () => resolve(true)
    const onAbort = () => resolve(false)
    let set = this.waiters.get(key)
    if (set == null) {
      set = new Set()
      this.waiters.set(key, set)
    }
    set.add(done)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      return await promise
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
      set.delete(done)
      if (set.size === 0) this.waiters.delete(key)
    }
  }
}
