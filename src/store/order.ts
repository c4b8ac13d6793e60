/**
 * Conversation order: where a message goes among the others (its `seq` key). Our own messages take the local clock
 * (µs, never going back); a peer's take its timestamp, clamped so that the merge stays one users can follow:
 *
 * - never before the previous message from that peer (each side's messages stay in the order it sent them),
 * - never before our own messages the peer had seen when it wrote (`after`: the newest of our timestamps it had),
 * - never after the moment it arrives here (a fast clock cannot push a message below later ones).
 *
 * Per conversation we remember the key and the timestamp of the newest message from the peer (`meta`
 * `order:conv`; in a group, per sender: `order:conv:H(sender)`); for a conversation from 0.1 they are found from its
 * newest messages once.
 */
import { orderKey, seqText } from './keys.ts'
import type { StoredMessage } from './types.ts'

export { seqText } from './keys.ts'

/** What the store lends this module: reads of its sublevels, and its clock. */
export interface OrderDeps {
  /** The meta value under `key`, or undefined. */
  getMeta(key: string): Promise<unknown>
  /** The newest messages of a conversation, newest first, with their seq. */
  newest(conv: string, limit: number): Promise<ReadonlyArray<readonly [seq: string, message: StoredMessage]>>
  /** Whether a message is stored under this seq. */
  taken(conv: string, seq: string): Promise<boolean>
}

export interface PeerOrder {
  /** seq (µs) of the newest message from the peer; 0 for none. */
  lastSeq: number
  /** Its timestamp as the peer sent it (ms); 0 for none. */
  lastTimestamp: number
}

/** How far back a 0.1 conversation is searched for the peer's newest message. */
const LEGACY_SCAN = 1000

/** Which order state: a conversation's, or one sender's in a group. */
export interface OrderRef {
  conv: string
  /** H(sender), in a group. */
  sender?: string
}

export function metaKey(ref: OrderRef): string {
  return orderKey(ref.conv, ref.sender)
}

export class ConversationOrder {
  private readonly deps: OrderDeps
  /** Recent conversations' state (bounded: a flood of peers must not grow it). */
  private readonly cache = new Map<string, PeerOrder>()

  constructor(deps: OrderDeps) {
    this.deps = deps
  }

  /** The state of a conversation (call under the conversation's lock). */
  async state(ref: OrderRef): Promise<PeerOrder> {
    const cached = this.cache.get(metaKey(ref))
    if (cached != null) return cached
    let state = (await this.deps.getMeta(metaKey(ref))) as PeerOrder | undefined
    if ((state == null || typeof state.lastSeq !== 'number') && ref.sender == null) {
      const found = (await this.deps.newest(ref.conv, LEGACY_SCAN)).find(([, m]) => m.direction === 'in')
      state = found == null ? { lastSeq: 0, lastTimestamp: 0 } : { lastSeq: Number.parseInt(found[0], 16), lastTimestamp: found[1].timestamp }
    }
    state ??= { lastSeq: 0, lastTimestamp: 0 }
    this.remember(ref, state)
    return state
  }

  /**
   * Keys for messages from the peer, in the order it sent them (call under the peer's lock, and write the new
   * state with them: `next`). `nowUs` is the local clock.
   */
  async place(
    ref: OrderRef,
    msgs: ReadonlyArray<{ timestamp: number; after?: number }>,
    nowUs: number
  ): Promise<{ seqs: string[]; next: PeerOrder }> {
    const prev = await this.state(ref)
    let last = prev.lastSeq
    let lastTimestamp = prev.lastTimestamp
    const seqs: string[] = []
    for (const m of msgs) {
      const sent = Math.min(m.timestamp * 1000, nowUs)
      const seen = m.after != null && m.after > 0 ? Math.min((m.after + 1) * 1000, nowUs) : 0
      let us = Math.max(last + 1, seen, sent)
      // Keys of our own messages (and of 0.1 data) can sit anywhere in the past: step past one that is taken.
      while (await this.deps.taken(ref.conv, seqText(us))) us++
      seqs.push(seqText(us))
      last = us
      lastTimestamp = Math.max(lastTimestamp, m.timestamp)
    }
    return { seqs, next: { lastSeq: last, lastTimestamp } }
  }

  /** The state once the batch that `place` prepared is written. */
  remember(ref: OrderRef, state: PeerOrder): void {
    if (this.cache.size >= 10_000) this.cache.clear()
    this.cache.set(metaKey(ref), state)
  }
}
