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
  MAX_RETRY_DELAY_MS,
  MAX_TEXT_BYTES,
  MAX_TRACKED_PEERS,
  PROTOCOL,
  RETRY_DELAY_MS
} from './constants.ts'
import { NotConnectedError } from './errors.ts'
import { errorText } from '../util.ts'
import { Deliveries } from './deliveries.ts'
import { byteLength, MAX_REACH_ADDRS, readMailboxInfo, sanitizeName } from './frames.ts'
import { serveInbound } from './inbound-session.ts'
import type { ChatComponents, ChatDeps, ChatEvents, ChatInit, ChatProtocol, LiveStatus, OutboxEntry } from './index.ts'
import { OutboundSession } from './outbound-session.ts'
import { Frame } from './pb/chat.ts'
import { Presence } from './presence.ts'
import { Retries, type SessionEnd } from './retry.ts'
import { acceptRelayed, type RelayedResult } from './relayed.ts'
import type { SessionHost } from './session-host.ts'

/**
 * /chat/1.0: one long-lived stream per direction and peer. The opener greets and then writes messages; the
 * acceptor greets back, stores each message and only then acks it. Everything we write goes through the store's
 * outbox, so a message is sent when its peer is connected, in order, and again after any failure until acked.
 */
export class Chat extends TypedEventEmitter<ChatEvents> implements ChatProtocol, Startable {
  private readonly components: ChatComponents
  private readonly deps: ChatDeps
  /** What the sessions see of us (session-host.ts). */
  private readonly host: SessionHost
  /** The registrar topology that tells us of peers that speak /chat/1.0 (see start()). */
  private topology: string | undefined
  private readonly log: Logger
  private readonly version: string
  private readonly helloTimeout: number
  private readonly ackTimeout: number
  private readonly idleTimeout: number
  private readonly retries: Retries
  private readonly presence: Presence
  /** Peers that proved not to be p2pnode nodes, with the reason: nothing is sent to them. */
  private readonly foreign = new Map<string, string>()
  /** The name each present peer greeted us with. */
  private readonly helloNames = new Map<string, string>()
  /** Our messages on the wire, and who waits for their answers (deliveries.ts). */
  private readonly deliveries = new Deliveries()
  private readonly onConnectionClose = (evt: CustomEvent<Connection>) =>
    this.presence.closed(evt.detail.remotePeer.toString(), evt.detail)
  private readonly sessions = new Map<string, OutboundSession>()
  private readonly inbound = new Set<Stream>()
  /** Peers that told us their mailbox (or that they have none) in their greeting: they understand updates. */
  private readonly mailboxAware = new Set<string>()
  private name: string
  private started = false

  constructor(components: ChatComponents, init: ChatDeps & ChatInit) {
    super()
    this.components = components
    this.deps = init
    this.log = components.logger.forComponent('p2pnode:chat')
    this.name = sanitizeName(init.name ?? '')
    this.version = init.version ?? 'p2pnode'
    this.helloTimeout = init.helloTimeout ?? HELLO_TIMEOUT_MS
    this.ackTimeout = init.ackTimeout ?? ACK_TIMEOUT_MS
    this.idleTimeout = init.idleTimeout ?? IDLE_TIMEOUT_MS
    this.retries = new Retries({
      retryDelay: init.retryDelay ?? RETRY_DELAY_MS,
      maxRetryDelay: init.maxRetryDelay ?? MAX_RETRY_DELAY_MS
    })
    this.presence = new Presence(
      (peer) => this.components.connectionManager.getConnections(peerIdFromString(peer)),
      (peer, here) => {
        const name = this.helloNames.get(peer) ?? ''
        if (!here) {
          this.helloNames.delete(peer)
          // Gone: its next connection starts afresh, not in the back-off of this one.
          this.retries.forget(peer)
        }
        this.safeDispatchEvent('presence', { detail: { peer, name, here } })
      }
    )
    this.host = this.sessionHost()
  }

