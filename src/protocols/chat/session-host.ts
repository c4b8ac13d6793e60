import type { Connection, Stream } from '@libp2p/interface'
import type { StoredMessage } from '../../store/index.ts'
import type { ChatStore, GroupHooks, GroupItem, GroupOutcome } from './index.ts'
import type { Frame } from './pb/chat.ts'

/**
 * What a chat session (inbound-session.ts, outbound-session.ts) asks of the protocol that runs it: the store,
 * timeouts, our greeting, a stream to the peer, and where to report what happened. Chat implements it; a test
 * can implement it over in-memory streams.
 */
export interface SessionHost {
  readonly store: ChatStore
  /** Our peer id. */
  readonly self: string
  /** Time a peer has to greet, an in-flight message to be acked, an inbound stream to carry a frame, ms. */
  readonly timeouts: { readonly hello: number; readonly ack: number; readonly idle: number }
  /** Our greeting (name, version, mailbox, relay addresses). */
  helloFrame(): Frame
  /**
   * A stream on an open connection to the peer (never a dial: connecting is the node's business). `chosen` learns
   * the connection before the stream opens. NotConnectedError when the peer has no open connection.
   */
  openStream(peer: string, chosen?: (connection: Connection) => void): Promise<{ stream: Stream; connection: Connection }>
  /** The peer greeted us on a stream of `connection`, with its relay addresses beside. */
  onHello(peer: string, name: string, connection: Connection, relayAddrs?: string[]): void
  /** A frame from the peer that may carry its mailbox (its greeting, or an update). */
  onMailboxFrame(peer: string, frame: Frame): void
  /** New messages from the peer, stored. */
  onMessage(message: StoredMessage): void
  /** A group frame from the peer (see GroupHooks). */
  receiveGroupItem(peer: string, item: GroupItem): Promise<GroupOutcome>
  /** The newest signed state of a group we are in (see GroupHooks). */
  signedState(group: string): ReturnType<GroupHooks['signedState']>
  /** A file entry's turn in the outbox (see ChatDeps.deliverFile). */
  deliverFile(peer: string, id: string, signal: AbortSignal): Promise<'delivered' | 'dropped'>
  /** Our messages were written to the peer's stream. */
  onSent(peer: string, ids: string[]): void
  /** The peer acked our messages. */
  onDelivered(peer: string, ids: string[]): void
  /** The peer refused our messages: they are out of its outbox. */
  onRefused(peer: string, ids: string[], reason: string): void
}
