import { createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import type { AbstractBatchOperation } from 'abstract-level'
import { ErrorCode, P2pError } from '../errors.ts'
import { Codec, unreadable } from './codec.ts'
import { StoreIntegrity, SYNC } from './integrity.ts'
import {
  type Conversation,
  type Db,
  dmConversation,
  END,
  key,
  LAYOUT,
  LAYOUT1,
  META,
  type Op,
  openLayout1,
  openParts,
  type Parts,
  SEP,
  SEQ_WIDTH,
  type Sub,
  under
} from './keys.ts'
import { GroupBook } from './groups.ts'
import { KeyedLock } from './lock.ts'
import { migrate, type MigrateOptions } from './migrate.ts'
import { PeerBook } from './peers.ts'
import { RecordSealer } from './records.ts'
import { isDamaged } from './sealed-codec.ts'
import { ConversationOrder, metaKey, type OrderRef, type PeerOrder } from './order.ts'
import { SearchIndex } from './search-index.ts'
import type {
  HistoryOptions,
  NewIncomingMessage,
  NewOutgoingMessage,
  OutboxEntry,
  OutboxRecord,
  SearchHit,
  SearchOptions,
  StoredMessage
} from './types.ts'

export type { Db, Op, Sub } from './keys.ts'
export type { OutboxEntry } from './types.ts'


interface PendingOut {
  msg: NewOutgoingMessage
  resolve: (entry: OutboxEntry) => void
  reject: (err: unknown) => void
}

/** Bound on the peer-hash cache, which a flood of peer ids could otherwise grow. */
const HASH_CACHE_MAX = 10_000
const DEFAULT_HISTORY_LIMIT = 50
/** Tolerated difference between a sender's clock and ours when filtering history by time. */
const CLOCK_SKEW_MS = 3600_000

export interface StoreOpenOptions {
  /**
   * Migrate a store of an earlier layout at once (see migrate.ts). The node opens with `false`, checks the store
   * against its key files, then calls `upgrade()`: a store must not be rewritten under a secret that is not its own.
   * @default true
   */
  upgrade?: boolean
}

/**
 * Everything p2pnode keeps: the conversation log, the outbox, peers, groups, settings. The keys and sublevels are
 * described in keys.ts; every change that touches more than one key is one atomic batch. The store knows nothing of
 * libp2p.
 *
 * The methods that take a peer work on the one-to-one conversation with that peer (`dm:H(peer)`).
 */
export class Store {
  private readonly db: Db
  /** The store secret as a KeyObject, made once (see ValueSealer). */
  private readonly secret: KeyObject
  /** The sublevels (see keys.ts). */
  readonly parts: Parts
  readonly codec: Codec
  private readonly messages: Sub<StoredMessage>
  private readonly ids: Sub<string>
  private readonly outboxDb: Sub<OutboxRecord>
  readonly peers: PeerBook
  /** Groups we are (or were) in: see groups.ts. */
  readonly groups: GroupBook
  private readonly index: SearchIndex
  /** Where peers' messages go in their conversations (see order.ts). */
  private readonly order: ConversationOrder
  private readonly meta: Sub<unknown>
  private readonly hashes = new Map<string, string>()
  /** Per-conversation write chains: writes to one conversation happen one after another, in call order. */
  private readonly lock = new KeyedLock()
  /** Outgoing messages waiting for the next group commit, per peer. */
  private readonly outgoing = new Map<string, PendingOut[]>()
  /** The store id, the write counter and the checks that tell a damaged or swapped store (see integrity.ts). */
  readonly integrity: StoreIntegrity
  /** Told of every damaged value a read skips (the node logs it). */
  onDamaged: (where: string) => void = () => {}
  private clock = 0
  /** Message batches written to this database ever (the `writes` counter, stored with each batch). */
  private writeCount = 0
  /** The layout on disk: LAYOUT, or 1 until `upgrade()` (only the integrity checks work then). */
  private layoutOnDisk = LAYOUT

  private constructor(db: Db, secret: Uint8Array) {
    this.db = db
    this.secret = createSecretKey(secret)
    this.codec = new Codec(secret)
    this.parts = openParts(db, this.codec)
    // Entries and the outbox are sealed: a value changed on disk is skipped and reported, never shown.
    this.messages = this.parts.log
    this.ids = this.parts.ids
    this.outboxDb = this.parts.outbox
    this.meta = this.parts.meta
    this.peers = new PeerBook(this.parts.peers, secret, (peerId) => this.peerKey(peerId))
    this.groups = new GroupBook(this)
    this.index = new SearchIndex(this.parts.words, this.parts.convWords, this.parts.vocab, this.messages, this.parts.voice)
    this.order = new ConversationOrder({
      getMeta: (k) => this.meta.get(k),
      newest: async (conv, limit) => {
        const all = await this.messages.iterator({ ...under(conv), reverse: true, limit }).all()
        return all.filter(([, m]) => !isDamaged(m)).map(([k, m]) => [k.slice(conv.length + 1), m] as const)
      },
      // Keys above the clock are free: every key ever written is at most the clock.
      taken: async (conv, seq) => Number.parseInt(seq, 16) <= this.clock && (await this.messages.get(key(conv, seq))) != null
    })
    const sealer = new RecordSealer(secret)
    this.integrity = new StoreIntegrity(secret, {
      db,
      meta: this.meta,
      layout: () => this.layoutOnDisk,
      current: { messages: this.messages, outbox: this.outboxDb },
      layout1: openLayout1(db, this.codec),
      raw: this.parts.raw,
      peersRaw: this.parts.peers,
      peerKey: (peerId) => this.peerKey(peerId),
      peerSealOk: (k, value) => sealer.open(k, value as never) != null
    })
  }

  /**
   * Open a store on an abstract-level database. `secret` keys the peer-id hashes (at least 16 bytes).
   * Throws P2pError LEVEL_LOCKED when another process holds the database, STORE_DAMAGED (problem
   * `unknown-version`) when it was written in a layout newer than this version knows.
   */
  static async open(db: Db, secret: Uint8Array, options: StoreOpenOptions = {}): Promise<Store> {
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
    try {
      await store.readLayout()
      store.clock = ((await store.meta.get(META.clock)) as number | undefined) ?? 0
      store.writeCount = ((await store.meta.get(META.writes)) as number | undefined) ?? 0
      // A layout-1 store without an id was made by 0.1: its plain values are good until the migration seals them.
      store.codec.legacySealer.legacy = (await store.integrity.storeId()).state === 'missing'
      if (options.upgrade !== false) await store.upgrade()
      if (store.layout >= LAYOUT) await store.groups.load()
    } catch (err) {
      await db.close().catch(() => {})
      throw decodeError(err)
    }
    return store
  }

  /** Which layout the database holds; a new one is marked with this version's. */
  private async readLayout(): Promise<void> {
    // Read raw: a layout-1 store has no layout key, and its meta values no version.
    const text = await this.parts.raw(META_SUBLEVEL).get(META.layout)
    if (text != null) {
      const value = JSON.parse(text) as { v?: unknown; value?: unknown }
      if (value.v !== 1 || typeof value.value !== 'number') throw unreadable('meta', `of layout ${text}`)
      if (value.value > LAYOUT) throw unreadable('meta', `of layout ${value.value} (this p2pnode knows layouts up to ${LAYOUT})`)
      this.layoutOnDisk = value.value
    } else {
      const old = await Promise.all(
        [LAYOUT1.messages, LAYOUT1.outbox, 'peers', 'meta', 'transfers'].map(async (name) => (await this.parts.raw(name).keys({ limit: 1 }).all()).length)
      )
      this.layoutOnDisk = old.some((n) => n > 0) ? 1 : LAYOUT
      if (this.layoutOnDisk === LAYOUT) await this.meta.put(META.layout, LAYOUT)
    }
    this.codec.legacy = this.layoutOnDisk < LAYOUT
  }

  /** The layout on disk (1 until a store of an earlier version is upgraded). */
  get layout(): number {
    return this.layoutOnDisk
  }

  /**
   * Move a store of an earlier layout to this one (see migrate.ts): once, in batches, resumable (a crash leaves
   * a store that the next `upgrade()` finishes). Returns how many messages were moved; 0 when there was nothing to do.
   */
  async upgrade(options: MigrateOptions = {}): Promise<number> {
    if (this.layoutOnDisk >= LAYOUT) {
      // A migration that stopped after its last step leaves the old sublevels to clear.
      await migrate.clearLayout1(this.parts)
      return 0
    }
    const moved = await migrate.run(this.migrationHost(), options)
    this.layoutOnDisk = LAYOUT
    await this.groups.load()
    this.codec.legacy = false
    this.codec.legacySealer.legacy = false
    this.clock = ((await this.meta.get(META.clock)) as number | undefined) ?? this.clock
    return moved
  }

  private migrationHost() {
    return {
      parts: this.parts,
      openLegacy: (text: string) => this.codec.legacySealer.open<StoredMessage>(text),
      indexOps: (conv: string, seq: string, text: string) => this.index.ops(conv, seq, text),
      write: (ops: Op[]) => this.write(ops)
    }
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
    if (this.db.status === 'open' && this.layoutOnDisk >= LAYOUT) {
      await this.meta.put(META.writes, this.writeCount, SYNC).catch(() => {})
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

  /** The one-to-one conversation with a peer. */
  dm(peerId: string): Conversation {
    return dmConversation(this.peerKey(peerId))
  }

  /** The conversation an entry belongs to (a group's, or the one with `peer`). */
  conversationOf(message: Pick<StoredMessage, 'peer' | 'group'>): Conversation {
    return message.group != null ? `group:${message.group}` : this.dm(message.peer)
  }

  // ---- settings ----------------------------------------------------------------------------------------------

  async getSetting<T>(name: string): Promise<T | undefined> {
    return (await this.meta.get(META.setting(name))) as T | undefined
  }

  async setSetting(name: string, value: unknown): Promise<void> {
    await this.meta.put(META.setting(name), value)
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
      void this.lock.run(this.dm(msg.peer), () => this.commitOutgoing(msg.peer))
    }
    queue.push({ msg, resolve, reject })
    return promise
  }

  private async commitOutgoing(peer: string): Promise<void> {
    const queue = this.outgoing.get(peer) ?? []
    this.outgoing.delete(peer)
    const conv = this.dm(peer)
    const ph = this.peerKey(peer)
    const ops: Op[] = []
    let after: number
    try {
      after = (await this.order.state({ conv })).lastTimestamp
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
      ops.push(...this.entryOps(conv, seq, message), this.outboxPut(ph, seq, peer, message))
      return { seq, message }
    })
    ops.push(this.clockPut())
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
    const conv = this.dm(peer)
    return this.lock.run(conv, () =>
      this.placeIncoming({ conv }, msgs, (msg) => ({
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
      }))
    )
  }

  /**
   * Store entries from one sender in conversation order (call under the conversation's lock), skipping those
   * already stored; `extra` are written in the same batch. Returns the new entries.
   */
  async placeIncoming<M extends { id: string; timestamp: number; after?: number }>(
    ref: OrderRef,
    msgs: M[],
    entryOf: (msg: M) => StoredMessage,
    extra: Op[] = []
  ): Promise<StoredMessage[]> {
    const { conv } = ref
    const known = await this.ids.getMany(msgs.map((m) => key(conv, m.id)))
    const seen = new Set<string>()
    const fresh = msgs.filter((msg, i) => {
      if (known[i] != null || seen.has(msg.id)) return false
      seen.add(msg.id)
      return true
    })
    if (fresh.length === 0 && extra.length === 0) return []
    const { seqs, next } = await this.order.place(ref, fresh, Date.now() * 1000)
    const ops: Op[] = [...extra]
    const added = fresh.map((msg, i) => {
      const message = entryOf(msg)
      ops.push(...this.entryOps(conv, seqs[i], message))
      return message
    })
    if (fresh.length > 0) {
      this.clock = Math.max(this.clock, next.lastSeq)
      ops.push(this.clockPut(), { type: 'put', sublevel: this.meta, key: metaKey(ref), value: next })
    }
    await this.write(ops)
    if (fresh.length > 0) this.order.remember(ref, next)
    return added
  }

  /** Mark outbox entries delivered and take them out of the outbox (one batch). */
  async markDelivered(peer: string, entries: OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return
    const dm = entries.filter((e) => e.message.group == null)
    const ph = this.peerKey(peer)
    if (dm.length > 0) {
      const conv = this.dm(peer)
      await this.lock.run(conv, () =>
        this.write(
          dm.flatMap(({ seq, message }): Op[] => [
            { type: 'put', sublevel: this.messages, key: key(conv, seq), value: { ...message, status: 'delivered' } },
            { type: 'del', sublevel: this.outboxDb, key: key(ph, seq) }
          ])
        )
      )
    }
    // In a group: the recipient joins the entry's deliveredTo; delivered once every recipient has it.
    for (const { seq, message } of entries.filter((e) => e.message.group != null)) {
      const conv = this.conversationOf(message)
      await this.lock.run(conv, async () => {
        const current = await this.messages.get(key(conv, seq))
        const ops: Op[] = [{ type: 'del', sublevel: this.outboxDb, key: key(ph, seq) }]
        if (current != null && !isDamaged(current)) {
          const deliveredTo = [...new Set([...(current.deliveredTo ?? []), peer])]
          const all = (current.recipients ?? []).every((r) => deliveredTo.includes(r) || current.refusedBy?.includes(r) === true)
          ops.push({
            type: 'put',
            sublevel: this.messages,
            key: key(conv, seq),
            value: { ...current, deliveredTo, status: all ? 'delivered' : current.status }
          })
        }
        await this.write(ops)
      })
    }
  }

  /** The peer refused these group entries: out of its outbox, and it joins each entry's refusedBy (one batch each). */
  async markRefused(peer: string, entries: OutboxEntry[]): Promise<void> {
    const ph = this.peerKey(peer)
    for (const { seq, message } of entries) {
      const conv = this.conversationOf(message)
      await this.lock.run(conv, async () => {
        const current = await this.messages.get(key(conv, seq))
        const ops: Op[] = [{ type: 'del', sublevel: this.outboxDb, key: key(ph, seq) }]
        if (current != null && !isDamaged(current) && current.direction === 'out') {
          ops.push({
            type: 'put',
            sublevel: this.messages,
            key: key(conv, seq),
            value: { ...current, refusedBy: [...new Set([...(current.refusedBy ?? []), peer])] }
          })
        }
        await this.write(ops)
      })
    }
  }

  /** Take entries out of the outbox, leaving their messages as they are (a file entry that will never be offered). */
  async unqueue(peer: string, entries: OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return
    const ph = this.peerKey(peer)
    await this.lock.run(this.dm(peer), () =>
      this.write(entries.map(({ seq }): Op => ({ type: 'del', sublevel: this.outboxDb, key: key(ph, seq) })))
    )
  }

  /** The outbox entry of a message to a peer, if it still waits there. */
  async outboxEntry(peer: string, id: string, conv: string = this.dm(peer)): Promise<OutboxEntry | undefined> {
    const seq = await this.ids.get(key(conv, id))
    const record = seq == null ? undefined : await this.outboxDb.get(key(this.peerKey(peer), seq))
    return seq != null && record != null && this.usable(record, `outbox ${id}`) ? { seq, message: record.message } : undefined
  }

  /** The peer's unacknowledged messages (of every conversation), oldest first, starting after `afterSeq`. */
  async outbox(peer: string, options: { afterSeq?: string; limit?: number } = {}): Promise<OutboxEntry[]> {
    const ph = this.peerKey(peer)
    const range = {
      gt: options.afterSeq != null ? key(ph, options.afterSeq) : ph + SEP,
      lt: ph + END,
      limit: options.limit ?? 256
    }
    const entries = await this.outboxDb.iterator(range).all()
    return entries
      .filter(([k, record]) => this.usable(record, `outbox ${k}`))
      .map(([k, record]) => ({ seq: k.slice(ph.length + 1), message: record.message }))
  }

  /** Peer ids that have messages waiting in the outbox. */
  async peersWithOutbox(): Promise<string[]> {
    const peers: string[] = []
    let from = ''
    for (;;) {
      const [entry] = await this.outboxDb.iterator({ gte: from, limit: 1 }).all()
      if (entry == null) return peers
      if (this.usable(entry[1], `outbox ${entry[0]}`)) peers.push(entry[1].recipient)
      from = entry[0].slice(0, entry[0].indexOf(SEP)) + END
    }
  }

  /** Number of messages in a peer's outbox. */
  async outboxSize(peer: string): Promise<number> {
    return (await this.outboxDb.keys(under(this.peerKey(peer))).all()).length
  }

  /**
   * The last `limit` messages of a conversation, oldest first, optionally only those sent before/after a time
   * (the sender's timestamp, the time shown).
   */
  async history(peer: string, options: HistoryOptions = {}): Promise<StoredMessage[]> {
    return this.conversationHistory(this.dm(peer), options, `a message with ${peer}`)
  }

  /** history() of any conversation (`dm:…` or `group:…`). */
  async conversationHistory(conv: string, options: HistoryOptions = {}, where = `a message in ${conv}`): Promise<StoredMessage[]> {
    const limit = options.limit ?? DEFAULT_HISTORY_LIMIT
    const { before, after } = options
    if (before == null && after == null) {
      const values = await this.messages.values({ ...under(conv), reverse: true, limit }).all()
      return values.filter((m) => this.usable(m, where)).reverse()
    }
    // A message is stored (seq) no earlier than it was sent, give or take clock skew: messages sent after `after`
    // are all in the seq range from `after - skew`, so the scan can start there.
    const from = after != null ? key(conv, seqOf(after - CLOCK_SKEW_MS)) : conv + SEP
    const out: StoredMessage[] = []
    for await (const m of this.messages.values({ gt: from, lt: conv + END, reverse: true })) {
      if (!this.usable(m, where)) continue
      if ((before == null || m.timestamp < before) && (after == null || m.timestamp > after)) out.push(m)
      if (out.length >= limit) break
    }
    return out.reverse()
  }

  /** Messages whose words start with every term of `query`, newest first (see SearchIndex.search). */
  async search(query: string, options: SearchOptions & { conversation?: string } = {}): Promise<SearchHit[]> {
    return this.index.search(query, {
      conv: options.conversation ?? (options.peer != null ? this.dm(options.peer) : undefined),
      limit: options.limit
    })
  }

  /** Every stored message, conversation by conversation, oldest first within each (for export). */
  async *messagesAll(): AsyncIterable<StoredMessage> {
    for await (const m of this.messages.values()) if (this.usable(m, 'a message')) yield m
  }

  /** Whether one of the newest `limit` entries of the conversation is ours (a message or a file we sent). */
  async hasWritten(peer: string, limit = 1000): Promise<boolean> {
    for await (const m of this.messages.values({ ...under(this.dm(peer)), reverse: true, limit })) {
      if (m.direction === 'out') return true
    }
    return false
  }

  /** A message by peer and id, or undefined. */
  async getMessage(peer: string, id: string): Promise<StoredMessage | undefined> {
    return this.getEntry(this.dm(peer), id)
  }

  /** An entry of any conversation by id, or undefined. */
  async getEntry(conv: string, id: string): Promise<StoredMessage | undefined> {
    const seq = await this.ids.get(key(conv, id))
    const message = seq == null ? undefined : await this.messages.get(key(conv, seq))
    return message != null && this.usable(message, `message ${id}`) ? message : undefined
  }

  // ---- file entries (records of the transfers themselves: see transfers.ts) ---------------------------------

  /**
   * Add a file entry to a conversation, in conversation order, in one atomic batch with `ops` (the caller's own
   * records). `message.id` is the transfer id. With `outbox`, one we send also waits in the outbox, in order with
   * the texts: the chat session has it offered when its turn comes.
   */
  async addFileMessage(
    message: Omit<StoredMessage, 'kind'>,
    ops: Op[] | ((stored: StoredMessage) => Op[]) = [],
    options: { outbox?: boolean; kind?: 'file' | 'voice' } = {}
  ): Promise<StoredMessage> {
    const kind = options.kind ?? 'file'
    const conv = this.dm(message.peer)
    return this.lock.run(conv, async () => {
      let seq: string
      let stored: StoredMessage
      const orderOps: Op[] = []
      let placedNext: PeerOrder | undefined
      if (message.direction === 'out') {
        // Ours: the clock's time, and the newest of theirs we had (as for texts).
        seq = this.nextSeq()
        const after = (await this.order.state({ conv })).lastTimestamp
        stored = { ...message, timestamp: msOf(seq), ...(after > 0 ? { after } : {}), kind }
      } else {
        // Theirs: placed like their texts.
        const placed = await this.order.place({ conv }, [message], Date.now() * 1000)
        seq = placed.seqs[0]
        this.clock = Math.max(this.clock, placed.next.lastSeq)
        orderOps.push({ type: 'put', sublevel: this.meta, key: metaKey({ conv }), value: placed.next })
        stored = { ...message, kind }
        placedNext = placed.next
      }
      await this.write([
        ...(typeof ops === 'function' ? ops(stored) : ops),
        ...orderOps,
        { type: 'put', sublevel: this.messages, key: key(conv, seq), value: stored },
        { type: 'put', sublevel: this.ids, key: key(conv, message.id), value: seq },
        ...(options.outbox === true ? [this.outboxPut(this.peerKey(message.peer), seq, message.peer, stored)] : []),
        this.clockPut()
      ])
      if (placedNext != null) this.order.remember({ conv }, placedNext)
      return stored
    })
  }

  /** Set the stored status of a message (e.g. a file offer the peer has acknowledged). */
  async setMessageStatus(peer: string, id: string, status: StoredMessage['status']): Promise<void> {
    const conv = this.dm(peer)
    await this.lock.run(conv, async () => {
      const seq = await this.ids.get(key(conv, id))
      const message = seq == null ? undefined : await this.messages.get(key(conv, seq))
      if (seq == null || message == null || isDamaged(message) || message.status === status) return
      await this.write([{ type: 'put', sublevel: this.messages, key: key(conv, seq), value: { ...message, status } }])
    })
  }

  // ---- for the conversation modules built on the log (groups) -----------------------------------------------

  /** Run `fn` under a conversation's write lock. */
  async locked<T>(conv: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(conv, fn)
  }

  /**
   * Ops for a new entry of ours in `conv` (call under its lock): the entry at the clock's time, its id and index,
   * and one outbox record per recipient. Returns them with the entry as stored.
   */
  async ownEntryOps(conv: string, message: StoredMessage, recipients: string[]): Promise<{ seq: string; ops: Op[]; message: StoredMessage }> {
    const seq = this.nextSeq()
    const stored: StoredMessage = { ...message, timestamp: msOf(seq) }
    const ops = [...this.entryOps(conv, seq, stored)]
    for (const r of recipients) ops.push(this.outboxPut(this.peerKey(r), seq, r, stored))
    ops.push(this.clockPut())
    return { seq, ops, message: stored }
  }

  /** One atomic, counted batch of ops prepared by the modules above. */
  async writeOps(ops: Op[]): Promise<void> {
    await this.write(ops)
  }

  // ---- voice notes (their transcripts: see voice-notes.ts) ---------------------------------------------------

  /** The key `conv!seq` of an entry with a peer (also its voice record's key), or undefined. */
  async entryKey(peer: string, id: string): Promise<string | undefined> {
    const conv = this.dm(peer)
    const seq = await this.ids.get(key(conv, id))
    return seq == null ? undefined : key(conv, seq)
  }

  /** Search index entries for words of the entry at `entryKey` (a voice note's transcript). */
  indexOps(entryKey: string, text: string): Op[] {
    const at = entryKey.lastIndexOf(SEP)
    return this.index.ops(entryKey.slice(0, at), entryKey.slice(at + 1), text)
  }

  /** One atomic, counted batch of another concern's ops on this database. */
  async batch(ops: Op[]): Promise<void> {
    await this.write(ops)
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  /**
   * Rebuild what can be rebuilt from the messages: the id lookups and the search index (`p2pnode doctor --repair`).
   * Each is cleared, then written again from the messages that pass their check, in batches. Returns the count.
   */
  async rebuildIndexes(): Promise<number> {
    await this.lock.idle()
    for (const sub of [this.ids, this.parts.words, this.parts.convWords, this.parts.vocab]) await sub.clear()
    this.index.writeFailed() // forget which words are in the vocabulary: none are now
    let ops: Op[] = []
    let count = 0
    for await (const [k, m] of this.messages.iterator()) {
      if (isDamaged(m)) continue
      const [conv, seq] = k.split(SEP)
      // A voice note's words are its transcript's.
      const said = m.kind === 'voice' ? ((await this.index.voiceRecord(k))?.transcript.text ?? '') : undefined
      ops.push({ type: 'put', sublevel: this.ids, key: key(conv, m.id), value: seq }, ...this.index.ops(conv, seq, said ?? m.text ?? ''))
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

  private clockPut(): Op {
    return { type: 'put', sublevel: this.meta, key: META.clock, value: this.clock }
  }

  private outboxPut(recipientHash: string, seq: string, recipient: string, message: StoredMessage): Op {
    const value: OutboxRecord = { recipient, message }
    return { type: 'put', sublevel: this.outboxDb, key: key(recipientHash, seq), value }
  }

  /** A new entry, its id and its index entries: always written together. */
  private entryOps(conv: string, seq: string, message: StoredMessage): Op[] {
    return [
      { type: 'put', sublevel: this.messages, key: key(conv, seq), value: message },
      { type: 'put', sublevel: this.ids, key: key(conv, message.id), value: seq },
      ...this.index.ops(conv, seq, message.text)
    ]
  }

  /** One atomic LevelDB batch, counted (the counter is written in the same batch). */
  private async write(ops: Op[]): Promise<void> {
    // Counted before the write: batches for different peers may land in either order, and a failed one only
    // leaves a gap. The exact count is written (synced) on close.
    const counted: Op[] = [...ops, { type: 'put', sublevel: this.meta, key: META.writes, value: ++this.writeCount }]
    try {
      await this.db.batch(counted as unknown as Array<AbstractBatchOperation<Db, string, string>>)
    } catch (err) {
      this.index.writeFailed()
      throw err
    }
  }
}

const META_SUBLEVEL = 'meta'

/** abstract-level wraps what a codec throws: the codec's own error says what cannot be read, and why. */
function decodeError(err: unknown): unknown {
  const e = err as { code?: string; cause?: unknown }
  return e?.code === 'LEVEL_DECODE_ERROR' && e.cause instanceof P2pError ? e.cause : err
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
