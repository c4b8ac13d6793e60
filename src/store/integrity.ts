/**
 * What ties a database to its data dir, and the checks that tell a damaged or swapped store from a good one.
 *
 * - The store id (`meta` `store-id`): a random database id and the owner's peer id, sealed (HMAC) under a key derived
 *   from the store secret. The data dir's manifest names the same database id, so a db/ from elsewhere, an empty one
 *   (LevelDB creates one when db/CURRENT is lost) or another store.secret is told apart from the right one.
 * - Sealed values (sealed-codec.ts): messages and the outbox carry a MAC; scans find the damaged ones, and
 *   `quarantine` moves them aside (kept, never deleted).
 * - The write counter (`meta` `writes`): bumped in every message batch. The manifest keeps its value at each clean
 *   stop (after a synced write), so a database that has fewer writes than that lost some (a truncated .log, an
 *   older copy of db/ put back).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { type Db, dmConversation, LAYOUT, LAYOUT1, META, SEP, type Sub, SUBLEVEL } from './keys.ts'
import { isDamaged } from './sealed-codec.ts'
import type { SealedRecord } from './records.ts'
import type { OutboxRecord, PeerRecord, StoredMessage } from './types.ts'

export interface StoreId {
  /** 32 hex characters, random, chosen when the store got its id. */
  dbId: string
  /** The peer id of the node the store belongs to. */
  peerId: string
}

/** What `store-id` says: `missing` (a new store, or one made by 0.1), `invalid` (fails its seal), or the id. */
export type StoreIdState = { state: 'missing' } | { state: 'invalid' } | ({ state: 'ok' } & StoreId)

/** classic-level's synced write (fsync of the log, and so of every write before it); abstract-level has no type for it. */
export const SYNC = { sync: true } as object
const STORE_ID_KEY = META.storeId
export const WRITES_KEY = META.writes
/** How many records the legacy checks look at: enough to tell, bounded for large stores. */
const SAMPLE = 200

/** The store secret's fingerprint, for the manifest: says which secret it is, reveals nothing of it. */
export function secretFingerprint(secret: Uint8Array): string {
  return createHmac('sha256', secret).update('p2pnode store.secret fingerprint v1').digest('hex')
}

export function newDbId(): string {
  return randomBytes(16).toString('hex')
}

export interface IntegrityParts {
  db: Db
  meta: Sub<unknown>
  /** The layout on disk: the checks read layout 1's sublevels until the store is upgraded. */
  layout: () => number
  current: { messages: Sub<StoredMessage>; outbox: Sub<OutboxRecord> }
  layout1: { messages: Sub<StoredMessage>; outbox: Sub<StoredMessage> }
  raw: (name: string) => Sub<string>
  peersRaw: Sub<SealedRecord<PeerRecord>>
  peerKey: (peerId: string) => string
  peerSealOk: (key: string, value: unknown) => boolean
}

/** What a full scan of the sealed values found. */
export interface ValueScan {
  /** Values looked at, per sublevel. */
  counts: Record<SealedSublevel, number>
  /** Keys of the values that failed their check (at most MAX_LISTED per sublevel), and how many there were. */
  damaged: Record<SealedSublevel, { count: number; keys: string[] }>
}

export type SealedSublevel = 'messages' | 'outbox'
const SEALED: SealedSublevel[] = ['messages', 'outbox']
const MAX_LISTED = 100

export class StoreIntegrity {
  private readonly sealKey: Buffer
  private readonly meta: Sub<unknown>
  private readonly peersRaw: IntegrityParts['peersRaw']
  private readonly peerKey: IntegrityParts['peerKey']
  private readonly peerSealOk: IntegrityParts['peerSealOk']

  constructor(
    secret: Uint8Array,
    private readonly parts: IntegrityParts
  ) {
    this.sealKey = createHmac('sha256', secret).update('p2pnode store id v1').digest()
    this.meta = parts.meta
    this.peersRaw = parts.peersRaw
    this.peerKey = parts.peerKey
    this.peerSealOk = parts.peerSealOk
  }

  private get layout1(): boolean {
    return this.parts.layout() < LAYOUT
  }

  /** The messages (conversation entries) of the layout on disk. */
  private get messages(): Sub<StoredMessage> {
    return this.layout1 ? this.parts.layout1.messages : this.parts.current.messages
  }

  /** A sealed sublevel of the layout on disk, by what it holds. */
  private sealed(name: SealedSublevel): Sub<unknown> {
    if (name === 'messages') return this.messages as unknown as Sub<unknown>
    return (this.layout1 ? this.parts.layout1.outbox : this.parts.current.outbox) as unknown as Sub<unknown>
  }

