/**
 * /chat/1.0 — text messages between two peers, acknowledged after the receiver has stored them.
 *
 * A libp2p service: libp2p starts it before it listens (the handler is registered, and a registrar topology tells
 * it of every peer that speaks /chat/1.0 once identify has run) and stops it with the node.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ ..., services: { chat: chat({ store, name: 'alice' }) } })
 * node.services.chat.addEventListener('message', (evt) => console.log(evt.detail.text))
 * const msg = await node.services.chat.send(peerId, 'hello')  // stored as pending, sent once the peer is here
 * ```
 */
import type { ComponentLogger, Libp2pEvents, PeerId, Startable } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { PeerStreams } from '../peer-streams.ts'
import type { TypedEventTarget } from 'main-event'
import type { NewIncomingMessage, NewOutgoingMessage, OutboxEntry, StoredMessage } from '../../store/index.ts'
import { Chat } from './chat.ts'
import type { PeerMailbox } from './frames.ts'
import type { RelayedResult } from './relayed.ts'
import type { InboundItem } from './frames.ts'

export type { OutboxEntry } from '../../store/index.ts'
export { checkText } from './chat.ts'
export { messageFrame, type PeerMailbox } from './frames.ts'
export type { RelayedResult } from './relayed.ts'
export * from './constants.ts'
export { ChatTimeoutError, NotConnectedError, ProtocolViolationError } from './errors.ts'
export type { InboundItem } from './frames.ts'
export { ForgedStateError, groupIdOf, type GroupStateInfo, newNonce, openState, signState, type SignedState } from './group-state.ts'

/** What the protocol needs from storage (implemented by src/store's Store). */
export interface ChatStore {
  addOutgoing(msg: NewOutgoingMessage): Promise<OutboxEntry>
  /** The outbox entry of one of our messages, if it still waits there. */
  outboxEntry(peer: string, id: string): Promise<OutboxEntry | undefined>
  addIncoming(msgs: NewIncomingMessage[]): Promise<StoredMessage[]>
  markDelivered(peer: string, entries: OutboxEntry[]): Promise<void>
  /** The peer refused these (a group it is not in, as it sees it): out of its outbox, recorded on the entries. */
  markRefused(peer: string, entries: OutboxEntry[]): Promise<void>
  /** Take entries out of the outbox without marking them delivered (a file entry that will never be offered). */
  unqueue(peer: string, entries: OutboxEntry[]): Promise<void>
  outbox(peer: string, options?: { afterSeq?: string; limit?: number }): Promise<OutboxEntry[]>
}

/** What became of a group frame: stored (or known already: acked), or refused with a one-word reason. */
export type GroupOutcome = { stored: true } | { refused: string }

/** A group frame as received: everything but one-to-one messages (see frames.ts). */
export type GroupItem = Exclude<InboundItem, { type: 'message' }>

/** Groups, as the chat protocol needs them (implemented by the node's group module). */
export interface GroupHooks {
  /** A group frame from `peer`, checked for form: store it, or say why not (never throws for a refusal). */
  receive(peer: string, item: GroupItem): Promise<GroupOutcome>
  /** The newest signed state of a group we are in, sent before our first message of it on a stream. */
  signedState(group: string): { version: number; state: Uint8Array<ArrayBuffer>; signature: Uint8Array<ArrayBuffer> } | undefined
}

/** What the service takes from libp2p. */
export interface ChatComponents {
  peerId: PeerId
  registrar: Pick<Registrar, 'handle' | 'unhandle' | 'register' | 'unregister'>
  connectionManager: Pick<ConnectionManager, 'getConnections'>
  /** libp2p's events: `connection:close` (presence is per connection, see presence.ts). */
  events: Pick<TypedEventTarget<Libp2pEvents>, 'addEventListener' | 'removeEventListener'>
  logger: ComponentLogger
}

/** What the service needs from the application: its store, and hooks into the node's other parts. */
export interface ChatDeps {
  store: ChatStore
  /** Streams to peers, on the connection the node's connectivity picks (never a dial: chat waits for one). */
  streams: PeerStreams
  /**
   * Whether we may talk to a peer now (not blocked, visibility allows it). Streams from peers not allowed are
   * refused (nothing stored) and nothing is sent to them. The connection gater keeps them out in the first place;
   * this covers a connection that was being set up when the policy changed. @default everyone allowed
   */
  allows?: (peer: string) => boolean
  /**
   * Deliver a file entry of the outbox (`kind: 'file'`, its id the transfer id). The session calls it when the
   * entry's turn comes, once every earlier message is acknowledged, and sends nothing after it until it resolves,
   * so that the peer stores texts and files in the order they were sent. `delivered`: the peer answered the file's
   * offer; `dropped`: it never will (cancelled first, or the peer takes no files). Either way the entry leaves the
   * outbox. Rejects when `signal` aborts (the session ends; the entry stays for the next one).
   * @default every file entry is dropped
   */
  deliverFile?: (peer: string, id: string, signal: AbortSignal) => Promise<'delivered' | 'dropped'>
  /**
   * Our mailbox (where we collect what contacts leave for us while we are away), told to every peer in our
   * greeting and, when it changes, by announceMailbox(). @default none
   */
  mailbox?: () => PeerMailbox | undefined
  /** Groups: without them every group frame is refused (`no-group`). */
  groups?: GroupHooks
  /**
   * Our circuit addresses through our relays, told to each peer beside our greeting (chat.proto `Reach`), so that
   * contacts can redial us through them. @default none
   */
  relayAddrs?: () => string[]
}

