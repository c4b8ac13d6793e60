/** Which way a message went, seen from this node. */
export type Direction = 'in' | 'out'

/**
 * Status of a message as stored.
 * - `pending`: written by us, not yet acknowledged by the peer (it sits in the outbox).
 * - `delivered`: the peer acknowledged that it stored the message.
 * - `received`: written by the peer and stored by us.
 *
 * `sent` (on the wire, no ack yet) is a live state known only to the running node; it is never persisted,
 * so after a crash such a message is `pending` again and is sent once more (the receiver deduplicates).
 */
export type StoredStatus = 'pending' | 'delivered' | 'received'

export interface StoredMessage {
  /** 32 lowercase hex characters (128 random bits). */
  id: string
  /** Peer id of the other side of the conversation. */
  peer: string
  from: string
  to: string
  text: string
  /** Sender's clock, ms since the epoch. */
  timestamp: number
  direction: Direction
  status: StoredStatus
  replyTo?: string
  /** `text` when absent. A `file` entry stands for a file transfer (its id is the transfer id; text is ''). */
  kind?: 'text' | 'file'
  /** For `kind: 'file'`: what was offered (the transfer's live status is kept with the transfer). */
  file?: FileSummary
}

/** A file transfer as it appears in a conversation. */
export interface FileSummary {
  name: string
  size: number
  /** SHA-256 of the whole file, hex. */
  sha256: string
  mime: string
}

export interface NewOutgoingMessage {
  id: string
  peer: string
  from: string
  text: string
  timestamp: number
  replyTo?: string
}

export interface NewIncomingMessage {
  id: string
  peer: string
  to: string
  text: string
  timestamp: number
  replyTo?: string
}

/** What we know of a peer we have met. Stored under a keyed hash of its id, never under the id itself. */
export interface PeerRecord {
  peerId: string
  /** The name the peer told us in its greeting. */
  name?: string
  /** Last known addresses (multiaddr strings). */
  addrs: string[]
  firstSeen: number
  lastSeen: number
  /** True once a message went either way: such peers are redialled when seen or after a restart. */
  chatted: boolean
}

export interface PeerUpdate {
  name?: string
  addrs?: string[]
  chatted?: boolean
  seenAt?: number
}

export interface HistoryOptions {
  /** Most recent N messages (returned oldest first). Default 50. */
  limit?: number
}
