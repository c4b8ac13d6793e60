import { MAX_HELLO_STRIKES, MAX_TRACKED_PEERS } from './constants.ts'

/** How an outbound chat session ended, as far as retrying goes. */
export type SessionEnd =
  /** Ended cleanly (idle, or closed by us). */
  | { kind: 'done' }
  /** Its connection closed: reconnecting is the redialer's business, not ours. */
  | { kind: 'gone'; reason: string; closed?: boolean }
  /** Failed while the peer stayed connected: retried with back-off. */
  | { kind: 'failed'; reason: string; greeted: boolean }
  /** The peer proved not to be a p2pnode node: never retried (until it greets us, or the user asks). */
  | { kind: 'foreign'; reason: string }

export interface RetryTimings {
  /** First wait after a failure, ms; doubled on each further failure. */
  retryDelay: number
  /** Longest wait, ms. */
  maxRetryDelay: number
}

interface PeerRetry {
  failures: number
  /** Streams in a row the peer accepted but did not greet on. */
  strikes: number
  timer?: NodeJS.Timeout
}

/** What to do after a session ended. */
export type RetryDecision = { retryIn: number; reason: string } | { foreign: string } | undefined

/**
 * Per-peer back-off for reopening chat streams: exponential from `retryDelay`, capped at `maxRetryDelay`, reset by
 * progress (an ack); a peer that accepts `/chat/1.0` but does not greet MAX_HELLO_STRIKES times in a row is judged
 * not to be p2pnode (several go-libp2p chat programs register that id).
 */
export class Retries {
  private readonly timings: RetryTimings
  private readonly peers = new Map<string, PeerRetry>()

  constructor(timings: RetryTimings) {
    this.timings = timings
  }

  /** A retry is scheduled: opening a stream now would defeat the back-off. */
  waiting(peer: string): boolean {
    return this.peers.get(peer)?.timer != null
  }

  /** The peer greeted us: its strikes are forgiven. */
  greeted(peer: string): void {
    const r = this.peers.get(peer)
    if (r != null) r.strikes = 0
  }

  /** Messages got through: start over. */
  progressed(peer: string): void {
    const r = this.peers.get(peer)
    if (r != null && r.timer == null) this.peers.delete(peer)
    else if (r != null) r.failures = 0
  }

  /** Decide what follows the end of a session. */
  ended(peer: string, end: SessionEnd): RetryDecision {
    if (end.kind === 'foreign') {
      this.forget(peer)
      return { foreign: end.reason }
    }
    if (end.kind !== 'failed') return undefined
    const r = this.state(peer)
    r.failures++
    if (!end.greeted && ++r.strikes >= MAX_HELLO_STRIKES) {
      this.forget(peer)
      return { foreign: `it accepted ${MAX_HELLO_STRIKES} chat streams in a row but never greeted (${end.reason})` }
    }
    const { retryDelay, maxRetryDelay } = this.timings
    return { retryIn: Math.min(maxRetryDelay, retryDelay * 2 ** (r.failures - 1)), reason: end.reason }
  }

  /** Run `fn` after `ms` unless a retry is already scheduled. */
  schedule(peer: string, ms: number, fn: () => void): void {
    const r = this.state(peer)
    if (r.timer != null) return
    r.timer = setTimeout(() => {
      r.timer = undefined
      fn()
    }, ms)
    r.timer.unref()
  }

  /** The peer's state, created if new; the oldest idle states beyond MAX_TRACKED_PEERS are dropped. */
  private state(peer: string): PeerRetry {
    let r = this.peers.get(peer)
    if (r != null) return r
    r = { failures: 0, strikes: 0 }
    this.peers.set(peer, r)
    if (this.peers.size > MAX_TRACKED_PEERS) {
      for (const [old, s] of this.peers) {
        if (this.peers.size <= MAX_TRACKED_PEERS) break
        if (s.timer == null && old !== peer) this.peers.delete(old)
      }
    }
    return r
  }

  /** How many peers have state (for tests). */
  get size(): number {
    return this.peers.size
  }

  /** Drop the peer's state and any scheduled retry. */
  forget(peer: string): void {
    clearTimeout(this.peers.get(peer)?.timer)
    this.peers.delete(peer)
  }

  stop(): void {
    for (const peer of [...this.peers.keys()]) this.forget(peer)
  }
}
