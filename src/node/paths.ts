/**
 * Which connection a protocol's stream goes on (the protocols' PeerStreams, src/protocols/peer-streams.ts): a direct
 * one (LAN, public address, WebRTC) whenever the peer has one open; a relayed one only for traffic that may go
 * through a relay (a relay caps each relayed connection, see relay-service.ts); a new connection only when asked.
 */
import type { Connection, Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { DirectPathNeededError, NotConnectedError, type PeerStreams } from '../protocols/peer-streams.ts'

/** The peer's open connections, unlimited (direct) ones first. */
export function openConnections(libp2p: Pick<Libp2p, 'getConnections'>, peer: string): Connection[] {
  const open = libp2p.getConnections(peerIdFromString(peer)).filter((c) => c.status === 'open')
  return [...open.filter((c) => c.limits == null), ...open.filter((c) => c.limits != null)]
}

/** PeerStreams over a libp2p node's connections. */
export function peerStreams(libp2p: Pick<Libp2p, 'getConnections' | 'dialProtocol'>): PeerStreams {
  return {
    async open(peer, protocols, options) {
      const open = openConnections(libp2p, peer)
      const conn = open.find((c) => c.limits == null) ?? (options.relayed ? open[0] : undefined)
      if (conn != null) {
        options.chosen?.(conn)
        return conn.newStream(protocols, { signal: options.signal, runOnLimitedConnection: options.relayed })
      }
      if (open.length > 0) throw new DirectPathNeededError(`${peer} is reachable only through a relay for now`)
      if (!options.dial) throw new NotConnectedError(`${peer} is not connected`)
      return libp2p.dialProtocol(peerIdFromString(peer), protocols, {
        signal: options.signal,
        runOnLimitedConnection: options.relayed
      })
    }
  }
}
