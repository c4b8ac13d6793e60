import type { Logger, Stream } from '@libp2p/interface'
import type { TransferRecord, TransferStatus } from '../../store/index.ts'
import type { FileDeps, FileStore } from './index.ts'

/** What the two halves of the file protocol (incoming.ts, outgoing.ts) share with the FileTransfer that owns them. */
export interface FileContext {
  /** The application's store, streams and hooks. */
  readonly deps: FileDeps
  readonly store: FileStore
  readonly log: Logger
  readonly frameTimeout: number
  readonly retryDelay: number
  /** Streams open now: aborted when the node stops. */
  readonly streams: Set<Stream>
  /** Live byte counts, per transfer (see TransferInfo). */
  readonly received: Map<string, number>
  readonly sent: Map<string, number>
  /** Whether the protocol runs (between start and stop). */
  started(): boolean
  /** Our peer id. */
  self(): string
  isConnected(peer: string): boolean
  setStatus(id: string, status: TransferStatus): Promise<TransferRecord | undefined>
  fail(id: string, error: string): Promise<void>
  /** A record was created or changed: tell listeners. */
  changed(record: TransferRecord): void
  progress(id: string, received: number, size: number): void
  /** Incoming transfers waiting for a direct connection (see paths.ts). */
  readonly directWait: Set<string>
  /** Run `fn` after the retry delay, unless the node stops first. */
  later(fn: () => Promise<void>): void
}