  readonly [Symbol.toStringTag] = 'p2pnode:chat'

  async start(): Promise<void> {
    const { registrar, events } = this.components
    await registrar.handle(PROTOCOL, (stream, connection) => this.onInbound(stream, connection), {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_INBOUND_STREAMS,
      // Chat is small: it goes through a relay (within the relay's limits) until a direct path replaces it.
      runOnLimitedConnection: true
    })
    // A peer that speaks /chat/1.0 connected (identify told us), on any connection, relayed ones included: greet it
    // and send what waits. A better connection later (a direct one beside a relayed one) comes here again.
    this.topology = await registrar.register(PROTOCOL, {
      onConnect: (peerId) => this.flush(peerId.toString()),
      notifyOnLimitedConnection: true
    })
    // Presence is per connection (a greeted one closing while another stays open), finer than onDisconnect.
    events.addEventListener('connection:close', this.onConnectionClose)
    this.started = true
  }

  async stop(): Promise<void> {
    const { registrar, events } = this.components
    this.started = false
    events.removeEventListener('connection:close', this.onConnectionClose)
    if (this.topology != null) registrar.unregister(this.topology)
    this.topology = undefined
    this.retries.stop()
    this.presence.clear()
    await registrar.unhandle(PROTOCOL)
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
    const entry = await this.deps.store.addOutgoing({
      id: randomBytes(16).toString('hex'),
      peer,
      from: this.self,
      text,
      timestamp: Date.now(),
      ...(options.replyTo != null ? { replyTo: options.replyTo } : {})
    })
    const session = this.sessions.get(peer)
    if (session != null && this.allows(peer) && !this.foreign.has(peer)) session.offer(entry)
    else this.flush(peer)
    return entry.message
  }

  queued(peer: string, entry: OutboxEntry): void {
    const session = this.sessions.get(peer)
    if (session != null && this.allows(peer) && !this.foreign.has(peer)) session.offer(entry)
    else this.flush(peer)
  }

  flush(peer: string, options: { probe?: boolean } = {}): void {
    if (!this.started || !this.isConnected(peer) || !this.allows(peer)) return
    if (options.probe === true) {
      // The user asked (dial): look again, whatever we concluded before.
      this.retries.forget(peer)
      this.setForeign(peer, undefined)
    } else if (this.foreign.has(peer) || this.retries.waiting(peer)) {
      return
    }
    let session = this.sessions.get(peer)
    if (session == null) {
      session = new OutboundSession(this.host, peer)
      this.sessions.set(peer, session)
      const s = session
      void s.done.then((end) => {
        if (this.sessions.get(peer) === s) this.sessions.delete(peer)
        this.afterSession(peer, end)
      })
    }
    session.kick()
  }

  /** Back off, give up on a peer that is no p2pnode node, or do nothing; and say why. */
  private afterSession(peer: string, end: SessionEnd): void {
    if (!this.started) return
    if (end.kind === 'gone') {
      this.log('chat stream to %s closed with its connection: %s', peer, end.reason)
      // Replaced (a relayed connection retired for a direct one): go on over the connection that is left. What was
      // unacked is sent again; the receiver keeps each message once.
      if (end.closed === true && this.isConnected(peer)) {
        this.flush(peer)
        return
      }
    }
    const decision = this.retries.ended(peer, end)
    if (decision == null) return
    if ('foreign' in decision) {
      this.log.error('%s is not a p2pnode node: %s; not trying again', peer, decision.foreign)
      this.setForeign(peer, decision.foreign)
      return
    }
    this.log.error('chat stream to %s failed: %s; trying again in %d ms', peer, decision.reason, decision.retryIn)
    this.retries.schedule(peer, decision.retryIn, () => this.flush(peer))
  }

  notP2pnode(peer: string): string | undefined {
    return this.foreign.get(peer)
  }

