import { ErrorCode, P2pError } from '../errors.ts'
import { Codec, unreadable } from './codec.ts'
import { ConversationLog } from './conversation-log.ts'
import { StoreIntegrity, SYNC } from './integrity.ts'
import {
  type Conversation,
  type Db,
  LAYOUT,
  LAYOUT1,
  META,
  type Op,
  openLayout1,
  openParts,
  type Parts,
  PeerHashes,
  type Sub
} from './keys.ts'
import { GroupBook } from './groups.ts'
import { KeyedLock } from './lock.ts'
import { LogReads } from './log-reads.ts'
import { migrate, type MigrateOptions } from './migrate.ts'
import type { OrderRef } from './order.ts'
import { PeerBook } from './peers.ts'
import { RecordSealer } from './records.ts'
import { SearchIndex } from './search-index.ts'
import type {
  HistoryOptions,
  NewIncomingMessage,
  NewOutgoingMessage,
  OutboxEntry,
  SearchHit,
  SearchOptions,
  StoredMessage
} from './types.ts'

export type { Db, Op, Sub } from './keys.ts'
export type { OutboxEntry } from './types.ts'

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
 * libp2p. This class opens, upgrades and closes the database and puts the parts together: the log's writes are in
 * conversation-log.ts, its reads in log-reads.ts, and the methods here that say so hand over to them.
 *
 * The methods that take a peer work on the one-to-one conversation with that peer (`dm:H(peer)`).
 */
export class Store {
  private readonly db: Db
  /** The sublevels (see keys.ts). */
  readonly parts: Parts
  readonly codec: Codec
  private readonly messages: Sub<StoredMessage>
  readonly peers: PeerBook
  /** Groups we are (or were) in: see groups.ts. */
  readonly groups: GroupBook
  private readonly index: SearchIndex
  private readonly meta: Sub<unknown>
  private readonly keys: PeerHashes
  /** Per-conversation write chains: writes to one conversation happen one after another, in call order. */
  private readonly lock = new KeyedLock()
  /** The log's writes (conversation-log.ts): the clock and the write counter live there. */
  private readonly log: ConversationLog
  /** The log's reads (log-reads.ts). */
  private readonly reads: LogReads
  /** The store id, the write counter and the checks that tell a damaged or swapped store (see integrity.ts). */
  readonly integrity: StoreIntegrity
  /** Told of every damaged value a read skips (the node logs it). */
  onDamaged: (where: string) => void = () => {}
  /** The layout on disk: LAYOUT, or 1 until `upgrade()` (only the integrity checks work then). */
  private layoutOnDisk = LAYOUT