  /** The raw text of a sealed sublevel of the layout on disk, by what it holds (for scans and tests). */
  raw(name: SealedSublevel | 'damaged'): Sub<string> {
    if (name === 'damaged') return this.parts.raw(SUBLEVEL.damaged)
    const physical = this.layout1 ? LAYOUT1[name] : name === 'messages' ? SUBLEVEL.log : SUBLEVEL.outbox
    return this.parts.raw(physical)
  }

  /** Check every sealed value (for `p2pnode doctor` and the scan after start). */
  async scanValues(): Promise<ValueScan> {
    const scan: ValueScan = {
      counts: { messages: 0, outbox: 0 },
      damaged: { messages: { count: 0, keys: [] }, outbox: { count: 0, keys: [] } }
    }
    for (const name of SEALED) {
      for await (const [key, value] of this.sealed(name).iterator()) {
        scan.counts[name]++
        if (!isDamaged(value)) continue
        const d = scan.damaged[name]
        d.count++
        if (d.keys.length < MAX_LISTED) d.keys.push(key)
      }
    }
    return scan
  }

  /**
   * Move damaged values out of the way, into the `damaged` sublevel (`<sublevel>!<key>` → the raw text as it was),
   * in one batch per value: nothing is deleted, and nothing damaged is read again. Returns how many were moved.
   */
  async quarantine(): Promise<number> {
    let moved = 0
    const damagedSub = this.raw('damaged')
    for (const name of SEALED) {
      const raw = this.raw(name)
      for await (const [key, value] of this.sealed(name).iterator()) {
        if (!isDamaged(value)) continue
        const text = await raw.get(key)
        await this.parts.db.batch([
          { type: 'put', sublevel: damagedSub, key: `${name}!${key}`, value: text ?? '' },
          { type: 'del', sublevel: raw, key }
        ] as never)
        moved++
      }
    }
    return moved
  }

  async storeId(): Promise<StoreIdState> {
    const value = (await this.meta.get(STORE_ID_KEY)) as { dbId?: unknown; peerId?: unknown; seal?: unknown } | undefined
    if (value == null) return { state: 'missing' }
    const { dbId, peerId, seal } = value
    if (typeof dbId !== 'string' || typeof peerId !== 'string' || typeof seal !== 'string') return { state: 'invalid' }
    const expected = this.seal({ dbId, peerId })
    const actual = Buffer.from(seal, 'hex')
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return { state: 'invalid' }
    return { state: 'ok', dbId, peerId }
  }

  async setStoreId(id: StoreId): Promise<void> {
    await this.meta.put(STORE_ID_KEY, { ...id, seal: this.seal(id).toString('hex') }, SYNC)
  }

  /** True when the store holds no message and no peer (a new store: nothing to check, nothing to lose). */
  async isEmpty(): Promise<boolean> {
    const [m] = await this.messages.keys({ limit: 1 }).all()
    const [p] = await this.peersRaw.keys({ limit: 1 }).all()
    return m == null && p == null
  }

  /**
   * Whether `secret` is the one this store was written with, from what a 0.1 store holds (it has no store id):
   * message keys start with H(peer) and peer records are sealed, both under the secret. Undefined when there is
   * nothing to tell by.
   */
  async secretMatches(): Promise<boolean | undefined> {
    let seen = 0
    for await (const [key, m] of this.messages.iterator({ limit: SAMPLE })) {
      if (typeof m?.peer !== 'string') continue
      seen++
      const ph = this.peerKey(m.peer)
      if (key.startsWith(this.layout1 ? ph + SEP : dmConversation(ph) + SEP)) return true
    }
    for await (const [key, value] of this.peersRaw.iterator({ limit: SAMPLE })) {
      seen++
      if (this.peerSealOk(key, value)) return true
    }
    return seen === 0 ? undefined : false
  }

  /** Who wrote our own stored messages (their `from`): the owner's peer id, in a store of this node. */
  async ownSenders(): Promise<Set<string>> {
    const senders = new Set<string>()
    for await (const m of this.messages.values({ limit: SAMPLE * 5 })) {
      if (m?.direction === 'out' && typeof m.from === 'string') senders.add(m.from)
    }
    return senders
  }

  private seal(id: StoreId): Buffer {
    return createHmac('sha256', this.sealKey).update(`${id.dbId}\n${id.peerId}`).digest()
  }
}
