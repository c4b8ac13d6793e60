import { KeyedLock } from './lock.ts'
import type { Op, Parts, Sub } from './keys.ts'

/** An envelope a mailbox node was given, as far as the hold needs to know it (checked by the protocol). */
export interface EnvelopeHead {
  id: Uint8Array
  sender: string
  recipient: string
  /** The sender's previous envelope for this recipient; empty: a new run. */
  prev: Uint8Array
}

export type HoldStatus = 'OK' | 'DUPLICATE' | 'QUOTA' | 'GAP' | 'REFUSED'

export interface Quota {
  envelopes: number
  bytes: number
}

export interface HoldLimits {
  /** How long an envelope is held if nobody collects it, ms. */
  ttlMs: number
  /** What one sender may have held for one recipient. */
  perSender: Quota
  /** What one recipient may have held from everyone. */
  perRecipient: Quota
  /** Distinct senders with a run at one recipient. */
  maxSenders: number
  /** Peers that may use the mailbox. */
  maxOwners: number
  /** The clock, ms (tests move it to expire envelopes). @default Date.now */
  now?: () => number
}

/** What the hold needs of the store. */
export interface MailboxHoldHost {
  readonly parts: Parts
  peerKey(peerId: string): string
  /** One atomic batch on the store's database. */
  writeOps(ops: Op[]): Promise<void>
}

export interface OwnerValue {
  since: number
}

export interface HeldValue {
  /** Envelope id, hex. */
  id: string
  /** H(sender). */
  s: string
  /** When it was deposited, ms. */
  at: number
  /** The envelope, base64: ciphertext, keys and signature only. */
  env: string
}

export interface PairValue {
  /** Id (hex) of the last envelope of the sender's run for this recipient; '' when the run was broken (expiry). */
  last: string
  count: number
  bytes: number
  /** Last deposit, ms. */
  at: number
}

const SEP = '!'
const END = '"'
const SEQ_WIDTH = 14

/**
 * A mailbox node's store: envelopes held for its owners (peers that registered by collecting), each sender's run of
 * envelopes per recipient kept in deposit order, bounded per sender, per recipient and in owners, dropped after the
 * TTL. The hold never sees plaintext: the envelopes are sealed by their senders. Keys never hold peer ids.
 *
 * - `mailbox-held`    `H(recipient)!seq` → {id, s: H(sender), at, env}   (seq: a µs clock, deposit order)
 * - `mailbox-pairs`   `H(recipient)!H(sender)` → {last, count, bytes, at} (the sender's run: quota and chain)
 * - `mailbox-owners`  `H(owner)` → {since}
 *
 * A run is a chain: each envelope names the one before it (`prev`). When an envelope expires, the rest of its run
 * goes with it (so the recipient never gets a later message without an earlier one) and the chain is broken: the
 * sender's next deposit is answered GAP and it starts a new run from its oldest unacknowledged message. A new run
 * (empty `prev`) replaces what was held of the old one, which it repeats.
 */
export class MailboxHold {
  readonly limits: HoldLimits
  private readonly store: MailboxHoldHost
  private readonly heldDb: Sub<HeldValue>
  private readonly pairs: Sub<PairValue>
  private readonly owners: Sub<OwnerValue>
  private readonly lock = new KeyedLock()
  private readonly ownerSet = new Set<string>()
  /** Per H(recipient): what is held for it, and how many senders have a run there. */
  private readonly totals = new Map<string, { count: number; bytes: number; senders: number }>()
  private clock = 0

  private constructor(store: MailboxHoldHost, limits: HoldLimits) {
    this.store = store
    this.limits = limits
    this.heldDb = store.parts.mailboxHeld
    this.pairs = store.parts.mailboxPairs
    this.owners = store.parts.mailboxOwners
  }

  /** The hold on a store's database, its counters read back. */
  static async open(store: MailboxHoldHost, limits: HoldLimits): Promise<MailboxHold> {
    const hold = new MailboxHold(store, limits)
    for await (const key of hold.owners.keys()) hold.ownerSet.add(key)
    for await (const [key, pair] of hold.pairs.iterator()) {
      const t = hold.total(key.slice(0, key.indexOf(SEP)))
      t.count += pair.count
      t.bytes += pair.bytes
      t.senders++
    }
    for (const rh of hold.ownerSet) {
      const [last] = await hold.heldDb.keys({ gt: rh + SEP, lt: rh + END, reverse: true, limit: 1 }).all()
      if (last != null) hold.clock = Math.max(hold.clock, Number.parseInt(last.slice(rh.length + 1), 16))
    }
    return hold
  }