  private constructor(db: Db, secret: Uint8Array) {
    this.db = db
    this.keys = new PeerHashes(secret)
    this.codec = new Codec(secret)
    this.parts = openParts(db, this.codec)
    // Entries and the outbox are sealed: a value changed on disk is skipped and reported, never shown.
    this.messages = this.parts.log
    this.meta = this.parts.meta
    this.peers = new PeerBook(this.parts.peers, secret, (peerId) => this.peerKey(peerId))
    this.groups = new GroupBook(this)
    this.index = new SearchIndex(this.parts.words, this.parts.convWords, this.parts.vocab, this.messages, this.parts.voice)
    this.log = new ConversationLog({ db, parts: this.parts, keys: this.keys, index: this.index, lock: this.lock })
    this.reads = new LogReads(this.parts, this.keys, this.index, (where) => this.onDamaged(where))
    const sealer = new RecordSealer(secret)
    this.integrity = new StoreIntegrity(secret, {
      db,
      meta: this.meta,
      layout: () => this.layoutOnDisk,
      current: { messages: this.messages, outbox: this.parts.outbox },
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
      store.log.clock = ((await store.meta.get(META.clock)) as number | undefined) ?? 0
      store.log.writeCount = ((await store.meta.get(META.writes)) as number | undefined) ?? 0
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
    this.log.clock = ((await this.meta.get(META.clock)) as number | undefined) ?? this.log.clock
    return moved
  }

  private migrationHost() {
    return {
      parts: this.parts,
      openLegacy: (text: string) => this.codec.legacySealer.open<StoredMessage>(text),
      indexOps: (conv: string, seq: string, text: string) => this.index.ops(conv, seq, text),
      write: (ops: Op[]) => this.log.write(ops)
    }
  }

  /** Message batches written to this database so far (see StoreIntegrity). */
  get writes(): number {
    return this.log.writeCount
  }

  /**
   * Close the database. The last write is synced first, so that everything before it is on disk: the write count
   * the data dir's manifest takes after this is never ahead of the database, even after a power cut.
   */
  async close(): Promise<void> {
    await this.lock.idle()
    if (this.db.status === 'open' && this.layoutOnDisk >= LAYOUT) {
      await this.meta.put(META.writes, this.log.writeCount, SYNC).catch(() => {})
    }
    await this.db.close()
  }

  /** Keyed hash of a peer id: the only form in which peer ids appear in keys. */
  peerKey(peerId: string): string {
    return this.keys.peerKey(peerId)
  }

  /** The one-to-one conversation with a peer. */
  dm(peerId: string): Conversation {
    return this.keys.dm(peerId)
  }

  /** The conversation an entry belongs to (a group's, or the one with `peer`). */
  conversationOf(message: Pick<StoredMessage, 'peer' | 'group'>): Conversation {
    return this.keys.conversationOf(message)
  }

  // ---- settings ----------------------------------------------------------------------------------------------

  async getSetting<T>(name: string): Promise<T | undefined> {
    return (await this.meta.get(META.setting(name))) as T | undefined
  }

  async setSetting(name: string, value: unknown): Promise<void> {
    await this.meta.put(META.setting(name), value)
  }

  // ---- writes to the log (conversation-log.ts) ---------------------------------------------------------------

  /** Store a message we write, as `pending`, in the peer's outbox too; calls for one peer commit together. */
  async addOutgoing(msg: NewOutgoingMessage): Promise<OutboxEntry> {
    return this.log.addOutgoing(msg)
  }

  /** Store messages a peer sent us, in order, in one batch; returns the new ones (resends are skipped). */
  async addIncoming(msgs: NewIncomingMessage[]): Promise<StoredMessage[]> {
    return this.log.addIncoming(msgs)
  }

  /** Store entries from one sender in conversation order (under the conversation's lock), with `extra` ops. */
  async placeIncoming<M extends { id: string; timestamp: number; after?: number }>(
    ref: OrderRef,
    msgs: M[],
    entryOf: (msg: M) => StoredMessage,
    extra: Op[] = []
  ): Promise<StoredMessage[]> {
    return this.log.placeIncoming(ref, msgs, entryOf, extra)
  }

  /** Mark outbox entries delivered (in a group: to this peer) and take them out of its outbox. */
  async markDelivered(peer: string, entries: OutboxEntry[]): Promise<void> {
    await this.log.markDelivered(peer, entries)
  }

  /** The peer refused these group entries: out of its outbox, and it joins each entry's refusedBy. */
  async markRefused(peer: string, entries: OutboxEntry[]): Promise<void> {
    await this.log.markRefused(peer, entries)
  }

  /** Take entries out of the outbox, leaving their messages as they are. */
  async unqueue(peer: string, entries: OutboxEntry[]): Promise<void> {
    await this.log.unqueue(peer, entries)
  }

  /** Add a file (or voice) entry to a conversation, in order, in one atomic batch with `ops`. */
  async addFileMessage(
    message: Omit<StoredMessage, 'kind'>,
    ops: Op[] | ((stored: StoredMessage) => Op[]) = [],
    options: { outbox?: boolean; kind?: 'file' | 'voice' } = {}
  ): Promise<StoredMessage> {
    return this.log.addFileMessage(message, ops, options)
  }

  /** Set the stored status of a message (e.g. a file offer the peer has acknowledged). */
  async setMessageStatus(peer: string, id: string, status: StoredMessage['status']): Promise<void> {
    await this.log.setMessageStatus(peer, id, status)
  }

  /** Run `fn` under a conversation's write lock (for the conversation modules built on the log: groups). */
  async locked<T>(conv: string, fn: () => Promise<T>): Promise<T> {
    return this.log.locked(conv, fn)
  }

  /** Ops for a new entry of ours in `conv` (call under its lock), with one outbox record per recipient. */
  async ownEntryOps(conv: string, message: StoredMessage, recipients: string[]): Promise<{ seq: string; ops: Op[]; message: StoredMessage }> {
    return this.log.ownEntryOps(conv, message, recipients)
  }

  /** One atomic, counted batch of ops prepared by the modules above. */
  async writeOps(ops: Op[]): Promise<void> {
    await this.log.write(ops)
  }

  /** One atomic, counted batch of another concern's ops on this database. */
  async batch(ops: Op[]): Promise<void> {
    await this.log.write(ops)
  }

  /** Search index entries for words of the entry at `entryKey` (a voice note's transcript). */
  indexOps(entryKey: string, text: string): Op[] {
    return this.log.indexOps(entryKey, text)
  }

  // ---- reads of the log (log-reads.ts) -----------------------------------------------------------------------

  /** The outbox entry of a message to a peer, if it still waits there. */
  async outboxEntry(peer: string, id: string, conv: string = this.dm(peer)): Promise<OutboxEntry | undefined> {
    return this.reads.outboxEntry(peer, id, conv)
  }

  /** The peer's unacknowledged messages (of every conversation), oldest first, starting after `afterSeq`. */
  async outbox(peer: string, options: { afterSeq?: string; limit?: number } = {}): Promise<OutboxEntry[]> {
    return this.reads.outbox(peer, options)
  }

  /** Peer ids that have messages waiting in the outbox. */
  async peersWithOutbox(): Promise<string[]> {
    return this.reads.peersWithOutbox()
  }

  /** Number of messages in a peer's outbox. */
  async outboxSize(peer: string): Promise<number> {
    return this.reads.outboxSize(peer)
  }

  /** The last `limit` messages with a peer, oldest first, optionally only those sent before/after a time. */
  async history(peer: string, options: HistoryOptions = {}): Promise<StoredMessage[]> {
    return this.reads.history(peer, options)
  }

  /** history() of any conversation (`dm:…` or `group:…`). */
  async conversationHistory(conv: string, options: HistoryOptions = {}, where = `a message in ${conv}`): Promise<StoredMessage[]> {
    return this.reads.conversationHistory(conv, options, where)
  }

  /** Messages whose words start with every term of `query`, newest first (see SearchIndex.search). */
  async search(query: string, options: SearchOptions & { conversation?: string } = {}): Promise<SearchHit[]> {
    return this.reads.search(query, options)
  }

  /** Every stored message, conversation by conversation, oldest first within each (for export). */
  messagesAll(): AsyncIterable<StoredMessage> {
    return this.reads.messagesAll()
  }

  /** Whether one of the newest `limit` entries of the conversation is ours (a message or a file we sent). */
  async hasWritten(peer: string, limit = 1000): Promise<boolean> {
    return this.reads.hasWritten(peer, limit)
  }

  /** A message by peer and id, or undefined. */
  async getMessage(peer: string, id: string): Promise<StoredMessage | undefined> {
    return this.reads.getMessage(peer, id)
  }

  /** An entry of any conversation by id, or undefined. */
  async getEntry(conv: string, id: string): Promise<StoredMessage | undefined> {
    return this.reads.getEntry(conv, id)
  }

  /** The key `conv!seq` of an entry with a peer (also its voice record's key), or undefined. */
  async entryKey(peer: string, id: string): Promise<string | undefined> {
    return this.reads.entryKey(peer, id)
  }

  /** Rebuild the id lookups and the search index from the messages (`p2pnode doctor --repair`); returns the count. */
  async rebuildIndexes(): Promise<number> {
    return this.log.rebuildIndexes()
  }
}

const META_SUBLEVEL = 'meta'

/** abstract-level wraps what a codec throws: the codec's own error says what cannot be read, and why. */
function decodeError(err: unknown): unknown {
  const e = err as { code?: string; cause?: unknown }
  return e?.code === 'LEVEL_DECODE_ERROR' && e.cause instanceof P2pError ? e.cause : err
}
