import { createHmac } from 'node:crypto'
import type { AbstractBatchOperation, AbstractLevel, AbstractSublevel } from 'abstract-level'
import { ErrorCode, P2pError } from '../errors.ts'
import { StoreIntegrity, SYNC, WRITES_KEY } from './integrity.ts'
import { KeyedLock } from './lock.ts'
import { PeerBook } from './peers.ts'
import { RecordSealer, type SealedRecord } from './records.ts'
import { isDamaged, ValueSealer } from './sealed-codec.ts'
import { ConversationOrder, metaKey, type PeerOrder, SEQ_WIDTH } from './order.ts'
import { END, SearchIndex, SEP } from './search-index.ts'
import type {
  HistoryOptions,
  NewIncomingMessage,
  NewOutgoingMessage,
  PeerRecord,
  SearchHit,
  SearchOptions,
  StoredMessage
} from './types.ts'

/** Any abstract-level database with string keys and values (classic-level on disk, memory-level in tests). */
export type Db = AbstractLevel<string | Buffer | Uint8Array, string, string>
export type Sub<V> = AbstractSublevel<Db, string | Buffer | Uint8Array, string, V>

/** A message waiting for its ack, with its place in the conversation. */
export interface OutboxEntry {
  seq: string
  message: StoredMessage
}

/** The outbox holds a copy of each waiting message, so that sending needs one range read. */
type OutboxValue = StoredMessage

interface PendingOut {
  msg: NewOutgoingMessage
  resolve: (entry: OutboxEntry) => void
  reject: (err: unknown) => void
}

/** A batch operation on any of our sublevels; abstract-level's types cannot mix value types in one batch. */
export type Op =
  | { type: 'put'; sublevel: object; key: string; value: unknown }
  | { type: 'del'; sublevel: object; key: string }

/** Keys sort as text: a fixed-width hex counter keeps them in insertion order. */
/** Bound on the peer-hash cache, which a flood of peer ids could otherwise grow. */
const HASH_CACHE_MAX = 10_000
const DEFAULT_HISTORY_LIMIT = 50
/** Tolerated difference between a sender's clock and ours when filtering history by time. */
const CLOCK_SKEW_MS = 3600_000

/**
 * Everything p2pnode keeps: conversations, the outbox, peers, seen ids.
 *
 * Layout (one sublevel per concern; `H(x)` is HMAC-SHA256 of peer id x under the node's secret, hex):
 * - `messages`  `H(peer)!seq` → StoredMessage          conversation order (seq is a local monotonic clock)
 * - `ids`       `H(peer)!messageId` → seq              dedupe and lookups by id
 * - `outbox`    `H(peer)!seq` → StoredMessage          our messages not yet acknowledged, in send order
 * - `peers`     `H(peer)` → { record, digest }         peers we met, contacts (see PeerBook)
 * - `words`, `pwords`, `vocab`                       the full-text index (see SearchIndex)
 * - `meta`      name → value                           node settings, the seq watermark, the write counter and
 *                                                    the store id (see StoreIntegrity)
 *
 * Every change that touches more than one key is one atomic batch. The store knows nothing of libp2p.
 */
export class Store {
  private readonly db: Db
  private readonly secret: Uint8Array
  private readonly messages: Sub<StoredMessage>
  private readonly ids: Sub<string>
  private readonly outboxDb: Sub<OutboxValue>
  readonly peers: PeerBook
  private readonly index: SearchIndex
  /** Where peers' messages go in their conversations (see order.ts). */
  private readonly order: ConversationOrder
  /** Words written to the vocabulary lately: most messages repeat words, so most vocabulary puts are skipped. */
  private readonly meta: Sub<unknown>
  private readonly hashes = new Map<string, string>()
  /** Per-peer write chains: writes for one peer happen one after another, in call order. */
  private readonly lock = new KeyedLock()
  /** Outgoing messages waiting for the next group commit, per peer. */
  private readonly outgoing = new Map<string, PendingOut[]>()
  /** The store id, the write counter and the checks that tell a damaged or swapped store (see integrity.ts). */
  readonly integrity: StoreIntegrity
  private readonly sealer: ValueSealer
  /** Told of every damaged value a read skips (the node logs it). */
  onDamaged: (where: string) => void = () => {}
  private clock = 0
  /** Message batches written to this database ever (the `writes` counter, stored with each batch). */
  private writeCount = 0

