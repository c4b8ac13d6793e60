import { randomBytes } from 'node:crypto'
import type { FileInfo } from './files.ts'
import type { GroupInfo, HistoryEntry, PeerState, TranscriptInfo, Visibility } from './types.ts'

/**
 * What `GET /v1/events` streams (Server-Sent Events): one JSON object per event, `{id, seq, time, type, ...}`.
 * Field names are a contract (README, "Events").
 */
export type ApiEventBody =
  /** A message was stored: received (`direction` in) or sent by this node (out, status pending at first). */
  | { type: 'message'; message: HistoryEntry; name: string; muted: boolean }
  /** Our messages changed status: written to the peer (`sent`) or acknowledged by it (`delivered`). */
  | { type: 'status'; peer: string; ids: string[]; status: 'sent' | 'delivered' }
  /** A peer greeted us on an open connection (connected true) or its last such connection closed (false). */
  | { type: 'peer'; peerId: string; name: string; connected: boolean }
  /** A peer told us a new name. */
  | { type: 'renamed'; peerId: string; name: string; formerName: string }
  /**
   * A file transfer was created or changed status (offered, waiting, transferring, complete, failed, cancelled).
   * `timestamp`: the time of its entry in the conversation.
   */
  | { type: 'transfer'; transfer: FileInfo; timestamp: number }
  /** Bytes of a transfer moved: at most a few per second per transfer; the last one may be skipped (see transfer). */
  | { type: 'progress'; transferId: string; peer: string; direction: 'in' | 'out'; received: number; size: number }
  /** A voice note's transcript is ready (`done`) or cannot be made (`failed`). */
  | {
      type: 'transcript'
      id: string
      peer: string
      direction: 'in' | 'out'
      /** The note's time in the conversation. */
      timestamp: number
      duration: number
      transcript: TranscriptInfo
    }
  /** Who can find and reach us changed. */
  | { type: 'visibility'; visibility: Visibility }
  /** A peer became or stopped being a contact, was renamed locally, blocked, unblocked, muted or unmuted. */
  | { type: 'peer-state'; state: PeerState & { localName?: string } }
  /** A message of a group was stored: a member's (in) or ours (out). `name`: the sender's. */
  | { type: 'group-message'; group: { id: string; name: string }; message: HistoryEntry; name: string }
  /** One of our group messages reached one more member (`delivered` of `recipients`). */
  | { type: 'group-status'; group: string; id: string; peer: string; delivered: number; recipients: number }
  /** A group's membership or name changed (we made the change, the admin did, or a member left). */
  | { type: 'group'; group: GroupInfo; change: NonNullable<HistoryEntry['system']>; status: 'member' | 'removed' | 'left' }

export type ApiEventType = ApiEventBody['type']

/** An event as kept and sent: `id` is `<run>-<seq>` (the run changes with every start of the node). */
export type ApiEvent = ApiEventBody & { id: string; seq: number; time: number }

/**
 * Sent instead of a replay when the client asked for events the node no longer has (older than the ring, from
 * another run of the node, or an id it cannot read): the client should reload its state. `id` is the newest event
 * id, so that the next reconnect continues from here.
 */
export interface ResyncEvent {
  type: 'resync'
  id: string
  reason: string
}

export interface EventLogOptions {
  /** Events kept for replay. @default 1000 */
  capacity?: number
  /** Events older than this are not replayed, ms. @default 600000 (10 min) */
  maxAgeMs?: number
}

/** What a reconnecting client gets: the events after its last one, or a resync. */
export type Replay = { events: ApiEvent[] } | { resync: ResyncEvent }

/**
 * The node's recent events: a bounded ring (count and age) with increasing ids, and the live listeners. Listeners
 * are called synchronously; one that throws is removed, the others go on.
 */
export class EventLog {
  /** This run's id: ids from another run of the node are not ours to replay. */
  readonly run = randomBytes(4).toString('hex')
  private readonly capacity: number
  private readonly maxAgeMs: number
  private readonly ring: ApiEvent[] = []
  private seq = 0
  private readonly listeners = new Set<(event: ApiEvent) => void>()

  constructor(options: EventLogOptions = {}) {
    this.capacity = options.capacity ?? 1000
    this.maxAgeMs = options.maxAgeMs ?? 600_000
  }

  publish(body: ApiEventBody): ApiEvent {
    this.seq++
    const event = { ...body, id: `${this.run}-${this.seq}`, seq: this.seq, time: Date.now() } as ApiEvent
    this.ring.push(event)
    if (this.ring.length > this.capacity) this.ring.shift()
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch {
        this.listeners.delete(listener)
      }
    }
    return event
  }

  /** Live events from now on; returns the unsubscribe. */
  subscribe(listener: (event: ApiEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** The newest event's id (`<run>-0` before the first). */
  lastId(): string {
    return `${this.run}-${this.seq}`
  }

  /** The events after `lastEventId`, if the node still has all of them; else a resync saying why. */
  since(lastEventId: string): Replay {
    const resync = (reason: string): Replay => ({ resync: { type: 'resync', id: this.lastId(), reason } })
    const m = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId.trim())
    if (m == null) return resync(`not an event id: ${JSON.stringify(lastEventId.slice(0, 64))}`)
    if (m[1] !== this.run) return resync('the node was restarted since that event')
    const after = Number(m[2])
    if (after > this.seq) return resync('that event id is newer than any event of this node')
    this.expire()
    const oldest = this.ring[0]?.seq ?? this.seq + 1
    // The events after `after` are all here if the first of them (after + 1) is not older than the ring.
    if (after + 1 < oldest) return resync(`events after ${lastEventId} are no longer kept`)
    return { events: this.ring.filter((e) => e.seq > after) }
  }

  private expire(): void {
    const cutoff = Date.now() - this.maxAgeMs
    while (this.ring.length > 0 && this.ring[0].time < cutoff) this.ring.shift()
  }
}
