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
  /**
   * How we reach it, while connected: `direct` (a LAN or public address), `relayed` (through a relay, with its
   * limits: files wait for a direct path), `webrtc` (a direct UDP path found through the relay).
   */
  path?: 'direct' | 'relayed' | 'webrtc'
}

/** A relay this node keeps a reservation on (`p2pnode relay ls`). */
export interface RelayInfo {
  /** Its address, with /p2p/<relay id>. */
  addr: string
  peerId: string
  /** We have an open connection to it. */
  connected: boolean
  /** Our circuit addresses through it: where friends reach us (empty while we hold no reservation). */
  circuitAddrs: string[]
}

/** `p2pnode invite`: one string to give a friend, and what it holds. */
export interface InviteInfo {
  invite: string
  peerId: string
  name: string
  addrs: string[]
  /** Our mailbox, when one is set (and has an address to give): friends leave messages there while we are away. */
  mailbox?: { peerId: string; addrs: string[] }
}

/** Relays and invites (node/reach.ts): `p2pnode relay add|rm|ls`, `p2pnode invite`. */
export interface ReachApi {
  relays(): Promise<RelayInfo[]>
  /** Use a relay from now on (remembered); resolves once tried, connected or not (it is retried). */
  addRelay(multiaddr: string): Promise<RelayInfo>
  removeRelay(multiaddr: string): Promise<RelayInfo>
  invite(): Promise<InviteInfo>
}

export interface DialResult {
  peerId: string
  name: string
}

export interface SendResult {
  id: string
  status: MessageStatus
  /** To a group: how many members have it so far, of how many it goes to. */
  delivered?: number
  recipients?: number
}

export interface GroupMember {
  peerId: string
  name: string
}

/** A group we are in (`p2pnode groups --json`). */
export interface GroupInfo {
  /** 32 hex characters. */
  id: string
  name: string
  members: GroupMember[]
  /** Peer id of the admin (its creator): the only one who may change the membership. */
  admin: string
  /** Messages from others since the conversation was last read (history). */
  unread: number
}

/** Groups: implemented by node/groups.ts. `group` is a group's name, `#name`, or its id. */
export interface GroupsApi {
  groups(): Promise<GroupInfo[]>
  /** `peers`: ids, names or multiaddrs of the members besides us (at most 255). */
  createGroup(name: string, peers: string[]): Promise<GroupInfo>
  addMembers(group: string, peers: string[]): Promise<GroupInfo>
  removeMember(group: string, peer: string): Promise<GroupInfo>
  renameGroup(group: string, name: string): Promise<GroupInfo>
  /** Leave a group (not its admin); the others are told. */
  leaveGroup(group: string): Promise<{ id: string; name: string; left: boolean }>
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
  /**
   * Absent for text. `file`: a file transfer (id = transfer id, text ''); see `p2pnode files`. `voice`: a voice note
   * (a file transfer too, with `file`), with its `duration` and this machine's `transcript`. `system`: something
   * that happened in a group (`system` says what; `text` says it in words).
   */
  kind?: 'text' | 'file' | 'voice' | 'system'
  file?: { name: string; size: number; sha256: string; root?: string; mime: string; status?: string }
  /** In a group conversation: the group's id. */
  group?: string
  /** In a group conversation: the sender's name as this node shows it. */
  fromName?: string
  /** Ours in a group: how many members have it (acked), of how many it went to. */
  delivered?: number
  recipients?: number
  /** For `kind: 'system'`. */
  system?: { type: 'created' | 'joined' | 'removed' | 'left' | 'renamed'; peers?: string[]; name?: string; version?: number }
  /** voice: length in ms (as decoded here; absent until the note has arrived whole). */
  duration?: number
  /** voice: made on this machine, in the background (`pending` until then). */
  transcript?: TranscriptInfo
}

export interface TranscriptInfo {
  text: string
  engine: string
  status: 'pending' | 'done' | 'failed'
  /** failed: why. */
  error?: string
  /** failed: what to do. */
  hint?: string
}

export interface HistoryQuery {
  limit?: number
  /** Only messages sent before this time (ms since the epoch). */
  before?: number
  /** Only messages sent after this time (ms since the epoch). */
  after?: number
}

export type Visibility = 'everyone' | 'contacts' | 'hidden'