  private constructor(db: Db, secret: Uint8Array) {
    this.db = db
    this.secret = secret
    // Messages and the outbox are sealed: a value changed on disk is skipped and reported, never shown.
    this.sealer = new ValueSealer(secret)
    this.messages = db.sublevel<string, StoredMessage>('messages', { valueEncoding: this.sealer.encoding('messages') })
    this.ids = db.sublevel<string, string>('ids', { valueEncoding: 'utf8' })
    this.outboxDb = db.sublevel<string, OutboxValue>('outbox', { valueEncoding: this.sealer.encoding('outbox') })
    this.peers = new PeerBook(
      db.sublevel<string, SealedRecord<PeerRecord>>('peers', { valueEncoding: 'json' }),
      secret,
      (peerId) => this.peerKey(peerId)
    )
    this.index = new SearchIndex(
      db.sublevel<string, string>('words', { valueEncoding: 'utf8' }),
      db.sublevel<string, string>('pwords', { valueEncoding: 'utf8' }),
      db.sublevel<string, string>('vocab', { valueEncoding: 'utf8' }),
      this.messages
    )
    this.meta = db.sublevel<string, unknown>('meta', { valueEncoding: 'json' })
    this.order = new ConversationOrder({
      getMeta: (key) => this.meta.get(key),
      newest: async (ph, limit) => {
        const all = await this.messages.iterator({ gt: ph + SEP, lt: ph + END, reverse: true, limit }).all()
        return all.filter(([, m]) => !isDamaged(m)).map(([key, m]) => [key.slice(ph.length + 1), m] as const)
      },
      // Keys above the clock are free: every key ever written is at most the clock.
      taken: async (ph, seq) => Number.parseInt(seq, 16) <= this.clock && (await this.messages.get(ph + SEP + seq)) != null
    })
    const sealer = new RecordSealer(secret)
    this.integrity = new StoreIntegrity(secret, {
      db,
      sealer: this.sealer,
      meta: this.meta,
      messages: this.messages,
      outbox: this.outboxDb,
      peersRaw: db.sublevel('peers', { valueEncoding: 'json' }),
      peerKey: (peerId) => this.peerKey(peerId),
      peerSealOk: (key, value) => sealer.open(key, value as SealedRecord<PeerRecord>) != null
    })
  }

