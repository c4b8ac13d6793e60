/**
 * What a file stream may go over. Offers are small and go wherever the peer is, through a relay too; chunks go
 * over a relay only for small files (a relay caps each relayed connection, see relay-service.ts): larger files
 * wait for a direct path (LAN, public address or WebRTC) and say so. Which connection that is, and dialling, is
 * the node's connectivity's business (PeerStreams, src/node/paths.ts).
 */
import type { Stream } from '@libp2p/interface'
import type { PeerStreams } from '../peer-streams.ts'
import { MAX_RELAYED_FILE_BYTES } from './constants.ts'

/** Why a large file waits while its peer is reachable only through a relay (shown as the transfer's waitReason). */
export const DIRECT_PATH_REASON = `waiting for a direct connection: files over ${MAX_RELAYED_FILE_BYTES / 1024 / 1024} MiB do not go through a relay`

/**
 * A stream for `protocols` to the peer: on a direct connection if there is one; else on a relayed one when
 * `relayed` allows it (else DirectPathNeededError); else by dialling.
 */
export async function fileStream(
  streams: PeerStreams,
  peer: string,
  protocols: string | string[],
  options: { signal: AbortSignal; relayed: boolean }
): Promise<Stream> {
  return streams.open(peer, protocols, { ...options, dial: true })
}
