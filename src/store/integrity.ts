/**
 * What ties a database to its data dir, and the checks that tell a damaged or swapped store from a good one.
 *
 * - The store id (`meta` `store-id`): a random database id and the owner's peer id, sealed (HMAC) under a key derived
 *   from the store secret. The data dir's manifest names the same database id, so a db/ from elsewhere, an empty one
 *   (LevelDB creates one when db/CURRENT is lost) or another store.secret is told apart from the right one.
 * - The write counter (`meta` `writes`): bumped in every message batch. The manifest keeps its value at each clean
 *   stop (after a synced write), so a database that has fewer writes than that lost some (a truncated .log, an
 *   older copy of db/ put back).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Sub } from './store.ts'
import type { StoredMessage } from './types.ts'

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
const STORE_ID_KEY = 'store-id'
export const WRITES_KEY = 'writes'
/** How many records the legacy checks look at: enough to tell, bounded for large stores. */
const SAMPLE = 200

/** The store secret's fingerprint, for the manifest: says which secret it is, reveals nothing of it. */
export function secretFingerprint(secret: Uint8Array): string {
  return createHmac('sha256', secret).update('p2pnode store.secret fingerprint v1').digest('hex')
}

export function newDbId(): string {
  return randomBytes(16).toString('hex')
}

export class StoreIntegrity {
  private readonly sealKey: Buffer

  constructor(
    secret: Uint8Array,
    private readonly meta: Sub<unknown>,
    private readonly messages: Sub<StoredMessage>,
    private readonly peersRaw: Sub<{ record?: { peerId?: unknown } }>,
    private readonly peerKey: (peerId: string) => string,
    private readonly peerSealOk: (key: string, value: unknown) => boolean
  ) {
    this.sealKey = createHmac('sha256', secret).update('p2pnode store id v1').digest()
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
      if (key.startsWith(`${this.peerKey(m.peer)}!`)) return true
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
