/**
 * /chat/1.0/mailbox — store-and-forward for peers who are never online together (as Briar's mailbox). A user names
 * an always-on node of theirs as their mailbox; contacts deposit sealed envelopes there for them (encrypted to the
 * recipient's key, signed by the sender: the mailbox cannot read them), and the owner collects them when online,
 * confirming each batch once stored, whereupon the mailbox deletes it.
 *
 * A libp2p service (libp2p starts and stops it; it signs and opens with the node's own key). A mailbox node — one
 * given a hold — registers the handler when it starts; a client only dials.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ ..., services: { mailbox: mailbox({ streams }) } })        // a client
 * const { bytes } = await node.services.mailbox.seal(bobPeerId, [chatFrame])
 * await node.services.mailbox.deposit(bobsMailboxPeerId, [bytes])                  // [{ status: 'OK', ... }]
 * await node.services.mailbox.collect(myMailboxPeerId, async (batch) => { ... store what is in it ... })
 * // a mailbox node: mailbox({ streams, hold: () => hold }) with a MailboxHold (src/store/mailbox-hold.ts)
 * ```
 */
import type { AbortOptions, ComponentLogger, PeerId, PrivateKey, Startable } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import type { PeerStreams } from '../peer-streams.ts'
import type { CheckedEnvelope } from './seal.ts'
import { Mailbox } from './mailbox.ts'

export * from './constants.ts'
export { EnvelopeError, MailboxProtocolError, MailboxRefusedError, MailboxTimeoutError } from './errors.ts'
export type { CheckedEnvelope } from './seal.ts'
export { check as checkEnvelope } from './seal.ts'

/** What a mailbox node answers to one deposit. */
export type DepositStatus = 'OK' | 'DUPLICATE' | 'QUOTA' | 'GAP' | 'REFUSED' | 'INVALID'

export interface DepositResult {
  status: DepositStatus
  detail: string
  /** How long the mailbox holds it if nobody collects it, ms. */
  ttlMs: number
}

/** One held envelope, as the mailbox node keeps it. */
export interface HeldEnvelope {
  /** The store's key for it (opaque to the protocol). */
  key: string
  id: Uint8Array<ArrayBuffer>
  bytes: Uint8Array<ArrayBuffer>
}

/**
 * What a mailbox node needs from storage (implemented by src/store's MailboxHold): envelopes held per recipient
 * with quotas per sender and per recipient, dropped after a time. Only ciphertext is ever given to it.
 */
export interface MailboxHold {
  /** How long an envelope is held if nobody collects it, ms. */
  readonly ttlMs: number
  /** Make `owner` a user of this mailbox (deposits for it are accepted from now on); a reason if refused. */
  register(owner: string): Promise<string | undefined>
  /** Hold a checked envelope for its recipient, or say why not. */
  deposit(envelope: CheckedEnvelope, bytes: Uint8Array<ArrayBuffer>): Promise<{ status: DepositStatus; detail: string }>
  /** The oldest envelopes held for `owner`, at most `limit` and about `maxBytes`; `more` if others follow. */
  held(owner: string, limit: number, maxBytes: number): Promise<{ items: HeldEnvelope[]; more: boolean }>
  /** Delete envelopes the owner confirmed (keys from `held`). */
  remove(owner: string, keys: string[]): Promise<void>
  /** Drop what has been held longer than the TTL; returns how many envelopes went. */
  sweep(now?: number): Promise<number>
}

/** What the service takes from libp2p. */
export interface MailboxComponents {
  peerId: PeerId
  /** Our Ed25519 key: signs what we deposit, opens what we collect. */
  privateKey: PrivateKey
  registrar: Pick<Registrar, 'handle' | 'unhandle'>
  logger: ComponentLogger
}

/** What the service needs from the application. */
export interface MailboxDeps {
  /** Streams to mailboxes (dialled when not connected), on the connection the node's connectivity picks. */
  streams: PeerStreams
  /**
   * With a hold, the node serves as a mailbox for others (`p2pnode start --mailbox-service`). Asked when the service
   * starts (the node opens the hold first).
   */
  hold?: () => MailboxHold | undefined
  /** Whether a peer may use our mailbox service now (the node's policy). @default everyone */
  allows?: (peer: string) => boolean
}

export interface MailboxInit {
  /** Time the other side has for its next frame, ms. @default 30000 */
  frameTimeout?: number
  /** How often a mailbox node drops expired envelopes, ms. @default 60000 */
  sweepInterval?: number
}

/** One envelope of a collected batch: opened, or why it could not be (it is deleted from the mailbox anyway). */
export type CollectedEnvelope =
  | { id: Uint8Array<ArrayBuffer>; sender: string; timestamp: number; frames: Uint8Array<ArrayBuffer>[]; error?: undefined }
  | { id: Uint8Array<ArrayBuffer>; error: Error }

export interface MailboxProtocol extends Startable {
  /** Whether this node serves as a mailbox (once started). */
  readonly serving: boolean
  /**
   * Seal chat frames for `recipient`: encrypted to its key, signed with ours. RangeError when they do not fit in
   * one envelope (see MAX_LETTER_BYTES, MAX_LETTER_FRAMES).
   */
  seal(recipient: string, frames: Uint8Array<ArrayBuffer>[], options?: { prev?: Uint8Array<ArrayBuffer>; id?: Uint8Array<ArrayBuffer> }): Promise<{ id: Uint8Array<ArrayBuffer>; bytes: Uint8Array<ArrayBuffer> }>
  /** Check and decrypt an envelope meant for us; EnvelopeError if it is not one. */
  open(bytes: Uint8Array<ArrayBuffer>): Promise<CheckedEnvelope & { frames: Uint8Array<ArrayBuffer>[] }>
  /**
   * Deposit envelopes at `mailbox` (a peer id; dialled), in order, one stream. Stops at the first that is not
   * held (the results are then fewer than the envelopes, the last one saying why). Throws MailboxRefusedError
   * NOT_MAILBOX when the peer runs no mailbox service, other errors when the stream fails.
   */
  deposit(mailbox: string, envelopes: Uint8Array<ArrayBuffer>[], options?: AbortOptions): Promise<DepositResult[]>
  /**
   * Collect what `mailbox` holds for us: batch by batch, each handed to `handle` opened (or with why it could not
   * be), and confirmed to the mailbox (deleted there) once `handle` resolves. If `handle` throws, nothing of that
   * batch is confirmed. Returns how many envelopes were collected. MailboxRefusedError when the mailbox does not
   * serve us.
   */
  collect(mailbox: string, handle: (batch: CollectedEnvelope[]) => Promise<void>, options?: AbortOptions): Promise<number>
}

/**
 * The mailbox service, for `createLibp2p({ services: { mailbox: mailbox({ streams, ... }) } })`: `init` holds the
 * streams and hold (MailboxDeps) and the settings (MailboxInit).
 */
export function mailbox(init: MailboxDeps & MailboxInit): (components: MailboxComponents) => MailboxProtocol {
  return (components) => new Mailbox(components, init)
}
