/**
 * /chat/1.0/file — files of any size between two peers: offered with a manifest of chunk hashes, fetched by the
 * receiver chunk range by chunk range, verified chunk by chunk and as a whole, resumed after any failure.
 *
 * A libp2p service: libp2p starts it before it listens (handlers registered; what was under way resumes once
 * libp2p runs) and stops it with the node; a registrar topology tells it of every peer that speaks the file
 * protocol, whereupon what waits for that peer is offered or fetched.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ ..., services: {
 *   files: files({ store: transfers, streams, isBlocked: () => false, downloadsDir: '/home/me/.p2pnode/downloads' })
 * } })
 * const t = await node.services.files.send(peerId, '/tmp/photo.jpg')   // hashed, recorded, offered once the peer is here
 * node.services.files.addEventListener('transfer', (evt) => console.log(evt.detail.id, evt.detail.status))
 * ```
 */
import type { ComponentLogger, PeerId, Startable } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { PeerStreams } from '../peer-streams.ts'
import type { TypedEventTarget } from 'main-event'
import type { StoredMessage, TransferRecord } from '../../store/index.ts'
import type { AdmissionLimits } from './admission.ts'
import { FileTransfer } from './file.ts'

export type { TransferRecord, TransferStatus } from '../../store/index.ts'
export * from './constants.ts'
export { FileProtocolError, HashMismatchError, TransferStoppedError, UnsafeFileNameError } from './errors.ts'
export { safeFileName } from './names.ts'

/** What the protocol needs from storage (implemented by src/store's Transfers). */
export interface FileStore {
  create(record: TransferRecord, hashes: Uint8Array, from: string, to: string): Promise<StoredMessage>
  get(id: string): Promise<TransferRecord | undefined>
  list(): Promise<TransferRecord[]>
  update(id: string, patch: Partial<Omit<TransferRecord, 'id'>>): Promise<TransferRecord | undefined>
  hashes(id: string): Promise<Uint8Array<ArrayBuffer>>
  setHashes(id: string, hashes: Uint8Array): Promise<void>
  verified(id: string): Promise<number[]>
  addVerified(id: string, index: number): Promise<void>
  clearVerified(id: string): Promise<void>
  markOfferDelivered(record: TransferRecord): Promise<void>
  /** Take a queued transfer's entry out of the chat outbox. */
  unqueue(record: TransferRecord): Promise<void>
  /** Whether a queued transfer's entry is the first in the peer's outbox. */
  nextInOutbox(record: TransferRecord): Promise<boolean>
  /** Whether the peer answered our offer (the conversation entry is `delivered`). */
  offerDelivered(record: TransferRecord): Promise<boolean>
}

/** What the service takes from libp2p. */
export interface FileComponents {
  peerId: PeerId
  registrar: Pick<Registrar, 'handle' | 'unhandle' | 'register' | 'unregister'>
  connectionManager: Pick<ConnectionManager, 'getConnections'>
  logger: ComponentLogger
}

/** What the service needs from the application: its store, the way to streams, and the node's policy. */
export interface FileDeps {
  store: FileStore
  /** Streams to peers, on the connection the node's connectivity picks (offers may go through a relay). */
  streams: PeerStreams
  /** Offers from blocked peers are refused and their fetches answered with nothing. */
  isBlocked(peerId: string): boolean
  /** Ask for a connection to a peer that has offers waiting (the node's redial policy). */
  connect?(peerId: string): void
  /**
   * Whether files from this peer may be fetched without asking (up to the auto-accept limit and the hourly
   * budget): the node says yes for contacts and peers we wrote to. Others' offers wait for accept().
   * @default nobody
   */
  trusts?(peerId: string): boolean | Promise<boolean>
  /**
   * With this, a file we send gets its conversation entry in the chat outbox and is offered when the chat session
   * reaches it (deliver()), in order with the texts; called when one is queued, to have the session look.
   * Without it, files are offered on their own as soon as the peer is connected.
   */
  queued?(peerId: string): void
}

export interface FileInit {
  /** Where received files go. Required to receive; created when the first file arrives. */
  downloadsDir?: string
  /** Larger offers wait for accept(). @default 104857600 (100 MiB) */
  autoAcceptMax?: number
  /** Bounds on offers waiting and on what a peer may have fetched without asking (see constants). */
  limits?: Omit<AdmissionLimits, 'autoAcceptMax'>
  /** Bytes per chunk for files we send, 65536..262144. @default 262144 */
  chunkSize?: number
  /** Chunks requested ahead of what is written (offer versions 1, 2). @default 8 */
  windowChunks?: number
  /** Chunks of credit a version-3 fetch grants: in flight or buffered, not yet written. @default 16 */
  creditChunks?: number
  /** Time a peer has to send the next frame, ms. @default 30000 */
  frameTimeout?: number
  /** Wait before retrying a broken offer or fetch while the peer is connected, ms. @default 2000 */
  retryDelay?: number
  /** How often peers with offers waiting or files half received are redialled while away, ms. @default 3000 */
  reconnectInterval?: number
}

/** A transfer as the node reports it: the record plus what only the running node knows. */
export interface TransferInfo extends TransferRecord {
  /** Bytes the receiver has, verified (receiver: exact; sender: as last told by the receiver, plus what we sent). */
  received: number
  /** Chunk bytes this process has written to the peer for this transfer (sender side; resends included). */
  sent: number
  /** Receiver side: why it waits although accepted (the peer is reachable only through a relay, for now). */
  directWait?: string
}

export interface FileEvents {
  /** A transfer was created or changed status. */
  transfer: CustomEvent<TransferInfo>
  /** Bytes moved (at most every 100 ms per transfer). */
  progress: CustomEvent<{ id: string; received: number; size: number }>
}

export interface FileTransferProtocol extends TypedEventTarget<FileEvents>, Startable {
  /**
   * Hash a file, record the transfer and offer it as soon as the peer is connected. Throws RangeError for a file
   * over the size limit, and the file system's error (ENOENT, EISDIR, EACCES) for one that cannot be read. With
   * `voice`, the offer says it is a voice note (Offer.voice).
   */
  send(peer: string, path: string, options?: { signal?: AbortSignal; voice?: boolean }): Promise<TransferInfo>
  /** Accept an offer that waits (over the auto-accept limit): the file is fetched as soon as the peer is here. */
  accept(id: string): Promise<TransferInfo | undefined>
  /** Stop a transfer for good, either side; a partly received file is deleted. */
  cancel(id: string): Promise<TransferInfo | undefined>
  get(id: string): Promise<TransferInfo | undefined>
  list(): Promise<TransferInfo[]>
  /**
   * Offer a queued transfer now (its turn in the chat outbox) and resolve once the peer has answered the offer
   * (`delivered`) or never will (`dropped`: cancelled first, or the peer takes no files). Retries, backing off,
   * while the peer is connected; rejects when `signal` aborts.
   */
  deliver(peer: string, id: string, signal: AbortSignal): Promise<'delivered' | 'dropped'>
  /**
   * Offer what waits for this peer and resume what it was sending us. The service's topology calls it when the peer
   * connects; the node calls it when a direct path replaces a relayed one.
   */
  onConnect(peer: string): void
}

/**
 * The file service, for `createLibp2p({ services: { files: files({ store, streams, isBlocked, ... }) } })`: `init`
 * holds the store, streams and hooks (FileDeps) and the settings (FileInit).
 */
export function files(init: FileDeps & FileInit): (components: FileComponents) => FileTransferProtocol {
  return (components) => new FileTransfer(components, init)
}
