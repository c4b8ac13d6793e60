/**
 * The conversation log's writes: our entries (at the clock's time, with one outbox record per recipient, committed
 * together when calls for one peer come at once), theirs (deduplicated and placed in conversation order, see
 * order.ts), acks, refusals and file entries. Writes to one conversation run one after another under its lock;
 * every change is one atomic batch, counted (the counter goes in the same batch). Store builds it and delegates.
 */
import type { AbstractBatchOperation } from 'abstract-level'
import { type Db, key, META, type Op, type Parts, type PeerHashes, SEP, SEQ_WIDTH, type Sub, under } from './keys.ts'
import type { KeyedLock } from './lock.ts'
import { ConversationOrder, metaKey, type OrderRef, type PeerOrder } from './order.ts'
import { isDamaged } from './sealed-codec.ts'
import type { SearchIndex } from './search-index.ts'
import type { NewIncomingMessage, NewOutgoingMessage, OutboxEntry, OutboxRecord, StoredMessage } from './types.ts'

interface PendingOut {
  msg: NewOutgoingMessage
  resolve: (entry: OutboxEntry) => void
  reject: (err: unknown) => void
}

export interface ConversationLogParts {
  db: Db
  parts: Parts
  keys: PeerHashes
  index: SearchIndex
  /** Per-conversation write chains: writes to one conversation happen one after another, in call order. */
  lock: KeyedLock
}

export class ConversationLog {
  private readonly db: Db
  private readonly keys: PeerHashes
  private readonly messages: Sub<StoredMessage>
  private readonly ids: Sub<string>
  private readonly outboxDb: Sub<OutboxRecord>
  private readonly meta: Sub<unknown>
  private readonly index: SearchIndex
  /** Where peers' messages go in their conversations (see order.ts). */
  private readonly order: ConversationOrder
  /** The id lookups' and the search index's sublevels (cleared by rebuildIndexes). */
  private readonly indexParts: Sub<string>[]
  private readonly lock: KeyedLock
  /** Outgoing messages waiting for the next group commit, per peer. */
  private readonly outgoing = new Map<string, PendingOut[]>()
  /** The µs clock of seq keys: every key ever written is at most this (stored with each batch that moves it). */
  clock = 0
  /** Message batches written to this database ever (the `writes` counter, stored with each batch). */
  writeCount = 0

  constructor({ db, parts, keys, index, lock }: ConversationLogParts) {
    this.db = db
    this.keys = keys
    this.messages = parts.log
    this.ids = parts.ids
    this.outboxDb = parts.outbox
    this.meta = parts.meta
    this.index = index
    this.indexParts = [parts.words, parts.convWords, parts.vocab]
    this.lock = lock
    this.order = new ConversationOrder({
      getMeta: (k) => this.meta.get(k),
      newest: async (conv, limit) => {
        const all = await this.messages.iterator({ ...under(conv), reverse: true, limit }).all()
        return all.filter(([, m]) => !isDamaged(m)).map(([k, m]) => [k.slice(conv.length + 1), m] as const)
      },
      // Keys above the clock are free: every key ever written is at most the clock.
      taken: async (conv, seq) => Number.parseInt(seq, 16) <= this.clock && (await this.messages.get(key(conv, seq))) != null
    })
  }

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
      void this.lock.run(this.keys.dm(msg.peer), () => this.commitOutgoing(msg.peer))
    }
    queue.push({ msg, resolve, reject })
    return promise
  }

  private async commitOutgoing(peer: string): Promise<void> {
    const queue = this.outgoing.get(peer) ?? []
    this.outgoing.delete(peer)
    const conv = this.keys.dm(peer)
    const ph = this.keys.peerKey(peer)
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
    const conv = this.keys.dm(peer)
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
    const ph = this.keys.peerKey(peer)
    if (dm.length > 0) {
      const conv = this.keys.dm(peer)
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
      const conv = this.keys.conversationOf(message)
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
    const ph = this.keys.peerKey(peer)
    for (const { seq, message } of entries) {
      const conv = this.keys.conversationOf(message)
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
    const ph = this.keys.peerKey(peer)
    await this.lock.run(this.keys.dm(peer), () =>
      this.write(entries.map(({ seq }): Op => ({ type: 'del', sublevel: this.outboxDb, key: key(ph, seq) })))
    )
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
    const conv = this.keys.dm(message.peer)
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
        ...(options.outbox === true ? [this.outboxPut(this.keys.peerKey(message.peer), seq, message.peer, stored)] : []),
        this.clockPut()
      ])
      if (placedNext != null) this.order.remember({ conv }, placedNext)
      return stored
    })
  }

  /** Set the stored status of a message (e.g. a file offer the peer has acknowledged). */
  async setMessageStatus(peer: string, id: string, status: StoredMessage['status']): Promise<void> {
    const conv = this.keys.dm(peer)
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
    for (const r of recipients) ops.push(this.outboxPut(this.keys.peerKey(r), seq, r, stored))
    ops.push(this.clockPut())
    return { seq, ops, message: stored }
  }

  /** Search index entries for words of the entry at `entryKey` (a voice note's transcript). */
  indexOps(entryKey: string, text: string): Op[] {
    const at = entryKey.lastIndexOf(SEP)
    return this.index.ops(entryKey.slice(0, at), entryKey.slice(at + 1), text)
  }

  /**
   * Rebuild what can be rebuilt from the messages: the id lookups and the search index (`p2pnode doctor --repair`).
   * Each is cleared, then written again from the messages that pass their check, in batches. Returns the count.
   */
  async rebuildIndexes(): Promise<number> {
    await this.lock.idle()
    for (const sub of [this.ids, ...this.indexParts]) await sub.clear()
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

  // ---- internals ---------------------------------------------------------------------------------------------

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
  async write(ops: Op[]): Promise<void> {
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

/** The time in ms of a seq key. */
function msOf(seq: string): number {
  return Math.floor(Number.parseInt(seq, 16) / 1000)
}
