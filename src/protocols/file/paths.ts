/**
 * Which connection a file stream goes on. Offers are small and go wherever the peer is, through a relay too;
 * chunks go over a relay only for small files (a relay caps each relayed connection, see relay-service.ts):
 * larger files wait for a direct path (LAN, public address or WebRTC) and say so.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_RELAYED_FILE_BYTES } from './constants.ts'
import { DirectPathNeededError } from './errors.ts'

/** Why a large file waits while its peer is reachable only through a relay (shown as the transfer's waitReason). */
export const DIRECT_PATH_REASON = `waiting for a direct connection: files over ${MAX_RELAYED_FILE_BYTES / 1024 / 1024} MiB do not go through a relay`

/** The peer's open connections, unlimited ones first. */
function openConnections(libp2p: Pick<Libp2p, 'getConnections'>, peer: string): Connection[] {
  const open = libp2p.getConnections(peerIdFromString(peer)).filter((c) => c.status === 'open')
  return [...open.filter((c) => c.limits == null), ...open.filter((c) => c.limits != null)]
}

/** Whether the peer is connected only through relays (limited connections). */
export function onlyRelayed(libp2p: Pick<Libp2p, 'getConnections'>, peer: string): boolean {
  const open = openConnections(libp2p, peer)
  return open.length > 0 && open.every((c) => c.limits != null)
}

/**
 * A stream for `protocols` to the peer: on an unlimited connection if there is one; else on a relayed one when
 * `relayed` allows it (else DirectPathNeededError); else by dialling.
 */
export async function fileStream(
  libp2p: Pick<Libp2p, 'getConnections' | 'dialProtocol'>,
  peer: string,
  protocols: string | string[],
  options: { signal: AbortSignal; relayed: boolean }
): Promise<Stream> {
  const open = openConnections(libp2p, peer)
  const conn = open.find((c) => c.limits == null) ?? (options.relayed ? open[0] : undefined)
  if (conn != null) return conn.newStream(protocols, { signal: options.signal, runOnLimitedConnection: options.relayed })
  if (open.length > 0) throw new DirectPathNeededError(DIRECT_PATH_REASON)
  return libp2p.dialProtocol(peerIdFromString(peer), protocols, {
    signal: options.signal,
    runOnLimitedConnection: options.relayed
  })
}