  announceMailbox(): void {
    const frame = Frame.encode({ mailbox: this.mailboxFrameInfo() })
    for (const peer of this.mailboxAware) {
      if (!this.isConnected(peer)) continue
      // A session that is greeted takes the update at once; otherwise a new one greets with it.
      if (this.sessions.get(peer)?.tell(frame) !== true) this.flush(peer)
    }
  }

  async acceptRelayed(peer: string, frames: Uint8Array[]): Promise<RelayedResult> {
    if (!this.allows(peer)) return { refused: true, received: [], delivered: [] }
    const result = await acceptRelayed(this.deps.store, peer, this.self, frames)
    for (const message of result.stored) this.onMessage(message)
    if (result.delivered.length > 0) this.onDelivered(peer, result.delivered)
    return { refused: false, received: result.received, delivered: result.delivered }
  }

  setForeign(peer: string, reason: string | undefined): void {
    if (this.foreign.get(peer) === reason) return
    this.foreign.delete(peer)
    if (reason != null) {
      this.foreign.set(peer, reason)
      // Bounded (see MAX_TRACKED_PEERS): the oldest verdicts go first; the peer book keeps them on disk anyway.
      if (this.foreign.size > MAX_TRACKED_PEERS) this.foreign.delete(this.foreign.keys().next().value ?? peer)
    }
    this.safeDispatchEvent('verdict', { detail: { peer, notP2pnode: reason } })
  }

  greeted(peer: string): boolean {
    return this.presence.isHere(peer)
  }

  liveStatus(peer: string, id: string): LiveStatus | undefined {
    return this.sessions.get(peer)?.liveStatus(id) ?? (this.deliveries.onTheWire(peer, id) ? 'sent' : undefined)
  }

  async waitForDelivery(peer: string, id: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return this.deliveries.wait(peer, id, options)
  }


  // ---- what sessions see (session-host.ts) -------------------------------------------------------------------

  private sessionHost(): SessionHost {
    const deps = this.deps
    return {
      store: deps.store,
      self: this.self,
      timeouts: { hello: this.helloTimeout, ack: this.ackTimeout, idle: this.idleTimeout },
      helloFrame: () => this.helloFrame(),
      openStream: (peer, chosen) => this.openStream(peer, chosen),
      onHello: (peer, name, connection, relayAddrs) => this.onHello(peer, name, connection, relayAddrs),
      onMailboxFrame: (peer, frame) => this.onMailboxFrame(peer, frame),
      onMessage: (message) => this.onMessage(message),
      receiveGroupItem: async (peer, item) => deps.groups?.receive(peer, item) ?? { refused: 'no-group' },
      signedState: (group) => deps.groups?.signedState(group),
      deliverFile: async (peer, id, signal) => deps.deliverFile?.(peer, id, signal) ?? 'dropped',
      onSent: (peer, ids) => this.onSent(peer, ids),
      onDelivered: (peer, ids) => this.onDelivered(peer, ids),
      onRefused: (peer, ids, reason) => this.onRefused(peer, ids, reason)
    }
  }

  private helloFrame(): Frame {
    // Our mailbox rides along with the greeting: older nodes skip the field they do not know.
    const relayAddrs = this.deps.relayAddrs?.() ?? []
    return {
      hello: { name: this.name, version: this.version },
      mailbox: this.mailboxFrameInfo(),
      ...(relayAddrs.length > 0 ? { reach: { relayAddrs: relayAddrs.slice(0, MAX_REACH_ADDRS) } } : {})
    }
  }

  private mailboxFrameInfo(): { peer: string; addrs: string[] } {
    const own = this.deps.mailbox?.()
    return { peer: own?.peerId ?? '', addrs: own?.addrs ?? [] }
  }

