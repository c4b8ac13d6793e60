import { randomBytes } from 'node:crypto'
import type { Connection, Logger, Startable, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { TypedEventEmitter } from 'main-event'
import type { StoredMessage } from '../../store/index.ts'
import {
  ACK_TIMEOUT_MS,
  HELLO_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  MAX_FRAME_BYTES,
  MAX_IN_FLIGHT,
  MAX_IN_FLIGHT_BYTES,
  MAX_INBOUND_STREAMS,
  MAX_TEXT_BYTES,
  PROTOCOL
} from './constants.ts'
import { ChatTimeoutError, ProtocolViolationError } from './errors.ts'
import { byteLength, idFromHex, readAck, readHello, readMessage, sanitizeName, type WireMessage } from './frames.ts'
import type { ChatComponents, ChatEvents, ChatInit, ChatProtocol, ChatStore, LiveStatus, OutboxEntry } from './index.ts'
import { Frame } from './pb/chat.ts'

const DECODE_LIMITS = { limits: { ack: { ids: MAX_IN_FLIGHT } } }

async function readFrame(lp: LengthPrefixedStream, options: { signal?: AbortSignal } = {}): Promise<Frame> {
  const bytes = await lp.read(options)
  try {
    return Frame.decode(bytes, DECODE_LIMITS)
  } catch (err) {
    throw new ProtocolViolationError(`malformed frame of ${bytes.byteLength} bytes (${(err as Error).message})`)
  }
}

function openFrames(stream: Stream): LengthPrefixedStream {
  return lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
}

function isEOF(err: unknown): boolean {
  return (err as Error)?.name === 'UnexpectedEOFError'
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/**
 * /chat/1.0: one long-lived stream per direction and peer. The opener greets and then writes messages; the
 * acceptor greets back, stores each message and only then acks it. Everything we write goes through the store's
 * outbox, so a message is sent when its peer is connected, in order, and again after any failure until acked.
 */
export class Chat extends TypedEventEmitter<ChatEvents> implements ChatProtocol, Startable {
  private readonly components: ChatComponents
  private readonly log: Logger
  private readonly version: string
  private readonly helloTimeout: number
  private readonly ackTimeout: number
  private readonly idleTimeout: number
  private readonly retryDelay: number
  private readonly sessions = new Map<string, OutboundSession>()
  private readonly inbound = new Set<Stream>()
  private readonly waiters = new Map<string, Set<() => void>>()
  private name: string
  private started = false

  constructor(components: ChatComponents, init: ChatInit = {}) {
    super()
    this.components = components
    this.log = components.logger.forComponent('p2pnode:chat')
    this.name = sanitizeName(init.name ?? '')
    this.version = init.version ?? 'p2pnode'
    this.helloTimeout = init.helloTimeout ?? HELLO_TIMEOUT_MS
    this.ackTimeout = init.ackTimeout ?? ACK_TIMEOUT_MS
    this.idleTimeout = init.idleTimeout ?? IDLE_TIMEOUT_MS
    this.retryDelay = init.retryDelay ?? 1000
  }

  readonly [Symbol.toStringTag] = 'p2pnode:chat'

  async start(): Promise<void> {
    await this.components.libp2p.handle(PROTOCOL, (stream, connection) => this.onInbound(stream, connection), {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_INBOUND_STREAMS
    })
    this.started = true
  }

  async stop(): Promise<void> {
    this.started = false
    await this.components.libp2p.unhandle(PROTOCOL)
    const sessions = [...this.sessions.values()]
    for (const s of sessions) s.close()
    for (const stream of this.inbound) stream.abort(new Error('node stopping'))
    await Promise.allSettled(sessions.map((s) => s.done))
  }

  setName(name: string): void {
    this.name = sanitizeName(name)
  }

  async send(peer: string, text: string, options: { replyTo?: string } = {}) {
    checkText(text)
    if (options.replyTo != null && !/^[0-9a-f]{32}$/.test(options.replyTo)) {
      throw new TypeError('replyTo must be a message id (32 hex characters)')
    }
    const entry = await this.components.store.addOutgoing({
      id: randomBytes(16).toString('hex'),
      peer,
      from: this.components.libp2p.peerId.toString(),
      text,
      timestamp: Date.now(),
      ...(options.replyTo != null ? { replyTo: options.replyTo } : {})
    })
    const session = this.sessions.get(peer)
    if (session != null) session.offer(entry)
    else this.flush(peer)
    return entry.message
  }

  flush(peer: string): void {
    if (!this.started || !this.isConnected(peer)) return
    let session = this.sessions.get(peer)
    if (session == null) {
      session = new OutboundSession(this, peer)
      this.sessions.set(peer, session)
      const s = session
      void s.done.then((retry) => {
        if (this.sessions.get(peer) === s) this.sessions.delete(peer)
        if (retry && this.started) setTimeout(() => this.flush(peer), this.retryDelay).unref()
      })
    }
    session.kick()
  }

  greeted(peer: string): boolean {
    return this.sessions.get(peer)?.greeted === true && this.isConnected(peer)
  }

  liveStatus(peer: string, id: string): LiveStatus | undefined {
    return this.sessions.get(peer)?.liveStatus(id)
  }

  async waitForDelivery(peer: string, id: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const key = `${peer}/${id}`
    const { promise, resolve } = Promise.withResolvers<boolean>()
    const done = () => resolve(true)
    const onAbort = () => resolve(false)
    let set = this.waiters.get(key)
    if (set == null) {
      set = new Set()
      this.waiters.set(key, set)
    }
    set.add(done)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      return await promise
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
      set.delete(done)
      if (set.size === 0) this.waiters.delete(key)
    }
  }

  // ---- used by sessions --------------------------------------------------------------------------------------

  /** @internal */
  get store(): ChatStore {
    return this.components.store
  }

  /** @internal */
  get logger(): Logger {
    return this.log
  }

  /** @internal */
  get timeouts() {
    return { hello: this.helloTimeout, ack: this.ackTimeout }
  }

  /** @internal */
  helloFrame(): Frame {
    return { hello: { name: this.name, version: this.version } }
  }

  /** @internal */
  async openStream(peer: string): Promise<Stream> {
    return this.components.libp2p.dialProtocol(peerIdFromString(peer), PROTOCOL, {
      signal: AbortSignal.timeout(this.helloTimeout)
    })
  }

  /** @internal */
  onHello(peer: string, name: string): void {
    this.safeDispatchEvent('hello', { detail: { peer, name } })
  }

  /** @internal */
  onDelivered(peer: string, ids: string[]): void {
    for (const id of ids) {
      for (const resolve of this.waiters.get(`${peer}/${id}`) ?? []) resolve()
    }
    this.safeDispatchEvent('delivered', { detail: { peer, ids } })
  }

  isConnected(peer: string): boolean {
    return this.components.libp2p.getConnections(peerIdFromString(peer)).some((c) => c.status === 'open')
  }

  // ---- inbound -----------------------------------------------------------------------------------------------

  private async onInbound(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (this.components.isBlocked?.(peer) === true) {
      // The connection gater keeps blocked peers out; this is the last line if one got in before the block.
      stream.abort(new Error('blocked'))
      return
    }
    this.inbound.add(stream)
    const frames = openFrames(stream)
    try {
      const hello = readHello(await readFrame(frames, { signal: AbortSignal.timeout(this.helloTimeout) }))
      await frames.write(Frame.encode(this.helloFrame()))
      this.onHello(peer, hello.name)
      await new InboundSession(this, peer, frames).run()
      await stream.close()
    } catch (err) {
      // While stopping, our own stop() aborts the stream: that is no error worth reporting.
      if (this.started) this.log.error('resetting chat stream from %s: %s', peer, errorText(err))
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.inbound.delete(stream)
    }
  }

  /** @internal */
  get idle(): number {
    return this.idleTimeout
  }

  /** @internal */
  get self(): string {
    return this.components.libp2p.peerId.toString()
  }

  /** @internal */
  onMessage(message: StoredMessage): void {
    this.safeDispatchEvent('message', { detail: message })
  }
}

/**
 * The peer's side of a chat stream as we receive it: frames are read as they come and queued; whatever is queued
 * is stored in one batch and acked in one frame. Under load that batches naturally; a lone message goes at once.
 */
class InboundSession {
  private readonly chat: Chat
  private readonly peer: string
  private readonly frames: LengthPrefixedStream
  private readonly queue: WireMessage[] = []
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
        this.queue.push(readMessage(frame))
        // An honest sender never has more than MAX_IN_FLIGHT messages unacknowledged.
        if (this.queue.length > MAX_IN_FLIGHT) throw new ProtocolViolationError('too many unacknowledged messages')
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
      // Persist first, then ack: an ack is a promise that the message is on disk.
      const added = await this.chat.store.addIncoming(batch.map((m) => ({ ...m, peer: this.peer, to })))
      for (const message of added) this.chat.onMessage(message)
      await this.frames.write(Frame.encode({ ack: { ids: batch.map((m) => idFromHex(m.id)) } }))
    }
  }
}

