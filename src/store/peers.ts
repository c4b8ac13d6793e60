import type { AbstractSublevel } from 'abstract-level'
import { ErrorCode, P2pError } from '../errors.ts'
import { KeyedLock } from './lock.ts'
import { RecordSealer, type SealedRecord } from './records.ts'
import type { PeerRecord, PeerUpdate, TamperedRecord } from './types.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the parent database type does not matter here
type PeerSub = AbstractSublevel<any, string | Buffer | Uint8Array, string, SealedRecord<PeerRecord>>

/** Past names kept per peer (for anonymized exports): bounded, a peer could rename itself endlessly. */
const MAX_FORMER_NAMES = 10

/** Records of strangers kept at most (see PeerBook.maxStrangers). */
export const MAX_STRANGERS = 1000

/**
 * A peer we only met: no message either way, not a contact, not blocked or muted, no name of ours for it. Its record
 * holds nothing the user made, so it may be forgotten.
 */
function isStranger(r: PeerRecord): boolean {
  return !r.chatted && !r.contact && !r.blocked && !r.muted && r.localName == null
}

/**
 * The peer book: everyone we met, chatted with, or keep as a contact (with blocked/muted state).
 * Keys are keyed hashes of peer ids; each value carries a digest checked on every read, so a record edited on
 * disk is reported (P2pError RECORD_TAMPERED) instead of used.
 */
export class PeerBook {
  private readonly sub: PeerSub
  private readonly sealer: RecordSealer
  private readonly keyOf: (peerId: string) => string
  private readonly lock = new KeyedLock()
  /**
   * Strangers' records kept at most: anyone can greet us under ever new peer ids, so beyond this the least recently
   * seen strangers are forgotten (down to 90 % of it, so that this happens in batches).
   */
  maxStrangers = MAX_STRANGERS
  /** Strangers on disk, once counted (undefined: count on the next need). */
  private strangers: number | undefined
  private trimming: Promise<void> | undefined

  constructor(sub: PeerSub, secret: Uint8Array, keyOf: (peerId: string) => string) {
    this.sub = sub
    this.sealer = new RecordSealer(secret)
    this.keyOf = keyOf
  }

  /** The record, undefined if none; throws RECORD_TAMPERED if it fails its check. */
  async get(peerId: string): Promise<PeerRecord | undefined> {
    const key = this.keyOf(peerId)
    const sealed = await this.sub.get(key)
    if (sealed == null) return undefined
    const record = this.open(key, sealed)
    if (record == null || record.peerId !== peerId) throw tampered(key)
    return record
  }

  /** Create or update a record; returns the new one. A tampered record is replaced only by an explicit update. */
  async update(peerId: string, update: PeerUpdate): Promise<PeerRecord> {
    const result = await this.lock.run(peerId, async () => {
      const key = this.keyOf(peerId)
      const now = update.seenAt ?? Date.now()
      const sealed = await this.sub.get(key)
      const prev = sealed == null ? undefined : this.open(key, sealed)
      if (sealed != null && prev == null) throw tampered(key)
      const next: PeerRecord = {
        peerId,
        addrs: update.addrs ?? prev?.addrs ?? [],
        firstSeen: prev?.firstSeen ?? now,
        lastSeen: Math.max(prev?.lastSeen ?? 0, now),
        chatted: (prev?.chatted ?? false) || (update.chatted ?? false),
        contact: update.contact ?? prev?.contact ?? false,
        blocked: update.blocked ?? prev?.blocked ?? false,
        muted: update.muted ?? prev?.muted ?? false
      }
      const name = update.name ?? prev?.name
      if (name != null) next.name = name
      // New records say whether we wrote; records from 0.1 keep saying nothing until we do.
      const wrote = update.wrote === true ? true : prev != null ? prev.wrote : false
      if (wrote != null) next.wrote = wrote
      const notP2pnode = update.notP2pnode === null ? undefined : (update.notP2pnode ?? prev?.notP2pnode)
      if (notP2pnode != null) next.notP2pnode = notP2pnode
      const localName = update.localName === null ? undefined : (update.localName ?? prev?.localName)
      if (localName != null) next.localName = localName
      const dropped = [prev?.name, prev?.localName].filter((n): n is string => n != null && n !== name && n !== localName)
      const former = [...new Set([...dropped, ...(prev?.formerNames ?? [])])].slice(0, MAX_FORMER_NAMES)
      if (former.length > 0) next.formerNames = former
      await this.sub.put(key, this.sealer.seal(key, next))
      const change = (isStranger(next) ? 1 : 0) - (prev != null && isStranger(prev) ? 1 : 0)
      if (this.strangers != null) this.strangers += change
      return { next, change }
    })
    // Best effort: failing to forget old strangers must not fail this update (the record is written).
    if (result.change > 0) {
      await this.trim().catch(() => {
        this.strangers = undefined
      })
    }
    return result.next
  }

  /** Forget the least recently seen strangers when there are more than maxStrangers. */
  private async trim(): Promise<void> {
    this.strangers ??= (await this.list()).peers.filter(isStranger).length
    if (this.strangers <= this.maxStrangers) return
    this.trimming ??= (async () => {
      const strangers = (await this.list()).peers.filter(isStranger).sort((a, b) => a.lastSeen - b.lastSeen)
      const excess = strangers.length - Math.floor(this.maxStrangers * 0.9)
      for (const old of strangers.slice(0, excess)) {
        // Under the peer's lock, and only if it is still the same stranger: it may have chatted meanwhile.
        await this.lock.run(old.peerId, async () => {
          const key = this.keyOf(old.peerId)
          const sealed = await this.sub.get(key)
          const now = sealed == null ? undefined : this.open(key, sealed)
          if (now != null && isStranger(now) && now.lastSeen === old.lastSeen) await this.sub.del(key)
        })
      }
      this.strangers = undefined // counted again next time: updates went on meanwhile
    })().finally(() => {
      this.trimming = undefined
    })
    await this.trimming
  }

  /** Every record that passes its check, and the keys of those that do not. */
  async list(): Promise<{ peers: PeerRecord[]; tampered: TamperedRecord[] }> {
    const peers: PeerRecord[] = []
    const bad: TamperedRecord[] = []
    for (const [key, sealed] of await this.sub.iterator().all()) {
      const record = this.open(key, sealed)
      if (record != null && this.keyOf(record.peerId) === key) peers.push(record)
      else bad.push({ key, claimedPeerId: (sealed as { record?: { peerId?: string } })?.record?.peerId })
    }
    return { peers, tampered: bad }
  }

  /** Forget a peer entirely (its messages stay). */
  async remove(peerId: string): Promise<void> {
    await this.lock.run(peerId, () => this.sub.del(this.keyOf(peerId)))
    this.strangers = undefined
  }

  private open(key: string, sealed: SealedRecord<PeerRecord>): PeerRecord | undefined {
    return this.sealer.open(key, sealed)
  }
}

function tampered(key: string): P2pError {
  return new P2pError(
    ErrorCode.RECORD_TAMPERED,
    `the stored record ${key.slice(0, 12)}… failed its integrity check (edited outside p2pnode?) and was not used`,
    { hint: 'remove it with: p2pnode contacts rm <peer id>, then add the contact again' }
  )
}