  /**
   * Open a store on an abstract-level database. `secret` keys the peer-id hashes (at least 16 bytes).
   * Throws P2pError LEVEL_LOCKED when another process holds the database.
   */
  static async open(db: Db, secret: Uint8Array): Promise<Store> {
    if (secret.byteLength < 16) throw new TypeError('secret must be at least 16 bytes')
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new P2pError(ErrorCode.LEVEL_LOCKED, 'the database is locked by another process', { cause: err })
      }
      throw err
    }
    const store = new Store(db, secret)
    store.clock = ((await store.meta.get('clock')) as number | undefined) ?? 0
    store.writeCount = ((await store.meta.get(WRITES_KEY)) as number | undefined) ?? 0
    // A store without an id was made by 0.1 (or is new): its plain values are good until they are sealed.
    store.sealer.legacy = (await store.integrity.storeId()).state === 'missing'
    return store
  }

  /** Message batches written to this database so far (see StoreIntegrity). */
  get writes(): number {
    return this.writeCount
  }

  /**
   * Close the database. The last write is synced first, so that everything before it is on disk: the write count
   * the data dir's manifest takes after this is never ahead of the database, even after a power cut.
   */
  async close(): Promise<void> {
    await this.lock.idle()
    if (this.db.status === 'open') {
      await this.meta.put(WRITES_KEY, this.writeCount, SYNC).catch(() => {})
    }
    await this.db.close()
  }

  /** Keyed hash of a peer id: the only form in which peer ids appear in keys. */
  peerKey(peerId: string): string {
    let h = this.hashes.get(peerId)
    if (h == null) {
      h = createHmac('sha256', this.secret).update(peerId).digest('hex')
      if (this.hashes.size >= HASH_CACHE_MAX) this.hashes.clear()
      this.hashes.set(peerId, h)
    }
    return h
  }

  // ---- settings ----------------------------------------------------------------------------------------------

  async getSetting<T>(name: string): Promise<T | undefined> {
    return (await this.meta.get(`setting:${name}`)) as T | undefined
  }

  async setSetting(name: string, value: unknown): Promise<void> {
    await this.meta.put(`setting:${name}`, value)
  }

  // ---- messages ----------------------------------------------------------------------------------------------

  /**
   * Store a message we write, as `pending`, and put it in the peer's outbox. Concurrent calls for one peer are
   * committed together in one atomic batch (group commit), in call order.
   */
  async addOutgoing(msg: NewOutgoingMessage): Promise<OutboxEntry> {
    const { promise, resolve, reject } = Promise.withResolvers<OutboxEntry>()
    let queue = this.outgoing.get(msg.peer)
    if (queue == null) {
      queue = []
      this.outgoing.set(msg.peer, queue)
      void this.lock.run(msg.peer, () => this.commitOutgoing(msg.peer))
    }
    queue.push({ msg, resolve, reject })
    return promise
  }

  private async commitOutgoing(peer: string): Promise<void> {
    const queue = this.outgoing.get(peer) ?? []
    this.outgoing.delete(peer)
    const ph = this.peerKey(peer)
    const ops: Op[] = []
    let after: number
    try {
      after = (await this.order.state(ph)).lastTimestamp
    } catch (err) {
      for (const q of queue) q.reject(err)
      return
    }
    const entries = queue.map(({ msg }) => {
      const seq = this.nextSeq()
      const message: StoredMessage = {
        id: msg.id,
        peer: msg.peer,
        from: msg.from,
        to: msg.peer,
        text: msg.text,
        // The clock's time, not the caller's: our timestamps then never go back, and match our order.
        timestamp: msOf(seq),
        direction: 'out',
        status: 'pending',
        ...(msg.replyTo != null ? { replyTo: msg.replyTo } : {}),
        ...(after > 0 ? { after } : {})
      }
      ops.push(...this.messageOps(ph, seq, message), {
        type: 'put',
        sublevel: this.outboxDb,
        key: ph + SEP + seq,
        value: message
      })
      return { seq, message }
    })
    ops.push({ type: 'put', sublevel: this.meta, key: 'clock', value: this.clock })
    try {
      await this.write(ops)
      for (const [i, q] of queue.entries()) q.resolve(entries[i])
    } catch (err) {
      for (const q of queue) q.reject(err)
    }
  }

  /**
   * Store messages a peer sent us, in order, in one batch, and return the ones that are new. A message whose id
   * from that peer is already stored (a resend after a lost ack) is skipped.
   */
  async addIncoming(msgs: NewIncomingMessage[]): Promise<StoredMessage[]> {
    if (msgs.length === 0) return []
    const peer = msgs[0].peer
    if (msgs.some((m) => m.peer !== peer)) throw new TypeError('addIncoming takes messages from one peer')
    return this.lock.run(peer, async () => {
      const ph = this.peerKey(peer)
      const known = await this.ids.getMany(msgs.map((m) => ph + SEP + m.id))
      const seen = new Set<string>()
      const fresh = msgs.filter((msg, i) => {
        if (known[i] != null || seen.has(msg.id)) return false
        seen.add(msg.id)
        return true
      })
      if (fresh.length === 0) return []
      const { seqs, next } = await this.order.place(ph, fresh, Date.now() * 1000)
      const ops: Op[] = []
      const added: StoredMessage[] = []
      fresh.forEach((msg, i) => {
        const seq = seqs[i]
        const message: StoredMessage = {
          id: msg.id,
          peer,
          from: peer,
          to: msg.to,
          text: msg.text,
          timestamp: msg.timestamp,
          direction: 'in',
          status: 'received',
          ...(msg.replyTo != null ? { replyTo: msg.replyTo } : {}),
          ...(msg.after != null && msg.after > 0 ? { after: msg.after } : {})
        }
        ops.push(...this.messageOps(ph, seq, message))
        added.push(message)
      })
      this.clock = Math.max(this.clock, next.lastSeq)
      ops.push(
        { type: 'put', sublevel: this.meta, key: 'clock', value: this.clock },
        { type: 'put', sublevel: this.meta, key: metaKey(ph), value: next }
      )
      await this.write(ops)
      this.order.remember(ph, next)
      return added
    })
  }

  /** Mark outbox entries delivered and take them out of the outbox (one batch). */
  async markDelivered(peer: string, entries: OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return
    await this.lock.run(peer, async () => {
      const ph = this.peerKey(peer)
      await this.write(
        entries.flatMap(({ seq, message }): Op[] => [
          { type: 'put', sublevel: this.messages, key: ph + SEP + seq, value: { ...message, status: 'delivered' } },
          { type: 'del', sublevel: this.outboxDb, key: ph + SEP + seq }
        ])
      )
    })
  }

  /** Take entries out of the outbox, leaving their messages as they are (a file entry that will never be offered). */
  async unqueue(peer: string, entries: OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return
    const ph = this.peerKey(peer)
    await this.lock.run(peer, () =>
      this.write(entries.map(({ seq }): Op => ({ type: 'del', sublevel: this.outboxDb, key: ph + SEP + seq })))
    )
  }

  /** The outbox entry of a message, if it still waits there. */
  async outboxEntry(peer: string, id: string): Promise<OutboxEntry | undefined> {
    const ph = this.peerKey(peer)
    const seq = await this.ids.get(ph + SEP + id)
    const message = seq == null ? undefined : await this.outboxDb.get(ph + SEP + seq)
    return seq != null && message != null && this.usable(message, `outbox ${id}`) ? { seq, message } : undefined
  }

  /** The peer's unacknowledged messages, oldest first, starting after `afterSeq`. */
  async outbox(peer: string, options: { afterSeq?: string; limit?: number } = {}): Promise<OutboxEntry[]> {
    const ph = this.peerKey(peer)
    const range = {
      gt: options.afterSeq != null ? ph + SEP + options.afterSeq : ph + SEP,
      lt: ph + END,
      limit: options.limit ?? 256
    }
    const entries = await this.outboxDb.iterator(range).all()
    return entries
      .filter(([key, message]) => this.usable(message, `outbox ${key}`))
      .map(([key, message]) => ({ seq: key.slice(ph.length + 1), message }))
  }

  /** Peer ids that have messages waiting in the outbox. */
  async peersWithOutbox(): Promise<string[]> {
    const peers: string[] = []
    let from = ''
    for (;;) {
      const [entry] = await this.outboxDb.iterator({ gte: from, limit: 1 }).all()
      if (entry == null) return peers
      if (this.usable(entry[1], `outbox ${entry[0]}`)) peers.push(entry[1].peer)
      from = entry[0].slice(0, entry[0].indexOf(SEP)) + END
    }
  }

  /** Number of messages in a peer's outbox. */
  async outboxSize(peer: string): Promise<number> {
    const ph = this.peerKey(peer)
    return (await this.outboxDb.keys({ gt: ph + SEP, lt: ph + END }).all()).length
  }

  /**
   * The last `limit` messages of a conversation, oldest first, optionally only those sent before/after a time
   * (the sender's timestamp, the time shown).
   */
  async history(peer: string, options: HistoryOptions = {}): Promise<StoredMessage[]> {
    const ph = this.peerKey(peer)
    const limit = options.limit ?? DEFAULT_HISTORY_LIMIT
    const { before, after } = options
    if (before == null && after == null) {
      const values = await this.messages.values({ gt: ph + SEP, lt: ph + END, reverse: true, limit }).all()
      return values.filter((m) => this.usable(m, `a message with ${peer}`)).reverse()
    }
    // A message is stored (seq) no earlier than it was sent, give or take clock skew: messages sent after `after`
    // are all in the seq range from `after - skew`, so the scan can start there.
    const from = after != null ? ph + SEP + seqOf(after - CLOCK_SKEW_MS) : ph + SEP
    const out: StoredMessage[] = []
    for await (const m of this.messages.values({ gt: from, lt: ph + END, reverse: true })) {
      if (!this.usable(m, `a message with ${peer}`)) continue
      if ((before == null || m.timestamp < before) && (after == null || m.timestamp > after)) out.push(m)
      if (out.length >= limit) break
    }
    return out.reverse()
  }

  /** Messages whose words start with every term of `query`, newest first (see SearchIndex.search). */
  async search(query: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    return this.index.search(query, {
      ph: options.peer != null ? this.peerKey(options.peer) : undefined,
      limit: options.limit
    })
  }

  /** Every stored message, conversation by conversation, oldest first within each (for export). */
  async *messagesAll(): AsyncIterable<StoredMessage> {
    for await (const m of this.messages.values()) if (this.usable(m, 'a message')) yield m
  }

  /** Whether one of the newest `limit` entries of the conversation is ours (a message or a file we sent). */
  async hasWritten(peer: string, limit = 1000): Promise<boolean> {
    const ph = this.peerKey(peer)
    for await (const m of this.messages.values({ gt: ph + SEP, lt: ph + END, reverse: true, limit })) {
      if (m.direction === 'out') return true
    }
    return false
  }

  /** A message by peer and id, or undefined. */
  async getMessage(peer: string, id: string): Promise<StoredMessage | undefined> {
    const ph = this.peerKey(peer)
    const seq = await this.ids.get(ph + SEP + id)
    const message = seq == null ? undefined : await this.messages.get(ph + SEP + seq)
    return message != null && this.usable(message, `message ${id}`) ? message : undefined
  }

  // ---- file entries (records of the transfers themselves: see transfers.ts) ---------------------------------

  /** A sublevel of this database, for a store of another concern that must batch with this one. */
  sublevel<V>(name: string, valueEncoding: 'json' | 'utf8'): Sub<V> {
    return this.db.sublevel<string, V>(name, { valueEncoding })
  }

  /**
   * Add a file entry to a conversation, in conversation order, in one atomic batch with `ops` (the caller's own
   * records). `message.id` is the transfer id. With `outbox`, one we send also waits in the outbox, in order with
   * the texts: the chat session has it offered when its turn comes.
   */
  async addFileMessage(
    message: Omit<StoredMessage, 'kind'>,
    ops: Op[] | ((stored: StoredMessage) => Op[]) = [],
    options: { outbox?: boolean } = {}
  ): Promise<StoredMessage> {
    return this.lock.run(message.peer, async () => {
      const ph = this.peerKey(message.peer)
      let seq: string
      let stored: StoredMessage
      const orderOps: Op[] = []
      let placedNext: PeerOrder | undefined
      if (message.direction === 'out') {
        // Ours: the clock's time, and the newest of theirs we had (as for texts).
        seq = this.nextSeq()
        const after = (await this.order.state(ph)).lastTimestamp
        stored = { ...message, timestamp: msOf(seq), ...(after > 0 ? { after } : {}), kind: 'file' }
      } else {
        // Theirs: placed like their texts.
        const placed = await this.order.place(ph, [message], Date.now() * 1000)
        seq = placed.seqs[0]
        this.clock = Math.max(this.clock, placed.next.lastSeq)
        orderOps.push({ type: 'put', sublevel: this.meta, key: metaKey(ph), value: placed.next })
        stored = { ...message, kind: 'file' }
        placedNext = placed.next
      }
      await this.write([
        ...(typeof ops === 'function' ? ops(stored) : ops),
        ...orderOps,
        { type: 'put', sublevel: this.messages, key: ph + SEP + seq, value: stored },
        { type: 'put', sublevel: this.ids, key: ph + SEP + message.id, value: seq },
        ...(options.outbox === true ? [{ type: 'put' as const, sublevel: this.outboxDb, key: ph + SEP + seq, value: stored }] : []),
        { type: 'put', sublevel: this.meta, key: 'clock', value: this.clock }
      ])
      if (placedNext != null) this.order.remember(ph, placedNext)
      return stored
    })
  }

  /** Set the stored status of a message (e.g. a file offer the peer has acknowledged). */
  async setMessageStatus(peer: string, id: string, status: StoredMessage['status']): Promise<void> {
    await this.lock.run(peer, async () => {
      const ph = this.peerKey(peer)
      const seq = await this.ids.get(ph + SEP + id)
      const message = seq == null ? undefined : await this.messages.get(ph + SEP + seq)
      if (message == null || isDamaged(message) || message.status === status) return
      await this.write([{ type: 'put', sublevel: this.messages, key: ph + SEP + seq, value: { ...message, status } }])
    })
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  /**
   * Rebuild what can be rebuilt from the messages: the id lookups and the search index (`p2pnode doctor --repair`).
   * Each is cleared, then written again from the messages that pass their check, in batches. Returns the count.
   */
  async rebuildIndexes(): Promise<number> {
    await this.lock.idle()
    for (const name of ['ids', 'words', 'pwords', 'vocab']) await this.db.sublevel(name).clear()
    this.index.writeFailed() // forget which words are in the vocabulary: none are now
    let ops: Op[] = []
    let count = 0
    for await (const [key, m] of this.messages.iterator()) {
      if (isDamaged(m)) continue
      const [ph, seq] = key.split(SEP)
      ops.push({ type: 'put', sublevel: this.ids, key: ph + SEP + m.id, value: seq }, ...this.index.ops(ph, seq, m.text ?? ''))
      count++
      if (ops.length >= 2000) {
        await this.write(ops)
        ops = []
      }
    }
    if (ops.length > 0) await this.write(ops)
    return count
  }

  /** False (and reported) for a value that failed its integrity check. */
  private usable(value: unknown, where: string): boolean {
    if (!isDamaged(value)) return true
    this.onDamaged(where)
    return false
  }

  /** A local clock in µs that never goes back, even across restarts (the watermark is stored with each message). */
  private nextSeq(): string {
    this.clock = Math.max(Date.now() * 1000, this.clock + 1)
    return this.clock.toString(16).padStart(SEQ_WIDTH, '0')
  }


  /** A new message, its id and its index entries: always written together. */
  private messageOps(ph: string, seq: string, message: StoredMessage): Op[] {
    return [
      { type: 'put', sublevel: this.messages, key: ph + SEP + seq, value: message },
      { type: 'put', sublevel: this.ids, key: ph + SEP + message.id, value: seq },
      ...this.index.ops(ph, seq, message.text)
    ]
  }

  /** One atomic LevelDB batch, counted (the counter is written in the same batch). */
  private async write(ops: Op[]): Promise<void> {
    // Counted before the write: batches for different peers may land in either order, and a failed one only
    // leaves a gap. The exact count is written (synced) on close.
    const counted: Op[] = [...ops, { type: 'put', sublevel: this.meta, key: WRITES_KEY, value: ++this.writeCount }]
    try {
      await this.db.batch(counted as unknown as Array<AbstractBatchOperation<Db, string, string>>)
    } catch (err) {
      this.index.writeFailed()
      throw err
    }
  }
}

/** The time in ms of a seq key. */
function msOf(seq: string): number {
  return Math.floor(Number.parseInt(seq, 16) / 1000)
}

/** The seq key of a time in ms (seq is a µs clock). */
function seqOf(ms: number): string {
  return Math.max(0, Math.floor(ms * 1000))
    .toString(16)
    .padStart(SEQ_WIDTH, '0')
}