function checkText(text: string): void {
  if (typeof text !== 'string' || text.length === 0) throw new RangeError('message text is empty')
  if (byteLength(text) > MAX_TEXT_BYTES) {
    throw new RangeError(`message text is ${byteLength(text)} bytes; the limit is ${MAX_TEXT_BYTES}`)
  }
}

export { checkText }

/**
 * Our side of one chat stream to one peer: writes the outbox in order with a bounded window of unacknowledged
 * messages, and retires messages as acks arrive. `done` resolves when the stream ends: true if it should be
 * retried (it failed while the peer had messages waiting).
 */
class OutboundSession {
  readonly done: Promise<boolean>
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
  private wakeup = Promise.withResolvers<void>()
  private lastProgress = Date.now()

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
    this.wakeup.resolve()
  }

  liveStatus(id: string): LiveStatus | undefined {
    if (this.acking.has(id)) return 'delivered'
    return this.inFlight.has(id) ? 'sent' : undefined
  }

  private async run(): Promise<boolean> {
    const log = this.chat.logger
    let watchdog: NodeJS.Timeout | undefined
    try {
      const stream = await this.chat.openStream(this.peer)
      this.stream = stream
      if (!this.open) {
        stream.abort(new Error('closing'))
        return false
      }
      const frames = openFrames(stream)
      await frames.write(Frame.encode(this.chat.helloFrame()))
      const hello = readHello(await readFrame(frames, { signal: AbortSignal.timeout(this.chat.timeouts.hello) }))
      this.greeted = true
      this.chat.onHello(this.peer, hello.name)
      const ackTimeout = this.chat.timeouts.ack
      watchdog = setInterval(
        () => {
          if (this.inFlight.size > 0 && Date.now() - this.lastProgress > ackTimeout) {
            stream.abort(new ChatTimeoutError(`no ack from ${this.peer} for ${ackTimeout} ms`))
          }
        },
        Math.min(ackTimeout / 4, 1000)
      )
      watchdog.unref()
      const reader = this.readAcks(frames).finally(() => {
        this.open = false
        this.wakeup.resolve()
      })
      await Promise.all([this.pump(frames), reader])
      if (stream.status === 'open') await stream.close()
      return false
    } catch (err) {
      this.stream?.abort(err instanceof Error ? err : new Error(String(err)))
      if ((err as Error).name === 'UnsupportedProtocolError') {
        // Another libp2p program, not a chat node: nothing to greet, nothing to retry.
        log('%s does not speak %s', this.peer, PROTOCOL)
        return false
      }
      if (this.closing) return false
      log.error('chat stream to %s ended: %s', this.peer, errorText(err))
      return this.chat.isConnected(this.peer)
    } finally {
      clearInterval(watchdog)
      this.open = false
      this.greeted = false
    }
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
      for (const entry of entries) {
        if (this.lastSeq != null && entry.seq <= this.lastSeq) continue
        if (this.inFlightBytes >= MAX_IN_FLIGHT_BYTES) {
          // The rest stays in the outbox for the next read.
          this.kick()
          break
        }
        const m = entry.message
        const bytes = Frame.encode({
          message: {
            id: idFromHex(m.id),
            timestamp: BigInt(m.timestamp),
            text: m.text,
            ...(m.replyTo != null ? { replyTo: idFromHex(m.replyTo) } : {})
          }
        })
        if (this.inFlight.size === 0) this.lastProgress = Date.now()
        this.inFlight.set(m.id, { entry, size: bytes.byteLength })
        this.inFlightBytes += bytes.byteLength
        this.lastSeq = entry.seq
        batch.push(bytes)
      }
      if (!this.open) return
      // One write for the lot: one yamux frame and one Noise message instead of one per chat message.
      if (batch.length > 0) await frames.writeV(batch)
    }
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
      const acked: OutboxEntry[] = []
      for (const id of readAck(frame)) {
        const f = this.inFlight.get(id)
        if (f == null) continue // an ack for something we no longer wait for (a resend): harmless
        this.inFlight.delete(id)
        this.inFlightBytes -= f.size
        this.acking.add(id)
        acked.push(f.entry)
      }
      this.lastProgress = Date.now()
      const ids = acked.map((e) => e.message.id)
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
