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

/**
 * The kinds of conversation entries. Adding a kind is this one edit (and its payload field below): the codec
 * refuses entries of kinds not listed here.
 * - `text`: a message; `file`: a file transfer (its id is the transfer id; text is ''); `system`: something that
 *   happened in the conversation (a member joined, left, the group was renamed), `system` says what; `voice`: a
 *   voice note, which travels as a file transfer (with `file`; Offer.voice): its duration and this machine's
 *   transcript are in the `voice` sublevel (see voice-notes.ts).
 */
export const ENTRY_KINDS = ['text', 'file', 'system', 'voice'] as const
export type EntryKind = (typeof ENTRY_KINDS)[number]

/** What a `system` entry records. */
export interface SystemEvent {
  type: 'created' | 'joined' | 'removed' | 'left' | 'renamed'
  /** The peers concerned (joined, removed, left). */
  peers?: string[]
  /** The group's name after the change. */
  name?: string
  /** The membership version the change made. */
  version?: number
}

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
  /**
   * The timestamp of the newest message from the other side that the writer had when it wrote this one (ours: sent
   * with it; theirs: as they sent it). Places the message after those it may answer (see order.ts).
   */
  after?: number
  /** `text` when absent (see ENTRY_KINDS). */
  kind?: EntryKind
  /** For `kind: 'file'` and `'voice'`: what was offered (the transfer's live status is kept with the transfer). */
  file?: FileSummary
  /** For `kind: 'system'`: what happened. */
  system?: SystemEvent
  /** For a membership change: the state as the admin signed it, and the signature (base64), to send on. */
  signed?: { state: string; signature: string }
  /** In a group conversation: the group's id (`peer` is then the sender for theirs, the group's admin for ours). */
  group?: string
  /** Ours in a group: the members it goes to (not us). */
  recipients?: string[]
  /** Ours in a group: the members that acknowledged it so far. */
  deliveredTo?: string[]
  /** Ours in a group: the members that refused it (no longer in the group, as they see it). */
  refusedBy?: string[]
}

/** A message waiting for its ack by one recipient, with its place in the conversation. */
export interface OutboxEntry {
  seq: string
  message: StoredMessage
}

/** One recipient's copy of an entry waiting for its ack (`log-outbox`). */
export interface OutboxRecord {
  /** The peer id it goes to. */
  recipient: string
  /** The entry as it was when queued. */
  message: StoredMessage
}

/** A group this node is (or was) in, with the membership its admin signed last. */
export interface GroupRecord {
  /** 32 hex characters: SHA-256 of the admin's peer id and `nonce`, so that no one else can claim the id. */
  id: string
  name: string
  /** Peer id of the creator, the only one who may change the membership. */
  admin: string
  nonce: string
  /** Membership version: every change signed by the admin counts up by one. */
  version: number
  /** Peer ids of the members (the admin among them), in the order they joined. */
  members: string[]
  /** The signed state as it came (base64), to hand to members that missed it. */
  state: string
  signature: string
  /** `member`: we are in it; `removed`/`left`: we were, and see its history only. */
  status: 'member' | 'removed' | 'left'
  /** Members who left on their own and whom the admin has not yet removed. */
  leaving?: string[]
  /** Last time we read the conversation (ms), for unread counts. */
  readAt?: number
}

/** A file transfer as it appears in a conversation. */
export interface FileSummary {
  name: string
  size: number
  /** SHA-256 of the whole file, hex; '' when the file is known by its hash tree root (offer version 3). */
  sha256: string
  /** Offer version 3: the root of the file's BLAKE3 hash tree, hex. */
  root?: string
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
  /** See StoredMessage.after (as the peer sent it). */
  after?: number
}

/**
 * What we know of a peer: met on the network, chatted with, or added as a contact. Stored under a keyed hash of
 * its id (never the id itself) with a digest that is checked on every read.
 */
export interface PeerRecord {
  peerId: string
  /** The name the peer told us in its greeting. */
  name?: string
  /** Our own name for the peer (contacts); shown instead of `name`. */
  localName?: string
  /** Names the peer had before (its own and ours), newest first: old messages may still mention them. */
  formerNames?: string[]
  /** Last known addresses (multiaddr strings). */
  addrs: string[]
  firstSeen: number
  lastSeen: number
  /** True once a message went either way. */
  chatted: boolean
  /**
   * True once we sent the peer a message or a file: such peers (and contacts) are redialled after a restart; a
   * stranger that only wrote to us is not. Absent in records from 0.1, where `chatted` stands for it.
   */
  wrote?: boolean
  /** In the address book. */
  contact: boolean
  /** No connection either way; nothing they send is stored. */
  blocked: boolean
  /** Messages are stored but not shown live. */
  muted: boolean
  /**
   * Why the peer is no p2pnode node (another libp2p program: no /chat/1.0, or it never greets): nothing is sent to
   * it and it is not redialled. Cleared when it greets us.
   */
  notP2pnode?: string
}

export interface PeerUpdate {
  name?: string
  /** A string sets our name for the peer; null removes it. */
  localName?: string | null
  addrs?: string[]
  chatted?: boolean
  /** We sent the peer something (never unset). */
  wrote?: boolean
  contact?: boolean
  blocked?: boolean
  muted?: boolean
  /** A string records why the peer is no p2pnode node; null clears it. */
  notP2pnode?: string | null
  seenAt?: number
}

/** A peer record that failed its integrity check: reported, never used. */
export interface TamperedRecord {
  /** The storage key (a hash: the peer id it claims to be for cannot be trusted). */
  key: string
  claimedPeerId?: string
}

export interface HistoryOptions {
  /** Most recent N messages (returned oldest first). Default 50. */
  limit?: number
  /** Only messages sent before this time (ms since the epoch, sender's clock). */
  before?: number
  /** Only messages sent after this time (ms since the epoch, sender's clock). */
  after?: number
}

export interface SearchOptions {
  /** Only messages with this peer. */
  peer?: string
  /** At most N results (newest first). Default 20. */
  limit?: number
}

export interface SearchHit {
  id: string
  peer: string
  text: string
  timestamp: number
  direction: Direction
  /** The group, for a hit in a group conversation. */
  group?: string
  /** `voice`: the words are from a voice note's transcript (`text` is the transcript). */
  kind?: 'voice'
}

/** Whether an entry stands for a file transfer: a file, or a voice note (which travels as one). */
export function isTransferEntry(m: Pick<StoredMessage, 'kind'>): boolean {
  return m.kind === 'file' || m.kind === 'voice'
}