  private now(): number {
    return this.limits.now?.() ?? Date.now()
  }

  get ttlMs(): number {
    return this.limits.ttlMs
  }

  private total(rh: string) {
    let t = this.totals.get(rh)
    if (t == null) {
      t = { count: 0, bytes: 0, senders: 0 }
      this.totals.set(rh, t)
    }
    return t
  }

  /** Held for an owner now (for `mailbox --json` on the mailbox node and for tests). */
  heldFor(owner: string): { count: number; bytes: number; senders: number } {
    return { ...this.total(this.store.peerKey(owner)) }
  }

  /** Peers using this mailbox. */
  get ownerCount(): number {
    return this.ownerSet.size
  }

  async register(owner: string): Promise<string | undefined> {
    const rh = this.store.peerKey(owner)
    if (this.ownerSet.has(rh)) return undefined
    if (this.ownerSet.size >= this.limits.maxOwners) {
      return `this mailbox serves as many peers as it allows (${this.limits.maxOwners})`
    }
    this.ownerSet.add(rh)
    await this.owners.put(rh, { since: this.now() })
    return undefined
  }

  async deposit(envelope: EnvelopeHead, bytes: Uint8Array): Promise<{ status: HoldStatus; detail: string }> {
    const rh = this.store.peerKey(envelope.recipient)
    if (!this.ownerSet.has(rh)) return { status: 'REFUSED', detail: 'the recipient does not use this mailbox' }
    return this.lock.run(rh, async () => {
      const sh = this.store.peerKey(envelope.sender)
      const pairKey = rh + SEP + sh
      const id = hex(envelope.id)
      const prev = hex(envelope.prev)
      let pair = await this.pairs.get(pairKey)
      if (pair != null && pair.last === id) return { status: 'DUPLICATE' as const, detail: 'held already' }
      const ops: Op[] = []
      const t = this.total(rh)
      if (prev !== '') {
        if (pair == null || pair.last !== prev) {
          return { status: 'GAP' as const, detail: 'the envelope before this one is no longer held: start a new run' }
        }
      } else if (pair != null && pair.count > 0) {
        // A new run repeats whatever the old one still had waiting: the old one goes.
        ops.push(...(await this.runOps(rh, sh)))
        t.count -= pair.count
        t.bytes -= pair.bytes
        pair = { ...pair, count: 0, bytes: 0 }
      }
      const size = bytes.byteLength
      const { perSender, perRecipient, maxSenders } = this.limits
      const count = (pair?.count ?? 0) + 1
      if (count > perSender.envelopes || (pair?.bytes ?? 0) + size > perSender.bytes) {
        return { status: 'QUOTA' as const, detail: `your share for this recipient is full (${perSender.envelopes} envelopes, ${perSender.bytes} bytes)` }
      }
      if (t.count + 1 > perRecipient.envelopes || t.bytes + size > perRecipient.bytes) {
        return { status: 'QUOTA' as const, detail: 'the recipient\'s mailbox is full' }
      }
      if (pair == null && t.senders >= maxSenders) {
        return { status: 'QUOTA' as const, detail: `the recipient has runs from ${maxSenders} senders already` }
      }
      const now = this.now()
      this.clock = Math.max(now * 1000, this.clock + 1)
      const seq = this.clock.toString(16).padStart(SEQ_WIDTH, '0')
      ops.push(
        { type: 'put', sublevel: this.heldDb, key: rh + SEP + seq, value: { id, s: sh, at: now, env: Buffer.from(bytes).toString('base64') } },
        { type: 'put', sublevel: this.pairs, key: pairKey, value: { last: id, count, bytes: (pair?.bytes ?? 0) + size, at: now } }
      )
      await this.batch(ops)
      if (pair == null) t.senders++
      t.count++
      t.bytes += size
      return { status: 'OK' as const, detail: '' }
    })
  }

