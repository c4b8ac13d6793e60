/**
 * How many different peers we redial at one address. Peers tell us their addresses (identify, mDNS), and nothing
 * stops many peer ids from claiming one address, e.g. a third party's: redialling each of them there would point
 * one TCP connection per claimant at that host (200 sybils made 200 connections on a restart). An honest address
 * belongs to one peer (two after it changed identity), so beyond that it is not dialled for further peers within
 * the window.
 */
/** Addresses tracked at most: the budget must not itself become a way to fill memory. */
const MAX_ADDRESSES = 10_000

export class AddressBudget {
  private readonly peersPerAddress: number
  private readonly windowMs: number
  /** Per address: the peers dialled there and when, most recent last. */
  private readonly dialled = new Map<string, Map<string, number>>()

  constructor(options: { peersPerAddress?: number; windowMs?: number } = {}) {
    this.peersPerAddress = options.peersPerAddress ?? 2
    this.windowMs = options.windowMs ?? 10 * 60_000
  }

  /** The addresses `peer` may be dialled at now (recorded as dialled). */
  take(peer: string, addrs: string[], now = Date.now()): string[] {
    this.prune(now)
    return addrs.filter((addr) => {
      let peers = this.dialled.get(addr)
      if (peers == null) {
        peers = new Map()
        this.dialled.set(addr, peers)
      }
      if (!peers.has(peer) && peers.size >= this.peersPerAddress) return false
      peers.delete(peer)
      peers.set(peer, now)
      return true
    })
  }

  /** Forget dials older than the window, and beyond MAX_ADDRESSES the oldest addresses. */
  private prune(now: number): void {
    for (const [addr, peers] of this.dialled) {
      for (const [peer, at] of peers) if (now - at > this.windowMs) peers.delete(peer)
      if (peers.size === 0) this.dialled.delete(addr)
    }
    for (const addr of this.dialled.keys()) {
      if (this.dialled.size <= MAX_ADDRESSES) break
      this.dialled.delete(addr)
    }
  }
}