  /** A frame from the peer that may carry its mailbox (its greeting, or an update). */
  private onMailboxFrame(peer: string, frame: Frame): void {
    if (frame.mailbox == null) return
    const mailbox = readMailboxInfo(frame.mailbox)
    this.mailboxAware.delete(peer)
    this.mailboxAware.add(peer)
    if (this.mailboxAware.size > MAX_TRACKED_PEERS) this.mailboxAware.delete(this.mailboxAware.values().next().value ?? peer)
    this.safeDispatchEvent('mailbox', { detail: { peer, mailbox } })
  }

  /**
   * A stream on an open connection to the peer (never a dial: connecting is the node's business): an unlimited
   * one if there is one, else a relayed one.
   */
  private async openStream(
    peer: string,
    chosen?: (connection: Connection) => void
  ): Promise<{ stream: Stream; connection: Connection }> {
    let connection: Connection | undefined
    // Chat is small: a relayed connection will do (the node's connectivity prefers a direct one). The connection is
    // known before the stream opens, so that a stream refused on a connection that stays open counts as a failure
    // (backed off), not as a connection gone.
    const stream = await this.deps.streams.open(peer, PROTOCOL, {
      signal: AbortSignal.timeout(this.helloTimeout),
      relayed: true,
      dial: false,
      chosen: (c) => {
        connection = c
        chosen?.(c)
      }
    })
    if (connection == null) throw new NotConnectedError(`${peer} is not connected`)
    return { stream, connection }
  }

  /** The peer greeted us on a stream of `connection`, with its relay addresses beside. */
  private onHello(peer: string, name: string, connection: Connection, relayAddrs: string[] = []): void {
    if (relayAddrs.length > 0) this.safeDispatchEvent('reach', { detail: { peer, relayAddrs } })
    // A greeting proves a p2pnode node, whatever we concluded before.
    this.retries.greeted(peer)
    const wasForeign = this.foreign.has(peer)
    this.setForeign(peer, undefined)
    if (connection.status === 'open') this.helloNames.set(peer, name)
    this.safeDispatchEvent('hello', { detail: { peer, name } })
    this.presence.greeted(peer, connection)
    // Nothing was sent to it while we took it for another program: what waits goes now.
    if (wasForeign) this.flush(peer)
  }

  /** Messages written to the peer's stream. */
  private onSent(peer: string, ids: string[]): void {
    this.deliveries.sent(peer, ids)
    this.safeDispatchEvent('sent', { detail: { peer, ids } })
  }

  /** The peer refused our messages: they are out of its outbox. */
  private onRefused(peer: string, ids: string[], reason: string): void {
    this.settled(peer, ids)
    this.log('%s refused %d messages: %s', peer, ids.length, reason)
    this.safeDispatchEvent('refused', { detail: { peer, ids, reason } })
  }

  private onDelivered(peer: string, ids: string[]): void {
    this.settled(peer, ids)
    this.safeDispatchEvent('delivered', { detail: { peer, ids } })
  }

  /** Our messages are answered (acked or refused). */
  private settled(peer: string, ids: string[]): void {
    this.retries.progressed(peer)
    this.deliveries.settled(peer, ids)
  }

  private allows(peer: string): boolean {
    return this.deps.allows?.(peer) ?? true
  }

  isConnected(peer: string): boolean {
    return this.components.connectionManager.getConnections(peerIdFromString(peer)).some((c) => c.status === 'open')
  }

  private get self(): string {
    return this.components.peerId.toString()
  }

  private onMessage(message: StoredMessage): void {
    this.safeDispatchEvent('message', { detail: message })
  }

  // ---- inbound -----------------------------------------------------------------------------------------------

  private async onInbound(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (!this.allows(peer)) {
      stream.abort(new Error('not allowed'))
      return
    }
    this.inbound.add(stream)
    try {
      await serveInbound(this.host, stream, connection)
      await stream.close()
    } catch (err) {
      // While stopping, our own stop() aborts the stream: that is no error worth reporting.
      if (this.started) this.log.error('resetting chat stream from %s: %s', peer, errorText(err))
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.inbound.delete(stream)
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