  /** Delete operations for every envelope of one sender's run. */
  private async runOps(rh: string, sh: string): Promise<Op[]> {
    const ops: Op[] = []
    for await (const [key, value] of this.heldDb.iterator({ gt: rh + SEP, lt: rh + END })) {
      if (value.s === sh) ops.push({ type: 'del', sublevel: this.heldDb, key })
    }
    return ops
  }

  async held(
    owner: string,
    limit: number,
    maxBytes: number
  ): Promise<{ items: Array<{ key: string; id: Uint8Array<ArrayBuffer>; bytes: Uint8Array<ArrayBuffer> }>; more: boolean }> {
    const rh = this.store.peerKey(owner)
    await this.sweepRecipient(rh, this.now())
    const items: Array<{ key: string; id: Uint8Array<ArrayBuffer>; bytes: Uint8Array<ArrayBuffer> }> = []
    let size = 0
    let more = false
    for await (const [key, value] of this.heldDb.iterator({ gt: rh + SEP, lt: rh + END, limit: limit + 1 })) {
      const bytes = new Uint8Array(Buffer.from(value.env, 'base64'))
      if (items.length >= limit || (items.length > 0 && size + bytes.byteLength > maxBytes)) {
        more = true
        break
      }
      items.push({ key, id: new Uint8Array(Buffer.from(value.id, 'hex')), bytes })
      size += bytes.byteLength
    }
    return { items, more }
  }

  async remove(owner: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return
    const rh = this.store.peerKey(owner)
    await this.lock.run(rh, async () => {
      const values = await this.heldDb.getMany(keys.filter((k) => k.startsWith(rh + SEP)))
      const ops: Op[] = []
      const pairs = new Map<string, PairValue>()
      const t = this.total(rh)
      for (const [i, value] of values.entries()) {
        if (value == null) continue
        const pairKey = rh + SEP + value.s
        const pair = pairs.get(pairKey) ?? (await this.pairs.get(pairKey))
        const size = Buffer.byteLength(value.env, 'base64')
        if (pair != null) {
          pairs.set(pairKey, { ...pair, count: Math.max(0, pair.count - 1), bytes: Math.max(0, pair.bytes - size) })
        }
        ops.push({ type: 'del', sublevel: this.heldDb, key: keys[i] })
        t.count--
        t.bytes -= size
      }
      for (const [key, value] of pairs) ops.push({ type: 'put', sublevel: this.pairs, key, value })
      await this.batch(ops)
    })
  }

  async sweep(now = this.now()): Promise<number> {
    let dropped = 0
    for (const rh of this.ownerSet) dropped += await this.sweepRecipient(rh, now)
    return dropped
  }

  /**
   * Drop what is held for one recipient past the TTL, with the rest of each run that loses an envelope (its chain
   * is broken: the sender starts over); forget runs that have been empty for a TTL.
   */
  private async sweepRecipient(rh: string, now: number): Promise<number> {
    return this.lock.run(rh, async () => {
      const ttl = this.limits.ttlMs
      const broken = new Set<string>()
      const ops: Op[] = []
      for await (const [key, value] of this.heldDb.iterator({ gt: rh + SEP, lt: rh + END })) {
        if (value.at + ttl <= now) broken.add(value.s)
        else if (!broken.has(value.s)) continue
        ops.push({ type: 'del', sublevel: this.heldDb, key })
      }
      const t = this.total(rh)
      for await (const [key, pair] of this.pairs.iterator({ gt: rh + SEP, lt: rh + END })) {
        if (broken.has(key.slice(rh.length + 1))) {
          t.count -= pair.count
          t.bytes -= pair.bytes
          ops.push({ type: 'put', sublevel: this.pairs, key, value: { last: '', count: 0, bytes: 0, at: pair.at } })
        } else if (pair.count === 0 && pair.at + ttl <= now) {
          ops.push({ type: 'del', sublevel: this.pairs, key })
          t.senders--
        }
      }
      if (ops.length > 0) await this.batch(ops)
      return ops.filter((o) => o.sublevel === this.heldDb).length
    })
  }

  private async batch(ops: Op[]): Promise<void> {
    // All three sublevels are on the store's database: one atomic batch.
    if (ops.length > 0) await this.store.writeOps(ops)
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