export interface ContactInfo {
  peerId: string
  /** Local name if set, else the peer's own name. */
  name: string
  /** Our name for the peer, if set. */
  localName?: string
  /** The name the peer tells us. */
  peerName?: string
  addrs: string[]
  firstSeen: number
  lastSeen: number
  connected: boolean
  blocked: boolean
  muted: boolean
}

export interface ContactList {
  contacts: ContactInfo[]
  /** Records that failed their integrity check (reported, not used). */
  tampered: Array<{ key: string; claimedPeerId?: string }>
}

export interface PeerState {
  peerId: string
  name: string
  contact: boolean
  blocked: boolean
  muted: boolean
}

export interface SearchResult {
  id: string
  peer: string
  text: string
  timestamp: number
  direction: 'in' | 'out'
  /** `voice`: the words are from a voice note's transcript (`text` is the transcript). */
  kind?: 'voice'
  /** A hit in a group conversation: the group's id (`peer` is the sender). */
  group?: string
}

export interface VerifyResult {
  peerId: string
  name: string
  /** The same on both ends: compare it in person or over another channel. */
  safetyNumber: string
}

export interface ExportResult {
  /** Absolute path of the JSONL file. */
  out: string
  /** Absolute path of the data card (Markdown). */
  card: string
  messages: number
  anonymized: boolean
}

export interface SendOptions {
  replyTo?: string
  /** How long to wait for the ack when the peer is connected, ms (0: return at once). @default 2000 */
  waitMs?: number
}

/** Identity, peers, dialling and messages: implemented by P2pNode itself. */
export interface NodeCoreApi {
  id(): Promise<IdInfo>
  peers(): Promise<PeerInfo[]>
  dial(multiaddr: string): Promise<DialResult>
  /** `peer` is a peer id, a display name, or a multiaddr. */
  send(peer: string, text: string, options?: SendOptions): Promise<SendResult>
  /** Oldest first; the last `limit` messages (default 50). */
  history(peer: string, options?: HistoryQuery): Promise<HistoryEntry[]>
  /**
   * Which peer a reference (id, name or multiaddr) means, with the name to show for it (a short id added when
   * another peer goes by the same name). `dial`: a multiaddr without /p2p/ is dialled to learn its id.
   */
  resolve(peer: string, options?: { dial?: boolean }): Promise<{ peerId: string; name: string }>
  stop(): Promise<void>
}

/** Contacts, visibility, blocking, search and export: implemented by node/people.ts. */
export interface PeopleApi {
  contacts(): Promise<ContactList>
  /** `peer` may be a multiaddr (dialled to learn the id if it has no /p2p/ part). */
  addContact(peer: string, options?: { name?: string }): Promise<ContactInfo>
  renameContact(peer: string, name: string): Promise<ContactInfo>
  removeContact(peer: string): Promise<PeerState>
  verify(peer: string): Promise<VerifyResult>
  /** Set (if given) and return the visibility. */
  visibility(set?: Visibility): Promise<{ visibility: Visibility }>
  /** Blocked peers. */
  blocked(): Promise<PeerState[]>
  /** Block, unblock, mute or unmute a peer. */
  setPeerState(peer: string, change: { blocked?: boolean; muted?: boolean }): Promise<PeerState>
  /** Newest first. */
  search(query: string, options?: { peer?: string; limit?: number }): Promise<SearchResult[]>
  /** Write every message as JSONL to `out` (an absolute path) with a data card beside it. */
  export(options: { out: string; anonymize?: boolean }): Promise<ExportResult>
}

/** What `p2pnode web` prints: the url carries the login token. */
export interface WebLink {
  url: string
  port: number
}

/** The web app's login link, for `p2pnode web` (routes on the unix socket only): src/api/web-control.ts. */
export interface WebControlApi {
  /** The link that signs a browser in (WEB_OFF if the node runs without the web app). */
  link(): Promise<WebLink>
  /** A new token: old links and sessions stop working. */
  rotate(): Promise<WebLink>
}

/** The whole API as one object, one call per route (built from the route table in routes.ts). */
export type { ApiParts, NodeApi } from './routes.ts'

/** Largest request body the API accepts: one maximum-size message with JSON escaping to spare. */
export const API_BODY_LIMIT = 512 * 1024

/** How errors cross the API: HTTP status plus this body. */
export interface ApiErrorBody {
  code: string
  message: string
  hint?: string
  details?: unknown
}
