/**
 * The local API: one contract, implemented in-process by the node and over HTTP by the client.
 * Field names are a contract (the CLI's `--json` output is these objects).
 */

export type MessageStatus = 'pending' | 'sent' | 'delivered' | 'received'

export interface IdInfo {
  peerId: string
  name: string
  addrs: string[]
}

export interface PeerInfo {
  peerId: string
  /** The name the peer told us, or '' if it has not greeted us yet. */
  name: string
  connected: boolean
  addrs: string[]
}

export interface DialResult {
  peerId: string
  name: string
}

export interface SendResult {
  id: string
  status: MessageStatus
}

export interface HistoryEntry {
  id: string
  from: string
  to: string
  text: string
  /** Sender's clock, ms since the epoch. */
  timestamp: number
  direction: 'in' | 'out'
  status: MessageStatus
  replyTo?: string
  /** Absent for text. `file`: a file transfer (id = transfer id, text ''); see `p2pnode files`. */
  kind?: 'text' | 'file'
  file?: { name: string; size: number; sha256: string; mime: string; status?: string }
}

export interface SendOptions {
  replyTo?: string
  /** How long to wait for the ack when the peer is connected, ms (0: return at once). @default 2000 */
  waitMs?: number
}

export interface NodeApi {
  id(): Promise<IdInfo>
  peers(): Promise<PeerInfo[]>
  dial(multiaddr: string): Promise<DialResult>
  /** `peer` is a peer id, a display name, or a multiaddr. */
  send(peer: string, text: string, options?: SendOptions): Promise<SendResult>
  /** Oldest first; the last `limit` messages (default 50). */
  history(peer: string, options?: { limit?: number }): Promise<HistoryEntry[]>
  stop(): Promise<void>
}

/** How errors cross the API: HTTP status plus this body. */
export interface ApiErrorBody {
  code: string
  message: string
  hint?: string
  details?: unknown
}
