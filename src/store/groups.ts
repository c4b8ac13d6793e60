/**
 * Groups in the store: one record per group (`groups` sublevel, see keys.ts) with the membership its admin signed
 * last, and the group's conversation `group:<id>` in the log. A change and its `system` entry are written in one
 * batch; so are one of our messages and its outbox records (one per member it goes to).
 */
import { groupConversation, type Op, type Sub } from './keys.ts'
import type { OrderRef } from './order.ts'
import type { GroupRecord, HistoryOptions, OutboxEntry, StoredMessage } from './types.ts'

/** What groups need of the store. */
export interface GroupHost {
  readonly parts: { groups: Sub<GroupRecord> }
  peerKey(peerId: string): string
  locked<T>(conv: string, fn: () => Promise<T>): Promise<T>
  ownEntryOps(conv: string, message: StoredMessage, recipients: string[]): Promise<{ seq: string; ops: Op[]; message: StoredMessage }>
  writeOps(ops: Op[]): Promise<void>
  placeIncoming<M extends { id: string; timestamp: number; after?: number }>(
    ref: OrderRef,
    msgs: M[],
    entryOf: (msg: M) => StoredMessage,
    extra?: Op[]
  ): Promise<StoredMessage[]>
  conversationHistory(conv: string, options?: HistoryOptions): Promise<StoredMessage[]>
  getEntry(conv: string, id: string): Promise<StoredMessage | undefined>
  outbox(peer: string, options?: { afterSeq?: string; limit?: number }): Promise<OutboxEntry[]>
  unqueue(peer: string, entries: OutboxEntry[]): Promise<void>
}

/** Groups kept at most: anyone may name us in a group they sign, so their number is bounded. */
export const MAX_GROUPS = 1000

export class GroupBook {
  private readonly host: GroupHost
  private readonly sub: Sub<GroupRecord>
  /** Every record, read once at load (bounded by MAX_GROUPS): the chat protocol asks for states synchronously. */
  private readonly records = new Map<string, GroupRecord>()

  constructor(host: GroupHost) {
    this.host = host
    this.sub = host.parts.groups
  }

  async load(): Promise<void> {
    for (const record of await this.sub.values().all()) this.records.set(record.id, record)
  }

  /** Leave a record out from now on (it failed its check): kept on disk, as it is, but not used. */
  ignore(id: string): void {
    this.records.delete(id)
  }

  get(id: string): GroupRecord | undefined {
    return this.records.get(id)
  }

  list(): GroupRecord[] {
    return [...this.records.values()]
  }

  get size(): number {
    return this.records.size
  }

  /**
   * A change we made (we are the admin) or left on our own: the record, its `system` entry and one outbox record
   * per recipient, in one batch. Returns the entry and its outbox entry.
   */
  async applyOwn(record: GroupRecord, entry: StoredMessage, recipients: string[]): Promise<OutboxEntry> {
    const conv = groupConversation(record.id)
    return this.host.locked(conv, async () => {
      const prepared = await this.host.ownEntryOps(conv, { ...entry, recipients }, recipients)
      await this.host.writeOps([...prepared.ops, { type: 'put', sublevel: this.sub, key: record.id, value: record }])
      this.records.set(record.id, record)
      return { seq: prepared.seq, message: prepared.message }
    })
  }

  /** A change from the admin (or a leave from a member): the new record and its `system` entry in one batch. */
  async applyTheirs(record: GroupRecord, entry: StoredMessage, sender: string): Promise<void> {
    const conv = groupConversation(record.id)
    await this.host.locked(conv, async () => {
      await this.host.placeIncoming({ conv, sender: this.host.peerKey(sender) }, [entry], (m) => m, [
        { type: 'put', sublevel: this.sub, key: record.id, value: record }
      ])
      this.records.set(record.id, record)
    })
  }

  /** Our message to a group: the entry and one outbox record per recipient. */
  async addOwn(groupId: string, message: StoredMessage, recipients: string[]): Promise<OutboxEntry> {
    const conv = groupConversation(groupId)
    return this.host.locked(conv, async () => {
      const prepared = await this.host.ownEntryOps(conv, { ...message, recipients, deliveredTo: [] }, recipients)
      await this.host.writeOps(prepared.ops)
      return { seq: prepared.seq, message: prepared.message }
    })
  }

  /** A member's message: stored once, in that sender's order. Returns it if new. */
  async addTheirs(groupId: string, sender: string, message: StoredMessage): Promise<StoredMessage | undefined> {
    const conv = groupConversation(groupId)
    return this.host.locked(conv, async () => {
      const [added] = await this.host.placeIncoming({ conv, sender: this.host.peerKey(sender) }, [message], (m) => m)
      return added
    })
  }

  /** Whether an entry with this id is in the group's conversation already. */
  async has(groupId: string, id: string): Promise<boolean> {
    return (await this.host.getEntry(groupConversation(groupId), id)) != null
  }

  async history(groupId: string, options: HistoryOptions = {}): Promise<StoredMessage[]> {
    return this.host.conversationHistory(groupConversation(groupId), options)
  }

  /** Remember when the group's conversation was last read (for unread counts). */
  async markRead(groupId: string, at: number): Promise<void> {
    const record = this.records.get(groupId)
    if (record == null) return
    const next = { ...record, readAt: at }
    await this.sub.put(groupId, next)
    this.records.set(groupId, next)
  }

  /** Take this group's entries out of the peers' outboxes (members who are gone get nothing more). */
  async dropOutbox(groupId: string, peers: string[]): Promise<void> {
    for (const peer of peers) {
      for (let after: string | undefined; ; ) {
        const page = await this.host.outbox(peer, { afterSeq: after, limit: 256 })
        if (page.length === 0) break
        await this.host.unqueue(
          peer,
          page.filter((e) => e.message.group === groupId)
        )
        after = page.at(-1)?.seq
      }
    }
  }
}
