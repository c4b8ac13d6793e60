import { randomBytes } from 'node:crypto'
import type { Connection, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Chat } from './chat.ts'
import { MAX_FRAME_BYTES, MAX_IN_FLIGHT, MAX_IN_FLIGHT_BYTES, PROTOCOL } from './constants.ts'
import { ChatTimeoutError, ProtocolViolationError } from './errors.ts'
import { errorText, fromHex, isEOF } from '../util.ts'
import {
  type InboundItem,
  isMailboxUpdate,
  itemId,
  itemSize,
  messageFrame,
  openFrames,
  readAnswer,
  readFrame,
  readHello,
  readInbound,
  readReach
} from './frames.ts'
import type { LiveStatus, OutboxEntry } from './index.ts'
import { Frame } from './pb/chat.ts'
import type { SessionEnd } from './retry.ts'

/**
 * The peer's side of a chat stream as we receive it: frames are read as they come and queued; whatever is queued
 * is stored in one batch and acked in one frame. Under load that batches naturally; a lone message goes at once.
 */
export class InboundSession {
  private readonly chat: Chat
  private readonly peer: string
  private readonly frames: LengthPrefixedStream
  private readonly queue: InboundItem[] = []
  private queuedBytes = 0
  private wakeup = Promise.withResolvers<void>()
  private ended = false

  constructor(chat: Chat, peer: string, frames: LengthPrefixedStream) {
    this.chat = chat
    this.peer = peer
    this.frames = frames
  }

  async run(): Promise<void> {
    const reader = this.read().finally(() => {
      this.ended = true
      this.wakeup.resolve()
    })
    await Promise.all([reader, this.store()])
  }

  private async read(): Promise<void> {
    const idle = new AbortController()
    const timer = setTimeout(() => idle.abort(new ChatTimeoutError('idle')), this.chat.idle)
    try {
      for (;;) {
        let frame: Frame
        try {
          frame = await readFrame(this.frames, { signal: idle.signal })
        } catch (err) {
          if (isEOF(err) || idle.signal.aborted) return
          throw err
        }
        timer.refresh()
        if (isMailboxUpdate(frame)) {
          this.chat.onMailboxFrame(this.peer, frame)
          continue
        }
        const item = readInbound(frame)
        this.queue.push(item)
        this.queuedBytes += itemSize(item)
        // An honest sender never has more than MAX_IN_FLIGHT messages or MAX_IN_FLIGHT_BYTES unacknowledged.
        if (this.queue.length > MAX_IN_FLIGHT) throw new ProtocolViolationError('too many unacknowledged messages')
        if (this.queuedBytes > MAX_IN_FLIGHT_BYTES + MAX_FRAME_BYTES) {
          throw new ProtocolViolationError('too many unacknowledged bytes')
        }
        this.wakeup.resolve()
      }
    } finally {
      clearTimeout(timer)
    }
  }

  private async store(): Promise<void> {
    const to = this.chat.self
    for (;;) {
      if (this.queue.length === 0) {
        if (this.ended) return
        await this.wakeup.promise
        this.wakeup = Promise.withResolvers()
        continue
      }
      const batch = this.queue.splice(0)
      this.queuedBytes = 0
      // Persist first, then ack: an ack is a promise that the message is on disk.
      const acked: string[] = []
      const refused = new Map<string, string[]>()
      for (let i = 0; i < batch.length; ) {
        const item = batch[i]
        if (item.type === 'message') {
          // Consecutive one-to-one messages: one batch.
          let j = i
          while (j < batch.length && batch[j].type === 'message') j++
          const texts = batch.slice(i, j).map((b) => (b as Extract<InboundItem, { type: 'message' }>).message)
          const added = await this.chat.store.addIncoming(texts.map((m) => ({ ...m, peer: this.peer, to })))
          for (const message of added) this.chat.onMessage(message)
          acked.push(...texts.map((m) => m.id))
          i = j
          continue
        }
        const outcome = await this.chat.receiveGroupItem(this.peer, item)
        if ('refused' in outcome) refused.set(outcome.refused, [...(refused.get(outcome.refused) ?? []), itemId(item)])
        else acked.push(itemId(item))
        i++
      }
      const answers: Uint8Array[] = []
      if (acked.length > 0) answers.push(Frame.encode({ ack: { ids: acked.map(fromHex) } }))
      for (const [reason, ids] of refused) answers.push(Frame.encode({ refused: { ids: ids.map(fromHex), reason } }))
      await this.frames.writeV(answers)
    }
  }
}

