/**
 * The conversation log's reads: outboxes (per recipient, oldest first), history pages, search, lookups by id and
 * the export's scan. A value that fails its integrity check is skipped and reported (`onDamaged`), never returned.
 * Store builds it and delegates.
 */
import { END, key, type Parts, type PeerHashes, SEP, SEQ_WIDTH, type Sub, under } from './keys.ts'
import { isDamaged } from './sealed-codec.ts'
import type { SearchIndex } from './search-index.ts'
import type { HistoryOptions, OutboxEntry, OutboxRecord, SearchHit, SearchOptions, StoredMessage } from './types.ts'

const DEFAULT_HISTORY_LIMIT = 50
/** Tolerated difference between a sender's clock and ours when filtering history by time. */
const CLOCK_SKEW_MS = 3600_000

export class LogReads {
  private readonly keys: PeerHashes
  private readonly messages: Sub<StoredMessage>
  private readonly ids: Sub<string>
  private readonly outboxDb: Sub<OutboxRecord>
  private readonly index: SearchIndex
  /** Told of every damaged value a read skips. */
  private readonly onDamaged: (where: string) => void

  constructor(parts: Parts, keys: PeerHashes, index: SearchIndex, onDamaged: (where: string) => void) {
    this.keys = keys
    this.messages = parts.log
    this.ids = parts.ids
    this.outboxDb = parts.outbox
    this.index = index
    this.onDamaged = onDamaged
  }

  /** The outbox entry of a message to a peer, if it still waits there. */
  async outboxEntry(peer: string, id: string, conv: string = this.keys.dm(peer)): Promise<OutboxEntry | undefined> {
    const seq = await this.ids.get(key(conv, id))
    const record = seq == null ? undefined : await this.outboxDb.get(key(this.keys.peerKey(peer), seq))
    return seq != null && record != null && this.usable(record, `outbox ${id}`) ? { seq, message: record.message } : undefined
  }

  /** The peer's unacknowledged messages (of every conversation), oldest first, starting after `afterSeq`. */
  async outbox(peer: string, options: { afterSeq?: string; limit?: number } = {}): Promise<OutboxEntry[]> {
    const ph = this.keys.peerKey(peer)
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
    return (await this.outboxDb.keys(under(this.keys.peerKey(peer))).all()).length
  }

  /**
   * The last `limit` messages of a conversation, oldest first, optionally only those sent before/after a time
   * (the sender's timestamp, the time shown).
   */
  async history(peer: string, options: HistoryOptions = {}): Promise<StoredMessage[]> {
    return this.conversationHistory(this.keys.dm(peer), options, `a message with ${peer}`)
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
      conv: options.conversation ?? (options.peer != null ? this.keys.dm(options.peer) : undefined),
      limit: options.limit
    })
  }

  /** Every stored message, conversation by conversation, oldest first within each (for export). */
  async *messagesAll(): AsyncIterable<StoredMessage> {
    for await (const m of this.messages.values()) if (this.usable(m, 'a message')) yield m
  }

  /** Whether one of the newest `limit` entries of the conversation is ours (a message or a file we sent). */
  async hasWritten(peer: string, limit = 1000): Promise<boolean> {
    for await (const m of this.messages.values({ ...under(this.keys.dm(peer)), reverse: true, limit })) {
      if (m.direction === 'out') return true
    }
    return false
  }

  /** A message by peer and id, or undefined. */
  async getMessage(peer: string, id: string): Promise<StoredMessage | undefined> {
    return this.getEntry(this.keys.dm(peer), id)
  }

  /** An entry of any conversation by id, or undefined. */
  async getEntry(conv: string, id: string): Promise<StoredMessage | undefined> {
    const seq = await this.ids.get(key(conv, id))
    const message = seq == null ? undefined : await this.messages.get(key(conv, seq))
    return message != null && this.usable(message, `message ${id}`) ? message : undefined
  }

  /** The key `conv!seq` of an entry with a peer (also its voice record's key), or undefined. */
  async entryKey(peer: string, id: string): Promise<string | undefined> {
    const conv = this.keys.dm(peer)
    const seq = await this.ids.get(key(conv, id))
    return seq == null ? undefined : key(conv, seq)
  }

  /** False (and reported) for a value that failed its integrity check. */
  usable(value: unknown, where: string): boolean {
    if (!isDamaged(value)) return true
    this.onDamaged(where)
    return false
  }
}

/** The seq key of a time in ms (seq is a µs clock). */
function seqOf(ms: number): string {
  return Math.max(0, Math.floor(ms * 1000))
    .toString(16)
    .padStart(SEQ_WIDTH, '0')
}
