import { KeyedLock } from './lock.ts'
import { END, type Op, type Parts, SEP, type Sub } from './keys.ts'
import type { OutboxEntry, StoredMessage } from './types.ts'

/** What transfers need of the store: its sublevels, the conversation entries and the outbox. */
export interface TransferHost {
  readonly parts: Parts
  addFileMessage(
    message: Omit<StoredMessage, 'kind'>,
    ops: Op[] | ((stored: StoredMessage) => Op[]),
    options?: { outbox?: boolean; kind?: 'file' | 'voice' }
  ): Promise<StoredMessage>
  outboxEntry(peer: string, id: string): Promise<OutboxEntry | undefined>
  unqueue(peer: string, entries: OutboxEntry[]): Promise<void>
  markDelivered(peer: string, entries: OutboxEntry[]): Promise<void>
  setMessageStatus(peer: string, id: string, status: StoredMessage['status']): Promise<void>
  getMessage(peer: string, id: string): Promise<StoredMessage | undefined>
  outbox(peer: string, options?: { afterSeq?: string; limit?: number }): Promise<OutboxEntry[]>
}

/** Where a transfer stands; the same words on both sides. */
export type TransferStatus = 'offered' | 'waiting' | 'transferring' | 'complete' | 'failed' | 'cancelled'

/** Statuses after which nothing more happens to a transfer. */
export const FINAL_STATUSES: ReadonlySet<TransferStatus> = new Set(['complete', 'failed', 'cancelled'])

export interface TransferRecord {
  /** 32 hex characters, chosen by the sender; also the id of the transfer's entry in the conversation. */
  id: string
  peer: string
  /** `out`: we send the file; `in`: we receive it. */
  direction: 'in' | 'out'
  /** out: the file's base name as offered; in: the safe name we chose from the peer's suggestion. */
  name: string
  size: number
  mime: string
  chunkSize: number
  /** SHA-256 of the whole file, hex; '' for a transfer of offer version 3, known by `root` instead. */
  sha256: string
  /**
   * Offer version 3: the root of the file's BLAKE3 hash tree (hex), its identity; its chunk hashes (stored as for
   * the other versions) are the tree's leaves. Absent for versions 1 and 2.
   */
  root?: string
  /** Sender's clock when offered, ms since the epoch. */
  timestamp: number
  status: TransferStatus
  /** out: the file we send; in: where the verified file is, once complete ('' before). */
  path: string
  /** in: the file being written, renamed to `path` once verified. */
  tempPath?: string
  /** out: size and mtime of the file when offered; a file changed since is not sent. */
  source?: { size: number; mtimeMs: number }
  /** Why a transfer failed or was refused. */
  error?: string
  /** Why it waits for the receiver's accept, in the receiver's words (for the sender's user). */
  waitReason?: string
  /**
   * out: the conversation entry waits in the chat outbox, and the chat session has the file offered when its turn
   * comes (after the texts sent before it). Transfers from 0.1 have no such entry and are offered on connect.
   */
  queued?: boolean
  /** out: StoredMessage.after of its entry, sent with the offer; in: as the sender sent it. */
  after?: number
  /**
   * in, offer version 2: SHA-256 of the chunk hash list (hex), which is fetched once the transfer is accepted. Absent
   * for a version-1 offer, whose list came with it (and was kept only if it was accepted at once).
   */
  listSha256?: string
  /** A voice note (Offer.voice): shown as one, transcribed on each side, auto-accepted within MAX_VOICE_BYTES. */
  voice?: boolean
}

/** Chunk indices sort as fixed-width hex. */
const INDEX_WIDTH = 8

/**
 * File transfers, on the store's database (so that a transfer and its conversation entry are written together).
 *
 * - `transfers`        `id` → TransferRecord
 * - `transfer-hashes`  `id` → the chunk hashes, concatenated 32-byte digests as base64 (written once)
 * - `transfer-chunks`  `id!index` → '' for each chunk received and verified (receiver side; cleared when done)
 */
export class Transfers {
  private readonly store: TransferHost
  private readonly records: Sub<TransferRecord>
  private readonly hashesDb: Sub<string>
  private readonly chunks: Sub<string>
  /** Per-transfer write chains: read-modify-write updates of one record happen one after another. */
  private readonly recordLock = new KeyedLock()
  /** Verified-chunk records waiting for their transfer's next batch. */
  private readonly verifiedBatches = new Map<string, { keys: string[]; written: PromiseWithResolvers<void> }>()
  /** Per-transfer order of verified-chunk writes and clears. */
  private readonly chunkLock = new KeyedLock()

  constructor(store: TransferHost) {
    this.store = store
    this.records = store.parts.transfers
    this.hashesDb = store.parts.transferHashes
    this.chunks = store.parts.transferChunks
  }

