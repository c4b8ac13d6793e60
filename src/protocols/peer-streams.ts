/**
 * How a protocol gets a stream to a peer. Which connection it goes on — a direct one, a relayed one, a new one — is
 * the node's connectivity module's choice (src/node/paths.ts implements this), not each protocol's: a protocol
 * says only what it may use.
 */
import type { Connection, Stream } from '@libp2p/interface'

export interface StreamOptions {
  signal: AbortSignal
  /** Whether a relayed (limited) connection will do: small traffic (chat, offers), not a large file's chunks. */
  relayed: boolean
  /** Whether to dial when the peer has no open connection (else NotConnectedError). */
  dial: boolean
  /** Told the connection before the stream opens on it (never called when dialling). */
  chosen?: (connection: Connection) => void
}

export interface PeerStreams {
  /**
   * A stream for `protocols` to `peer`: on a direct connection if it has one open; else on a relayed one if
   * `relayed`; else on a new connection if `dial`. NotConnectedError when the peer has no open connection and
   * `dial` is false; DirectPathNeededError when it has only relayed ones and `relayed` is false.
   */
  open(peer: string, protocols: string | string[], options: StreamOptions): Promise<Stream>
}

/** Thrown when a stream is wanted to a peer that has no open connection and dialling was not asked for. */
export class NotConnectedError extends Error {
  static readonly NAME = 'NotConnectedError'
  override name = NotConnectedError.NAME
}

/** Thrown when a stream would have to go through a relay and may not: it waits for a direct connection. */
export class DirectPathNeededError extends Error {
  static readonly NAME = 'DirectPathNeededError'
  override name = DirectPathNeededError.NAME
}
