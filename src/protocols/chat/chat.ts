import { randomBytes } from 'node:crypto'
import type { Connection, Logger, Startable, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { TypedEventEmitter } from 'main-event'
import type { StoredMessage } from '../../store/index.ts'
import {
  ACK_TIMEOUT_MS,
  HELLO_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  MAX_INBOUND_STREAMS,
  MAX_TEXT_BYTES,
  PROTOCOL
} from './constants.ts'
import { errorText } from '../util.ts'
import { byteLength, openFrames, readFrame, readHello, sanitizeName } from './frames.ts'
import type { ChatComponents, ChatEvents, ChatInit, ChatProtocol, ChatStore, LiveStatus } from './index.ts'
import { Frame } from './pb/chat.ts'
import { InboundSession, OutboundSession } from './sessions.ts'

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
    if (session != null && this.allows(peer)) session.offer(entry)
    else this.flush(peer)
    return entry.message
  }

  flush(peer: string): void {
    if (!this.started || !this.isConnected(peer) || !this.allows(peer)) return
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

  private allows(peer: string): boolean {
    return this.components.allows?.(peer) ?? true
  }

  isConnected(peer: string): boolean {
    return this.components.libp2p.getConnections(peerIdFromString(peer)).some((c) => c.status === 'open')
  }

  // ---- inbound -----------------------------------------------------------------------------------------------

  private async onInbound(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (!this.allows(peer)) {
      stream.abort(new Error('not allowed'))
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

function checkText(text: string): void {
  if (typeof text !== 'string' || text.length === 0) throw new RangeError('message text is empty')
  if (byteLength(text) > MAX_TEXT_BYTES) {
    throw new RangeError(`message text is ${byteLength(text)} bytes; the limit is ${MAX_TEXT_BYTES}`)
  }
}

export { checkText }