export interface ChatInit {
  /** Display name told to peers in the greeting. @default '' */
  name?: string
  /** Software version told to peers. @default 'p2pnode' */
  version?: string
  /** Time a peer has to greet after a stream opens, ms. @default 10000 */
  helloTimeout?: number
  /** Time an in-flight message may wait for its ack before the stream is reset and retried, ms. @default 30000 */
  ackTimeout?: number
  /** An inbound stream with no frame for this long is closed, ms. @default 600000 */
  idleTimeout?: number
  /**
   * Wait before reopening a chat stream that failed while the peer stayed connected, ms; doubled on each further
   * failure in a row. @default 1000
   */
  retryDelay?: number
  /** Longest such wait, ms. @default 60000 */
  maxRetryDelay?: number
}

/**
 * Status that only the running node knows: `sent` = written to the stream, ack not yet received; `delivered` =
 * acked, our own record of it still being written.
 */
export type LiveStatus = 'sent' | 'delivered'

export interface ChatEvents {
  /** A new message from a peer was stored (duplicates are not reported). */
  message: CustomEvent<StoredMessage>
  /** A peer greeted us (on either stream direction). */
  hello: CustomEvent<{ peer: string; name: string }>
  /** A peer told us, beside its greeting, where it can be reached through its relays now (maybe nowhere). */
  reach: CustomEvent<{ peer: string; relayAddrs: string[] }>
  /**
   * A peer arrived (`here`: it greeted us on an open connection) or left (its last greeted connection closed).
   * Fired exactly when that changes; chat streams closing while idle change nothing.
   */
  presence: CustomEvent<{ peer: string; name: string; here: boolean }>
  /** Our messages were written to the peer's stream (status `sent`); they may be written again after a failure. */
  sent: CustomEvent<{ peer: string; ids: string[] }>
  /** A peer acknowledged our messages. */
  delivered: CustomEvent<{ peer: string; ids: string[] }>
  /** A peer refused our group messages (it is not in the group, as it sees it): they will not be sent again. */
  refused: CustomEvent<{ peer: string; ids: string[]; reason: string }>
  /**
   * What we concluded about a peer changed: `notP2pnode` says why it is no p2pnode node (nothing is sent to it,
   * nothing retried), undefined when it turned out to be one after all (it greeted us).
   */
  verdict: CustomEvent<{ peer: string; notP2pnode: string | undefined }>
  /** A peer told us its mailbox (null: it has none), in its greeting or as an update. */
  mailbox: CustomEvent<{ peer: string; mailbox: PeerMailbox | null }>
}

export interface ChatProtocol extends TypedEventTarget<ChatEvents>, Startable {
  /** Name told to peers from now on. */
  setName(name: string): void
  /**
   * Store a message as pending and send it as soon as the peer is connected, after anything already waiting.
   * Throws RangeError for empty or oversize text.
   */
  send(peer: string, text: string, options?: { replyTo?: string }): Promise<StoredMessage>
  /** An entry of ours now waits in the peer's outbox (a group message): send it as soon as the peer is connected. */
  queued(peer: string, entry: OutboxEntry): void
  /**
   * Send the peer's outbox now if it is connected (call on connect); opening the stream also greets. Does nothing
   * while a retry is backing off or for a peer that is no p2pnode node, unless `probe` (the user asked: look again).
   */
  flush(peer: string, options?: { probe?: boolean }): void
  /** Why the peer is no p2pnode node, or undefined if it may be one. */
  notP2pnode(peer: string): string | undefined
  /** Take a remembered verdict (from the peer book), or clear it (undefined). */
  setForeign(peer: string, reason: string | undefined): void
  /** The live status of one of our messages, or undefined when the stored status is current. */
  liveStatus(peer: string, id: string): LiveStatus | undefined
  /** Resolves true when the message is acked, false when the signal aborts first. */
  waitForDelivery(peer: string, id: string, options?: { signal?: AbortSignal }): Promise<boolean>
  isConnected(peer: string): boolean
  /** Tell connected peers our mailbox changed (see ChatDeps.mailbox). */
  announceMailbox(): void
  /**
   * Chat frames from `peer` that came another way (a mailbox envelope it sealed): messages are checked as on a
   * chat stream and stored (duplicates skipped), acks mark our messages delivered. `received`: the ids of every
   * message in them, stored now or before (what to ack); `refused`: the policy does not let the peer reach us
   * (nothing was stored). ProtocolViolationError for a frame that breaks the rules (nothing stored).
   */
  acceptRelayed(peer: string, frames: Uint8Array[]): Promise<RelayedResult>
  /** True while the peer is present: it has an open connection on which it greeted us (see `presence`). */
  greeted(peer: string): boolean
}

/**
 * The chat service, for `createLibp2p({ services: { chat: chat({ store, ... }) } })`: `init` holds the store and
 * hooks (ChatDeps) and the settings (ChatInit).
 */
export function chat(init: ChatDeps & ChatInit): (components: ChatComponents) => ChatProtocol {
  return (components) => new Chat(components, init)
}
