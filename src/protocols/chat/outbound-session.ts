import type { Connection, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import { MAX_IN_FLIGHT, MAX_IN_FLIGHT_BYTES, PROTOCOL } from './constants.ts'
import { ChatTimeoutError } from './errors.ts'
import { errorText, isEOF } from '../util.ts'
import { messageFrame, openFrames, readAnswer, readFrame, readHello, readReach } from './frames.ts'
import { GroupFrames } from './group-frames.ts'
import type { LiveStatus, OutboxEntry } from './index.ts'
import { Frame } from './pb/chat.ts'
import type { SessionEnd } from './retry.ts'
import type { SessionHost } from './session-host.ts'

/**
 * Our side of one chat stream to one peer: writes the outbox in order with a bounded window of unacknowledged
 * messages, and retires messages as acks arrive. `done` resolves when the stream ends, with what that means for
 * retrying (see SessionEnd).
 */
export class OutboundSession {
  readonly done: Promise<SessionEnd>
  private readonly host: SessionHost
  private readonly groups: GroupFrames
  private readonly peer: string
  private readonly inFlight = new Map<string, { entry: OutboxEntry; size: number }>()
  /** Acked, not yet marked delivered in our store. */
  private readonly acking = new Set<string>()
  private inFlightBytes = 0
  private lastSeq: string | undefined
  private dirty = true
  /** Entries handed over by send() while caught up with the outbox, in seq order. */
  private handed: OutboxEntry[] = []
  /** True once the outbox has been read to its end and nothing was stored since without being handed over. */
  private caughtUp = false
  private reading = false
  /** The peer answered our greeting on this stream. */
  greeted = false
  /** Closed by us (node stopping): its end is not an error. */
  private closing = false
  private open = true
  private stream: Stream | undefined
  private frames: LengthPrefixedStream | undefined
  private wakeup = Promise.withResolvers<void>()
  private lastProgress = Date.now()
  /** Aborted when the session ends: a file entry being delivered stops waiting. */
  private readonly ended = new AbortController()

  constructor(host: SessionHost, peer: string) {
    this.host = host
    this.groups = new GroupFrames((group) => host.signedState(group))
    this.peer = peer
    this.done = this.run()
  }

  /** Something may be waiting in the outbox: read it. */
  kick(): void {
    this.dirty = true
    this.caughtUp = false
    this.handed = []
    this.wakeup.resolve()
  }

  /**
   * A message just stored for this peer. When we have read the outbox to its end, it is the next one to send and
   * is sent without reading it back; otherwise the outbox is read again.
   */
  offer(entry: OutboxEntry): void {
    if (!this.caughtUp || this.reading || this.handed.length >= MAX_IN_FLIGHT) {
      this.kick()
      return
    }
    this.handed.push(entry)
    this.wakeup.resolve()
  }

  close(): void {
    this.closing = true
    this.open = false
    this.stream?.abort(new Error('closing'))
    this.ended.abort(new Error('closing'))
    this.wakeup.resolve()
  }

  /** Write one frame beside the messages (a mailbox update); false if the stream is not greeted and open. */
  tell(frame: Uint8Array): boolean {
    if (!this.open || !this.greeted || this.frames == null) return false
    this.frames.write(frame).catch((err: unknown) => this.stream?.abort(err instanceof Error ? err : new Error(String(err))))
    return true
  }

  liveStatus(id: string): LiveStatus | undefined {
    if (this.acking.has(id)) return 'delivered'
    return this.inFlight.has(id) ? 'sent' : undefined
  }

  private async run(): Promise<SessionEnd> {
    let watchdog: NodeJS.Timeout | undefined
    let connection: Connection | undefined
    let chosen: Connection | undefined
    try {
      const opened = await this.host.openStream(this.peer, (c) => {
        chosen = c
      })
      connection = opened.connection
      const stream = opened.stream
      this.stream = stream
      if (!this.open) {
        stream.abort(new Error('closing'))
        return { kind: 'done' }
      }
      const frames = openFrames(stream)
      await frames.write(Frame.encode(this.host.helloFrame()))
      const first = await readFrame(frames, { signal: AbortSignal.timeout(this.host.timeouts.hello) })
      const hello = readHello(first)
      this.greeted = true
      this.frames = frames
      this.host.onHello(this.peer, hello.name, connection, readReach(first))
      this.host.onMailboxFrame(this.peer, first)
      const ackTimeout = this.host.timeouts.ack
      watchdog = setInterval(
        () => {
          if (this.inFlight.size > 0 && Date.now() - this.lastProgress > ackTimeout) {
            stream.abort(new ChatTimeoutError(`no ack for ${ackTimeout} ms`))
          }
        },
        Math.min(ackTimeout / 4, 1000)
      )
      watchdog.unref()
      const reader = this.readAcks(frames).finally(() => {
        this.open = false
        this.ended.abort(new Error('stream ended'))
        this.wakeup.resolve()
      })
      await Promise.all([this.pump(frames), reader])
      if (stream.status === 'open') await stream.close()
      return { kind: 'done' }
    } catch (err) {
      this.stream?.abort(err instanceof Error ? err : new Error(String(err)))
      const end = this.classify(err, connection)
      // The connection it was on closed (a relayed one retired for a direct one, say): not the peer gone.
      if (end.kind === 'gone' && chosen != null && chosen.status !== 'open') return { ...end, closed: true }
      return end
    } finally {
      clearInterval(watchdog)
      this.open = false
      this.ended.abort(new Error('stream ended'))
      this.greeted = false
    }
  }

  /** Why the session failed, in words, and what that says about the peer. */
  private classify(err: unknown, connection: Connection | undefined): SessionEnd {
    const reason = errorText(err)
    if (this.closing) return { kind: 'done' }
    if ((err as Error).name === 'UnsupportedProtocolError') {
      // Another libp2p program, not a chat node: nothing to greet, nothing to retry.
      return { kind: 'foreign', reason: `it does not speak ${PROTOCOL}` }
    }
    if (connection == null || connection.status !== 'open') return { kind: 'gone', reason }
    const violation = ['ProtocolViolationError', 'InvalidDataLengthError', 'InvalidDataLengthLengthError']
    if (!this.greeted && violation.includes((err as Error).name)) {
      // A p2pnode node greets first thing; a first frame that is no greeting comes from another program.
      return { kind: 'foreign', reason: `its first frame on ${PROTOCOL} was no p2pnode greeting (${reason})` }
    }
    return { kind: 'failed', reason, greeted: this.greeted }
  }

  private async pump(frames: LengthPrefixedStream): Promise<void> {
    while (this.open) {
      const room = MAX_IN_FLIGHT - this.inFlight.size
      const canSend = room > 0 && this.inFlightBytes < MAX_IN_FLIGHT_BYTES
      let entries: OutboxEntry[]
      if (canSend && this.handed.length > 0) {
        entries = this.handed.splice(0, room)
      } else if (canSend && this.dirty) {
        this.dirty = false
        this.reading = true
        try {
          entries = await this.host.store.outbox(this.peer, { afterSeq: this.lastSeq, limit: room })
        } finally {
          this.reading = false
        }
        // Kicked while reading (dirty again): something may have landed after our read began.
        this.caughtUp = entries.length < room && !this.dirty
        if (entries.length === room) this.dirty = true
      } else {
        await this.wakeup.promise
        this.wakeup = Promise.withResolvers()
        continue
      }
      const batch: Uint8Array[] = []
      const ids: string[] = []
      for (const entry of entries) {
        if (this.lastSeq != null && entry.seq <= this.lastSeq) continue
        if (this.inFlightBytes >= MAX_IN_FLIGHT_BYTES) {
          // The rest stays in the outbox for the next read.
          this.kick()
          break
        }
        const m = entry.message
        if (m.group != null) {
          const frames2 = this.groups.of(entry)
          if (frames2 == null) {
            // Nothing this version can send for it (a file to a group): it leaves the outbox.
            await this.host.store.unqueue(this.peer, [entry])
            this.lastSeq = entry.seq
            continue
          }
          const size = frames2.reduce((n, f) => n + f.byteLength, 0)
          if (this.inFlight.size === 0) this.lastProgress = Date.now()
          this.inFlight.set(m.id, { entry, size })
          this.inFlightBytes += size
          this.lastSeq = entry.seq
          batch.push(...frames2)
          ids.push(m.id)
          continue
        }
        if (m.kind === 'file' || m.kind === 'voice') {
          // A file's turn: what came before goes out first, and nothing after it until its offer is answered.
          if (batch.length > 0) {
            await frames.writeV(batch.splice(0))
            this.host.onSent(this.peer, ids.splice(0))
          }
          if (!(await this.deliverFile(entry))) return
          this.lastSeq = entry.seq
          continue
        }
        const bytes = messageFrame(m)
        if (this.inFlight.size === 0) this.lastProgress = Date.now()
        this.inFlight.set(m.id, { entry, size: bytes.byteLength })
        this.inFlightBytes += bytes.byteLength
        this.lastSeq = entry.seq
        batch.push(bytes)
        ids.push(m.id)
      }
      if (!this.open) return
      // One write for the lot: one yamux frame and one Noise message instead of one per chat message.
      if (batch.length > 0) {
        await frames.writeV(batch)
        this.host.onSent(this.peer, ids)
      }
    }
  }

  /**
   * Hand a file entry to the file protocol once every message before it is acknowledged (so the peer has stored
   * them), and retire it when the offer is answered. False when the session ended meanwhile.
   */
  private async deliverFile(entry: OutboxEntry): Promise<boolean> {
    while (this.open && (this.inFlight.size > 0 || this.acking.size > 0)) {
      await this.wakeup.promise
      this.wakeup = Promise.withResolvers()
    }
    if (!this.open) return false
    let outcome: 'delivered' | 'dropped'
    try {
      outcome = await this.host.deliverFile(this.peer, entry.message.id, this.ended.signal)
    } catch (err) {
      if (this.ended.signal.aborted) return false
      throw err
    }
    if (outcome === 'delivered') {
      await this.host.store.markDelivered(this.peer, [entry])
      this.host.onDelivered(this.peer, [entry.message.id])
    } else {
      await this.host.store.unqueue(this.peer, [entry])
    }
    return this.open
  }

  private async readAcks(frames: LengthPrefixedStream): Promise<void> {
    for (;;) {
      let frame: Frame
      try {
        frame = await readFrame(frames)
      } catch (err) {
        if (isEOF(err) || !this.open) return
        throw err
      }
      const answer = readAnswer(frame)
      const acked: OutboxEntry[] = []
      for (const id of answer.ids) {
        const f = this.inFlight.get(id)
        if (f == null) continue // an ack for something we no longer wait for (a resend): harmless
        this.inFlight.delete(id)
        this.inFlightBytes -= f.size
        this.acking.add(id)
        acked.push(f.entry)
      }
      this.lastProgress = Date.now()
      const ids = acked.map((e) => e.message.id)
      if (answer.type === 'refused') {
        // Not stored there, and never will be: out of the outbox, and said.
        try {
          await this.host.store.markRefused(this.peer, acked)
        } finally {
          for (const id of ids) this.acking.delete(id)
        }
        this.host.onRefused(this.peer, ids, answer.reason)
        this.wakeup.resolve()
        continue
      }
      // The ack means the peer has the messages on disk: tell waiters now, then record it on our side.
      this.host.onDelivered(this.peer, ids)
      try {
        await this.host.store.markDelivered(this.peer, acked)
      } finally {
        for (const id of ids) this.acking.delete(id)
      }
      this.wakeup.resolve()
    }
  }
}
