import type { Libp2p, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { ChatProtocol } from '../protocols/chat/index.ts'
import { errorText } from '../protocols/util.ts'
import type { Store } from '../store/index.ts'
import { AddressBudget } from './address-budget.ts'
import { parseMultiaddr, withoutPeerId } from './peer-ref.ts'
import type { Policy } from './policy.ts'

const DIAL_TIMEOUT_MS = 10_000
/** Longest wait between tries for an unreachable peer. */
const MAX_BACKOFF_MS = 30_000
/** Back-off entries kept at most (mDNS may show ever new peer ids); past ones are dropped first. */
const MAX_BACKOFF_ENTRIES = 4096

export interface RedialerComponents {
  libp2p: Pick<Libp2p, 'dial' | 'peerId' | 'peerStore'>
  store: Pick<Store, 'peers' | 'peersWithOutbox'>
  chat: Pick<ChatProtocol, 'isConnected' | 'flush' | 'notP2pnode'>
  policy: Pick<Policy, 'allows'>
  log: Logger
}

/**
 * Keeps us connected to the peers that matter: dials a peer when it is seen or known, at its last known
 * addresses, with exponential back-off; and every `interval` retries peers that have messages waiting for them.
 * A dial counts as a failure until the peer greets us (`connected`): a peer that accepts the connection and then
 * drops it (it blocked us, or is hidden) backs off like an unreachable one. Peers that proved not to be p2pnode
 * nodes are not dialled (unless forced).
 */
export class Redialer {
  private readonly c: RedialerComponents
  private readonly dialing = new Set<string>()
  private readonly backoff = new Map<string, { failures: number; until: number }>()
  private readonly budget = new AddressBudget()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(components: RedialerComponents) {
    this.c = components
  }

  start(interval: number): void {
    this.timer = setInterval(() => void this.redialWaiting(), interval)
    this.timer.unref()
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
  }

  /** A peer greeted us on a connection: forget its failures. */
  connected(peerId: string): void {
    this.backoff.delete(peerId)
  }

  /**
   * Dial a peer unless connected, already dialling, not allowed by the policy, or backing off after failures
   * (`force` ignores the back-off: the user asked, or the peer was just unblocked).
   */
  async redial(peerId: string, options: { force?: boolean } = {}): Promise<void> {
    const { libp2p, chat, policy, store, log } = this.c
    if (this.stopped || peerId === libp2p.peerId.toString()) return
    if (chat.isConnected(peerId) || this.dialing.has(peerId) || !policy.allows(peerId)) return
    if (chat.notP2pnode(peerId) != null && options.force !== true) return
    const b = this.backoff.get(peerId)
    if (b != null && Date.now() < b.until && options.force !== true) return
    this.dialing.add(peerId)
    // Counted as failed until the peer greets us (connected() forgets it): see the class comment.
    const failures = (b?.failures ?? 0) + 1
    this.backoff.delete(peerId)
    this.backoff.set(peerId, { failures, until: Date.now() + Math.min(MAX_BACKOFF_MS, 500 * 2 ** failures) })
    if (this.backoff.size > MAX_BACKOFF_ENTRIES) this.pruneBackoff()
    try {
      const record = await store.peers.get(peerId).catch(() => undefined)
      const id = peerIdFromString(peerId)
      const known = new Set(record?.addrs ?? [])
      const recorded = [...known].flatMap((a) => {
        try {
          return [parseMultiaddr(a)]
        } catch {
          return []
        }
      })
      if (recorded.length > 0) await libp2p.peerStore.merge(id, { multiaddrs: recorded })
      const stored = await libp2p.peerStore.get(id).catch(() => undefined)
      for (const a of stored?.addresses ?? []) known.add(withoutPeerId(a.multiaddr).toString())
      // Each address at most for a few peers per window (see AddressBudget); the user's own request is not limited.
      const addrs = options.force === true ? [...known] : this.budget.take(peerId, [...known])
      const multiaddrs = addrs.flatMap((a) => {
        try {
          return [parseMultiaddr(a).encapsulate(`/p2p/${peerId}`)]
        } catch {
          return []
        }
      })
      if (multiaddrs.length === 0) {
        log('redial %s skipped: %s', peerId, known.size === 0 ? 'no known address' : 'its addresses are claimed by other peers')
        return
      }
      await libp2p.dial(multiaddrs, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
    } catch (err) {
      log('redial %s failed (%d): %s', peerId, failures, dialErrorText(err))
    } finally {
      this.dialing.delete(peerId)
    }
  }

  /** Drop back-offs that have run out, then the oldest, down to MAX_BACKOFF_ENTRIES. */
  private pruneBackoff(): void {
    const now = Date.now()
    for (const [peer, b] of this.backoff) if (b.until < now) this.backoff.delete(peer)
    for (const peer of this.backoff.keys()) {
      if (this.backoff.size <= MAX_BACKOFF_ENTRIES) break
      this.backoff.delete(peer)
    }
  }

  /** Send what waits to connected peers, and dial the others. */
  async redialWaiting(): Promise<void> {
    try {
      for (const peerId of await this.c.store.peersWithOutbox()) {
        if (this.c.chat.notP2pnode(peerId) != null) continue
        if (this.c.chat.isConnected(peerId)) this.c.chat.flush(peerId)
        else void this.redial(peerId)
      }
    } catch (err) {
      this.c.log.error('reconnect pass failed: %s', (err as Error).message)
    }
  }
}

/** A dial error as one readable line: libp2p's "All multiaddr dials failed" with each address's reason. */
function dialErrorText(err: unknown): string {
  if (err instanceof AggregateError) {
    return `${err.message}: ${err.errors.map((e: unknown) => errorText(e)).join('; ')}`
  }
  return errorText(err)
}