/**
 * Our side of one chat stream to one peer: writes the outbox in order with a bounded window of unacknowledged
 * messages, and retires messages as acks arrive. `done` resolves when the stream ends, with what that means for
 * retrying (see SessionEnd).
 */
export class OutboundSession {
  readonly done: Promise<SessionEnd>
  private readonly chat: Chat
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

  constructor(chat: Chat, peer: string) {
    this.chat = chat
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
      const opened = await this.chat.openStream(this.peer, (c) => {
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
      await frames.write(Frame.encode(this.chat.helloFrame()))
      const first = await readFrame(frames, { signal: AbortSignal.timeout(this.chat.timeouts.hello) })
      const hello = readHello(first)
      this.greeted = true
      this.frames = frames
      this.chat.onHello(this.peer, hello.name, connection, readReach(first))
      this.chat.onMailboxFrame(this.peer, first)
      const ackTimeout = this.chat.timeouts.ack
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
          entries = await this.chat.store.outbox(this.peer, { afterSeq: this.lastSeq, limit: room })
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
          const frames2 = this.groupFrames(entry)
          if (frames2 == null) {
            // Nothing this version can send for it (a file to a group): it leaves the outbox.
            await this.chat.store.unqueue(this.peer, [entry])
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
            this.chat.onSent(this.peer, ids.splice(0))
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
        this.chat.onSent(this.peer, ids)
      }
    }
  }

  /** Membership versions of the groups whose signed state this stream has carried. */
  private readonly statesSent = new Map<string, number>()

  /**
   * The frames for a group entry: a message (after the group's newest signed state, the first time on this stream
   * or when it changed, so that a member who missed a change can check the sender), a change, a leave.
   */
  private groupFrames(entry: OutboxEntry): Uint8Array[] | undefined {
    const m = entry.message
    const group = m.group ?? ''
    if (m.kind === 'system' && m.signed != null) {
      return [
        Frame.encode({
          groupChange: {
            id: fromHex(m.id),
            state: Buffer.from(m.signed.state, 'base64'),
            signature: Buffer.from(m.signed.signature, 'base64')
          }
        })
      ]
    }
    if (m.kind === 'system' && m.system?.type === 'left') {
      return [Frame.encode({ groupLeave: { id: fromHex(m.id), group: fromHex(group) } })]
    }
    if (m.kind !== 'text' && m.kind != null) return undefined
    const frames: Uint8Array[] = []
    const signed = this.chat.signedState(group)
    if (signed != null && this.statesSent.get(group) !== signed.version) {
      this.statesSent.set(group, signed.version)
      frames.push(Frame.encode({ groupChange: { id: randomId(), state: signed.state, signature: signed.signature } }))
    }
    frames.push(
      Frame.encode({
        groupMessage: {
          id: fromHex(m.id),
          timestamp: BigInt(m.timestamp),
          text: m.text,
          group: fromHex(group),
          groupVersion: BigInt(signed?.version ?? 0),
          ...(m.replyTo != null ? { replyTo: fromHex(m.replyTo) } : {})
        }
      })
    )
    return frames
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
      outcome = await this.chat.deliverFile(this.peer, entry.message.id, this.ended.signal)
    } catch (err) {
      if (this.ended.signal.aborted) return false
      throw err
    }
    if (outcome === 'delivered') {
      await this.chat.store.markDelivered(this.peer, [entry])
      this.chat.onDelivered(this.peer, [entry.message.id])
    } else {
      await this.chat.store.unqueue(this.peer, [entry])
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
          await this.chat.store.markRefused(this.peer, acked)
        } finally {
          for (const id of ids) this.acking.delete(id)
        }
        this.chat.onRefused(this.peer, ids, answer.reason)
        this.wakeup.resolve()
        continue
      }
      // The ack means the peer has the messages on disk: tell waiters now, then record it on our side.
      this.chat.onDelivered(this.peer, ids)
      try {
        await this.chat.store.markDelivered(this.peer, acked)
      } finally {
        for (const id of ids) this.acking.delete(id)
      }
      this.wakeup.resolve()
    }
  }
}

function randomId(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(randomBytes(16))
}