  /**
   * Record a new transfer, its chunk hashes and its entry in the conversation, in one batch. One we send takes its
   * timestamp and `after` from its entry (the store's clock and order: see order.ts).
   */
  async create(record: TransferRecord, hashes: Uint8Array, from: string, to: string): Promise<StoredMessage> {
    const ops = (entry: StoredMessage): Op[] => {
      const value: TransferRecord =
        record.direction === 'out'
          ? { ...record, timestamp: entry.timestamp, ...(entry.after != null ? { after: entry.after } : {}) }
          : record
      return [
        { type: 'put', sublevel: this.records, key: record.id, value },
        { type: 'put', sublevel: this.hashesDb, key: record.id, value: Buffer.from(hashes).toString('base64') }
      ]
    }
    return this.store.addFileMessage(
      {
        id: record.id,
        peer: record.peer,
        from,
        to,
        text: '',
        timestamp: record.timestamp,
        direction: record.direction,
        status: record.direction === 'out' ? 'pending' : 'received',
        file: {
          name: record.name,
          size: record.size,
          sha256: record.sha256,
          ...(record.root != null ? { root: record.root } : {}),
          mime: record.mime
        },
        ...(record.direction === 'in' && record.after != null ? { after: record.after } : {})
      },
      ops,
      { outbox: record.queued === true, kind: record.voice === true ? 'voice' : 'file' }
    )
  }

  async get(id: string): Promise<TransferRecord | undefined> {
    return this.records.get(id)
  }

  async list(): Promise<TransferRecord[]> {
    return this.records.values().all()
  }

  /** Change a record; returns the new one (undefined if there is none). */
  async update(id: string, patch: Partial<Omit<TransferRecord, 'id'>>): Promise<TransferRecord | undefined> {
    return this.recordLock.run(id, async () => {
      const prev = await this.records.get(id)
      if (prev == null) return undefined
      const next = { ...prev, ...patch }
      await this.records.put(id, next)
      return next
    })
  }

  async hashes(id: string): Promise<Uint8Array<ArrayBuffer>> {
    const b64 = await this.hashesDb.get(id)
    return b64 == null ? new Uint8Array(0) : new Uint8Array(Buffer.from(b64, 'base64'))
  }

  /** Keep the chunk hashes of an accepted transfer that had none stored (fetched or offered again). */
  async setHashes(id: string, hashes: Uint8Array): Promise<void> {
    await this.hashesDb.put(id, Buffer.from(hashes).toString('base64'))
  }

  /** Indices of the chunks received and verified so far, ascending. */
  async verified(id: string): Promise<number[]> {
    const keys = await this.chunks.keys({ gt: id + SEP, lt: id + END }).all()
    return keys.map((k) => Number.parseInt(k.slice(id.length + 1), 16))
  }

  /**
   * Record a chunk as received and verified. Calls for one transfer are group-committed: while one batch is being
   * written, the chunks that arrive meanwhile gather into the next (one LevelDB write per batch, not per chunk).
   * Resolves once this chunk's batch is written.
   */
  async addVerified(id: string, index: number): Promise<void> {
    let batch = this.verifiedBatches.get(id)
    if (batch == null) {
      const next = { keys: [] as string[], written: Promise.withResolvers<void>() }
      this.verifiedBatches.set(id, next)
      void this.chunkLock.run(id, async () => {
        this.verifiedBatches.delete(id) // chunks from now on go into the next batch
        try {
          await this.chunks.batch(next.keys.map((key) => ({ type: 'put', key, value: '' })))
          next.written.resolve()
        } catch (err) {
          next.written.reject(err)
        }
      })
      batch = next
    }
    batch.keys.push(id + SEP + index.toString(16).padStart(INDEX_WIDTH, '0'))
    return batch.written.promise
  }

  /** Forget which chunks were verified (the transfer is over, or starts again from nothing). */
  async clearVerified(id: string): Promise<void> {
    await this.chunkLock.run(id, () => this.chunks.clear({ gt: id + SEP, lt: id + END }))
  }

  /** Take a queued transfer's entry out of the chat outbox (cancelled before it was offered). */
  async unqueue(record: TransferRecord): Promise<void> {
    const entry = await this.store.outboxEntry(record.peer, record.id)
    if (entry != null) await this.store.unqueue(record.peer, [entry])
  }

  /** Whether the peer answered our offer (the conversation entry is `delivered`). */
  async offerDelivered(record: TransferRecord): Promise<boolean> {
    return (await this.store.getMessage(record.peer, record.id))?.status === 'delivered'
  }

  /** Record that the peer has our offer (the conversation entry becomes `delivered`, and leaves the outbox). */
  async markOfferDelivered(record: TransferRecord): Promise<void> {
    const entry = record.queued === true ? await this.store.outboxEntry(record.peer, record.id) : undefined
    if (entry != null) await this.store.markDelivered(record.peer, [entry])
    else await this.store.setMessageStatus(record.peer, record.id, 'delivered')
  }

  /** Whether a queued transfer's entry is the first in the peer's outbox (nothing sent before it still waits). */
  async nextInOutbox(record: TransferRecord): Promise<boolean> {
    const [first] = await this.store.outbox(record.peer, { limit: 1 })
    return first?.message.id === record.id
  }
}
