/**
 * `p2pnode start --relay-service`: a node with a public address relays for others (circuit relay v2) and answers
 * STUN, with limits suited to chat. libp2p's defaults (128 KiB and 2 minutes per relayed connection) end a chat
 * within minutes; these let a conversation and small files through while keeping what one peer can cost bounded.
 */
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { lazyWebRTC } from './lazy-webrtc.ts'

/** Bytes one relayed connection may carry (each way together) before the relay resets it: a long chat, small files. */
export const RELAY_DATA_LIMIT = 64 * 1024 * 1024
/** How long one relayed connection may stay open: peers reconnect through the relay after that if they still can't go direct. */
export const RELAY_DURATION_LIMIT_MS = 60 * 60_000
/** Peers holding a reservation at once (each is one connection and a few streams on the relay). */
export const RELAY_MAX_RESERVATIONS = 128
/** Reservation requests one peer may make per minute (a client refreshes one about every hour). */
export const RESERVATIONS_PER_MINUTE = 6
/** Relayed connections one peer may open per minute (a chat opens one per friend it reaches). */
export const RELAYED_CONNECTIONS_PER_MINUTE = 30
/** Peers tracked by the rate limits at most (the window is cleared each minute anyway). */
const MAX_RATE_PEERS = 10_000

/** Counts per peer in one-minute windows. */
class PerMinute {
  private readonly counts = new Map<string, number>()
  private windowStart = Date.now()
  private readonly limit: number

  constructor(limit: number) {
    this.limit = limit
  }

  /** True when `peer` is over its limit for this minute (the call counts). */
  exceeded(peer: PeerId): boolean {
    const now = Date.now()
    if (now - this.windowStart >= 60_000) {
      this.counts.clear()
      this.windowStart = now
    }
    const key = peer.toString()
    const n = (this.counts.get(key) ?? 0) + 1
    if (n === 1 && this.counts.size >= MAX_RATE_PEERS) return true
    this.counts.set(key, n)
    return n > this.limit
  }
}

/** The relay's rate limits, as connection gater methods to add to the node's gater. */
/**
 * What a relay tells its clients it is at when not told (`--announce`): its listen addresses on a given IP and port.
 * A wildcard IP or port 0 is no address to hand anyone; those are left to libp2p, which advertises the bound
 * address (at once for a private one; a public one once confirmed), so a relay on `tcp/0` still works on a LAN.
 */
export function relayAnnounce(listen: string[]): string[] {
  return listen.filter((a) => !/^\/ip[46]\/(0\.0\.0\.0|::)\//.test(a) && !/\/(tcp|udp)\/0(\/|$)/.test(a))
}

export function relayRateLimits(): Pick<ConnectionGater, 'denyInboundRelayReservation' | 'denyOutboundRelayedConnection'> {
  const reservations = new PerMinute(RESERVATIONS_PER_MINUTE)
  const relayed = new PerMinute(RELAYED_CONNECTIONS_PER_MINUTE)
  return {
    denyInboundRelayReservation: (source) => reservations.exceeded(source),
    denyOutboundRelayedConnection: (source) => relayed.exceeded(source)
  }
}

/** The relay server service with p2pnode's limits. */
export function relayServer() {
  return circuitRelayServer({
    reservations: {
      maxReservations: RELAY_MAX_RESERVATIONS,
      defaultDataLimit: BigInt(RELAY_DATA_LIMIT),
      defaultDurationLimit: RELAY_DURATION_LIMIT_MS
    },
    // Streams asking the relay to connect two peers, at once: enough for a burst of reconnects after a restart.
    maxInboundHopStreams: 64
  })
}

/**
 * The transports every node has besides TCP: dialling a friend's circuit address (an invite) and upgrading a
 * relayed connection to WebRTC. They do nothing by themselves; `iceServers` gives WebRTC the STUN servers of our
 * relays (none without relays). WebRTC is loaded when first used (lazy-webrtc.ts).
 */
export function reachTransports(iceServers: () => Array<{ urls: string }>) {
  return [
    circuitRelayTransport({ reservationCompletionTimeout: 10_000 }),
    lazyWebRTC({ rtcConfiguration: () => ({ iceServers: iceServers() }) })
  ]
}
