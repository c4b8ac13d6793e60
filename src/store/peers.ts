import type { AbstractSublevel } from 'abstract-level'
import { ErrorCode, P2pError } from '../errors.ts'
import { KeyedLock } from './lock.ts'
import { RecordSealer, type SealedRecord } from './records.ts'
import type { PeerRecord, PeerUpdate, TamperedRecord } from './types.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the parent database type does not matter here
type PeerSub = AbstractSublevel<any, string | Buffer | Uint8Array, string, SealedRecord<PeerRecord>>

/** Past names kept per peer (for anonymized exports): bounded, a peer could rename itself endlessly. */
const MAX_FORMER_NAMES = 10

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
    return this.lock.run(peerId, async () => {
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
      const localName = update.localName === null ? undefined : (update.localName ?? prev?.localName)
      if (localName != null) next.localName = localName
      const dropped = [prev?.name, prev?.localName].filter((n): n is string => n != null && n !== name && n !== localName)
      const former = [...new Set([...dropped, ...(prev?.formerNames ?? [])])].slice(0, MAX_FORMER_NAMES)
      if (former.length > 0) next.formerNames = former
      await this.sub.put(key, this.sealer.seal(key, next))
      return next
    })
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
