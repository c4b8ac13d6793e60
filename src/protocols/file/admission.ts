/**
 * What an incoming offer may cost before the user has said yes: who is accepted without asking, how many offers may
 * wait, and how much one peer may have fetched without asking per hour. In memory; the waiting offers are counted
 * again from the records at start.
 */
import {
  AUTO_ACCEPT_BYTES_PER_HOUR,
  AUTO_ACCEPT_FILES_PER_HOUR,
  MAX_WAITING_FROM_STRANGERS,
  MAX_VOICE_NOTE_BYTES,
  MAX_WAITING_PER_PEER
} from './constants.ts'
import type { TransferRecord } from './index.ts'

const HOUR_MS = 3600_000

export interface AdmissionLimits {
  /** Largest file accepted without asking. */
  autoAcceptMax: number
  maxWaitingPerPeer?: number
  maxWaitingFromStrangers?: number
  autoAcceptFilesPerHour?: number
  autoAcceptBytesPerHour?: number
}

/** `reason` (for a waiting offer) is told to the sender, in words it can show its user. */
export type Decision = { status: 'transferring' } | { status: 'waiting'; reason: string } | { refuse: string }

export class Admission {
  private readonly limits: Required<AdmissionLimits>
  /**
   * Incoming offers waiting for the user, per peer, and whether the peer was a stranger when it last offered
   * (records from before a restart count as strangers' until their peer offers again).
   */
  private readonly waiting = new Map<string, { ids: Set<string>; stranger: boolean }>()
  /** Transfers accepted without asking in the last hour, per peer (oldest first). */
  private readonly recent = new Map<string, Array<{ at: number; bytes: number }>>()

  constructor(limits: AdmissionLimits) {
    this.limits = {
      maxWaitingPerPeer: MAX_WAITING_PER_PEER,
      maxWaitingFromStrangers: MAX_WAITING_FROM_STRANGERS,
      autoAcceptFilesPerHour: AUTO_ACCEPT_FILES_PER_HOUR,
      autoAcceptBytesPerHour: AUTO_ACCEPT_BYTES_PER_HOUR,
      ...limits
    }
  }

  /** Follow a record's status (call for every record at start and on every change). */
  track(record: Pick<TransferRecord, 'id' | 'peer' | 'direction' | 'status'>): void {
    if (record.direction !== 'in') return
    let entry = this.waiting.get(record.peer)
    if (record.status === 'waiting') {
      if (entry == null) {
        entry = { ids: new Set(), stranger: true }
        this.waiting.set(record.peer, entry)
      }
      entry.ids.add(record.id)
    } else if (entry != null && entry.ids.delete(record.id) && entry.ids.size === 0) {
      this.waiting.delete(record.peer)
    }
  }

  /**
   * What to do with a new offer of `size` bytes from `peer`: fetch it at once (a trusted peer, small enough, within
   * its hourly budget), let it wait for the user, or refuse it (too many waiting, from this peer or from strangers
   * altogether).
   */
  decide(peer: string, size: number, trusted: boolean, now = Date.now(), voice = false): Decision {
    const mine = this.waiting.get(peer)
    if (mine != null) mine.stranger = !trusted
    // A voice note is heard at once, like a message: one within its bound needs no accept, whatever the file limit.
    const small = size <= this.limits.autoAcceptMax || (voice && size <= MAX_VOICE_NOTE_BYTES)
    const within = trusted && small && this.withinBudget(peer, size, now)
    if (within) {
      const list = this.recent.get(peer) ?? []
      list.push({ at: now, bytes: size })
      this.recent.set(peer, list)
      return { status: 'transferring' }
    }
    const reason = !trusted
      ? 'they take files without asking only from their contacts and people they wrote to'
      : !small
        ? 'it is over their auto-accept limit'
        : 'they had many files from you this hour'
    if ((mine?.ids.size ?? 0) >= this.limits.maxWaitingPerPeer) {
      return { refuse: `too many files from you wait for the user (${this.limits.maxWaitingPerPeer})` }
    }
    if (!trusted) {
      let strangers = 0
      for (const { ids, stranger } of this.waiting.values()) if (stranger) strangers += ids.size
      if (strangers >= this.limits.maxWaitingFromStrangers) return { refuse: 'too many files wait for the user' }
    }
    // The record about to be made is counted by track(); its peer's standing is known now.
    if (mine == null) this.waiting.set(peer, { ids: new Set(), stranger: !trusted })
    return { status: 'waiting', reason }
  }

  private withinBudget(peer: string, size: number, now: number): boolean {
    const list = (this.recent.get(peer) ?? []).filter((e) => now - e.at < HOUR_MS)
    if (list.length === 0) this.recent.delete(peer)
    else this.recent.set(peer, list)
    const bytes = list.reduce((sum, e) => sum + e.bytes, 0)
    return list.length < this.limits.autoAcceptFilesPerHour && bytes + size <= this.limits.autoAcceptBytesPerHour
  }
}
