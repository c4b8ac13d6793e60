import { hostname } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { TypedEventEmitter } from 'main-event'
import type {
  DialResult,
  HistoryEntry,
  IdInfo,
  MessageStatus,
  NodeApi,
  PeerInfo,
  SendOptions,
  SendResult
} from '../api/types.ts'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import { type ChatInit, type ChatProtocol, checkText, createChat } from '../protocols/chat/index.ts'
import { createFileTransfer, type FileInit, type FileTransferProtocol } from '../protocols/file/index.ts'
import { openStore, type Store, type StoredMessage, Transfers } from '../store/index.ts'
import { dataPaths, ensureDataDir } from './data-dir.ts'
import { NodeFiles } from './files.ts'
import { loadIdentity, loadSecret } from './identity.ts'
import { isPeerId, matchPeerName, parseMultiaddr, peerIdOf, withoutPeerId } from './peer-ref.ts'
import { VERSION } from './version.ts'

export interface NodeOptions {
  /** Absolute path of the data dir (created if missing). */
  dataDir: string
  /** Display name; remembered in the data dir. @default the remembered name, else the host name */
  name?: string
  /** Listen addresses. @default ['/ip4/0.0.0.0/tcp/0'] */
  listen?: string[]
  /** Multiaddrs to dial once started (failures are logged, not fatal). */
  dial?: string[]
  /** mDNS discovery on the LAN. @default true */
  mdns?: boolean
  /** mDNS query interval, ms. @default 1000 */
  mdnsInterval?: number
  /** How often peers with waiting messages are redialled at their last known addresses, ms. @default 3000 */
  reconnectInterval?: number
  /** How long `dial` and `send` wait for a peer's greeting, ms. @default 3000 */
  helloWait?: number
  /** Protocol timeouts (tests shorten them). */
  chat?: Pick<ChatInit, 'ackTimeout' | 'helloTimeout' | 'idleTimeout' | 'retryDelay'>
  /** Where received files go. @default DATA/downloads */
  downloads?: string
  /** File transfer settings: auto-accept limit, chunk size, window, timeouts (tests shorten them). */
  files?: Omit<FileInit, 'downloadsDir'>
}

export interface NodeEvents {
  /** A new message arrived and was stored. */
  message: CustomEvent<{ message: StoredMessage; name: string }>
  /** Our messages were acknowledged. */
  delivered: CustomEvent<{ peer: string; ids: string[] }>
  /** A peer connected (with its name once greeted) or disconnected. */
  peer: CustomEvent<{ peerId: string; name: string; connected: boolean }>
  /** The node stopped (e.g. through the API). */
  stopped: CustomEvent
}

const DIAL_TIMEOUT_MS = 10_000
/** Our own mDNS service name: we find p2pnode nodes, not every libp2p program on the network. */
const MDNS_SERVICE_TAG = '_p2pnode._udp.local'
const MAX_BACKOFF_MS = 30_000

/**
 * The composition root: one libp2p node, one store, the chat protocol, and the policies that tie them together
 * (dial what we discover, greet, flush outboxes on connect, redial known peers). Implements the local API.
 */
export class P2pNode extends TypedEventEmitter<NodeEvents> implements NodeApi {
  readonly libp2p: Libp2p
  readonly store: Store
  readonly chat: ChatProtocol
  readonly files: FileTransferProtocol
  readonly fileApi: NodeFiles
  readonly dataDir: string
  private readonly log: Logger
  private readonly options: NodeOptions
  private readonly names = new Map<string, string>()
  private readonly chatted = new Set<string>()
  private readonly dialing = new Set<string>()
  private readonly backoff = new Map<string, { failures: number; until: number }>()
  private reconnectTimer: NodeJS.Timeout | undefined
  private name: string
  private stopping: Promise<void> | undefined

  private constructor(libp2p: Libp2p, store: Store, options: NodeOptions, name: string) {
    super()
    this.libp2p = libp2p
    this.store = store
    this.options = options
    this.dataDir = options.dataDir
    this.name = name
    this.log = libp2p.logger.forComponent('p2pnode:node')
    this.chat = createChat(
      { libp2p, store, logger: libp2p.logger },
      { ...options.chat, name, version: `p2pnode/${VERSION}` }
    )
    // File transfer: its own records on the same database; blocking is wired by the contacts feature.
    this.files = createFileTransfer(
      {
        libp2p,
        store: new Transfers(store),
        logger: libp2p.logger,
        isBlocked: () => false,
        connect: (peerId) => void this.redial(peerId)
      },
      { ...options.files, downloadsDir: options.downloads ?? join(options.dataDir, 'downloads') }
    )
    this.fileApi = new NodeFiles(this.files, async (ref) => {
      const peer = await this.resolvePeer(ref, { dial: true })
      if (peer === this.libp2p.peerId.toString()) {
        throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'that is this node: you cannot send files to yourself')
      }
      this.markChatted(peer)
      return peer
    })
  }

  /**
   * Open the data dir and start everything. Throws P2pError LEVEL_LOCKED when a node already runs on the data
   * dir, DATA_DIR_INVALID when the dir is unusable.
   */
  static async start(options: NodeOptions): Promise<P2pNode> {
    const paths = dataPaths(options.dataDir)
    await ensureDataDir(paths.dir)
    const secret = await loadSecret(paths.secret)
    let store: Store
    try {
      store = await openStore(paths.db, secret)
    } catch (err) {
      if (isP2pError(err) && err.code === ErrorCode.LEVEL_LOCKED) {
        throw new P2pError(ErrorCode.LEVEL_LOCKED, `a node is already running on ${paths.dir}`, {
          hint: 'talk to it with p2pnode commands (p2pnode id), stop it with p2pnode stop, or use another --data DIR',
          cause: err
        })
      }
      throw err
    }
    let libp2p: Libp2p | undefined
    try {
      const privateKey = await loadIdentity(paths.identity)
      const name = options.name ?? (await store.getSetting<string>('name')) ?? hostname()
      if (options.name != null) await store.setSetting('name', options.name)
      const useMdns = options.mdns ?? true
      libp2p = await createLibp2p({
        privateKey,
        addresses: { listen: options.listen ?? ['/ip4/0.0.0.0/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: {
          identify: identify(),
          ping: ping(),
          ...(useMdns ? { mdns: mdns({ interval: options.mdnsInterval ?? 1000, serviceTag: MDNS_SERVICE_TAG }) } : {})
        },
        start: false
      })
      const node = new P2pNode(libp2p, store, options, name)
      await node.startServices()
      return node
    } catch (err) {
      await Promise.resolve(libp2p?.stop()).catch(() => {})
      await store.close().catch(() => {})
      if ((err as Error).name === 'UnsupportedListenAddressError' || /listen/i.test((err as Error).message)) {
        throw new P2pError(ErrorCode.INVALID_ARGUMENT, `cannot listen: ${(err as Error).message}`, {
          hint: 'check --listen, e.g. --listen /ip4/0.0.0.0/tcp/4001',
          cause: err
        })
      }
      throw err
    }
  }

  private async startServices(): Promise<void> {
    for (const record of await this.store.listPeers()) {
      if (record.name != null) this.names.set(record.peerId, record.name)
      if (record.chatted) this.chatted.add(record.peerId)
    }
    const libp2p = this.libp2p
    libp2p.addEventListener('peer:discovery', (evt) => this.redial(evt.detail.id.toString()))
    libp2p.addEventListener('peer:connect', (evt) => this.onConnect(evt.detail))
    libp2p.addEventListener('peer:disconnect', (evt) => {
      const peerId = evt.detail.toString()
      this.safeDispatchEvent('peer', { detail: { peerId, name: this.names.get(peerId) ?? '', connected: false } })
    })
    libp2p.addEventListener('peer:identify', (evt) => {
      const peerId = evt.detail.peerId.toString()
      const addrs = evt.detail.listenAddrs.map((a) => a.toString())
      if (addrs.length > 0) void this.remember(peerId, { addrs })
    })
    this.chat.addEventListener('hello', (evt) => this.onHello(evt.detail.peer, evt.detail.name))
    this.chat.addEventListener('message', (evt) => {
      const message = evt.detail
      this.markChatted(message.peer)
      this.safeDispatchEvent('message', { detail: { message, name: this.names.get(message.peer) ?? '' } })
    })
    this.chat.addEventListener('delivered', (evt) => this.safeDispatchEvent('delivered', { detail: evt.detail }))

    await libp2p.start()
    await this.chat.start()
    await this.files.start()
    // mDNS reports every sighting; libp2p's peer:discovery only peers new to its peer store. Listening here
    // redials known peers that come back (restarted, or back on the network) without waiting for anything else.
    const mdnsService = (libp2p.services as Record<string, EventTarget | undefined>).mdns
    mdnsService?.addEventListener('peer', (evt) =>
      this.redial((evt as CustomEvent<{ id: PeerId }>).detail.id.toString())
    )

    for (const peerId of this.chatted) void this.redial(peerId)
    for (const addr of this.options.dial ?? []) {
      this.dial(addr).catch((err: Error) => this.log.error('dial %s failed: %s', addr, err.message))
    }
    this.reconnectTimer = setInterval(() => void this.redialWaiting(), this.options.reconnectInterval ?? 3000)
    this.reconnectTimer.unref()
  }

  // ---- NodeApi -----------------------------------------------------------------------------------------------

  async id(): Promise<IdInfo> {
    return {
      peerId: this.libp2p.peerId.toString(),
      name: this.name,
      addrs: this.libp2p.getMultiaddrs().map((a) => a.toString())
    }
  }

  async peers(): Promise<PeerInfo[]> {
    const self = this.libp2p.peerId.toString()
    const out = new Map<string, PeerInfo>()
    for (const r of await this.store.listPeers()) {
      out.set(r.peerId, { peerId: r.peerId, name: r.name ?? '', connected: false, addrs: r.addrs })
    }
    for (const p of await this.libp2p.peerStore.all()) {
      const peerId = p.id.toString()
      if (peerId === self) continue
      const addrs = p.addresses.map((a) => a.multiaddr.toString())
      const prev = out.get(peerId)
      out.set(peerId, {
        peerId,
        name: prev?.name || this.names.get(peerId) || '',
        connected: false,
        addrs: [...new Set([...addrs, ...(prev?.addrs ?? [])])]
      })
    }
    for (const peerId of out.keys()) {
      const info = out.get(peerId)
      if (info != null) info.connected = this.chat.isConnected(peerId)
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name) || a.peerId.localeCompare(b.peerId))
  }

  async dial(addr: string): Promise<DialResult> {
    const ma = parseMultiaddr(addr)
    let peerId: string
    try {
      const conn = await this.libp2p.dial(ma, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      peerId = conn.remotePeer.toString()
    } catch (err) {
      throw new P2pError(ErrorCode.DIAL_FAILED, `could not reach ${addr}: ${(err as Error).message}`, {
        hint: 'check that the other node is running and the address is right (p2pnode id on that node)',
        cause: err
      })
    }
    await this.remember(peerId, { addrs: [withoutPeerId(ma).toString()] })
    return { peerId, name: await this.nameOf(peerId) }
  }

  async send(ref: string, text: string, options: SendOptions = {}): Promise<SendResult> {
    try {
      checkText(text)
    } catch (err) {
      throw new P2pError(ErrorCode.INVALID_MESSAGE, (err as Error).message, { cause: err })
    }
    const peer = await this.resolvePeer(ref, { dial: true })
    if (peer === this.libp2p.peerId.toString()) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'that is this node: you cannot message yourself')
    }
    let message: StoredMessage
    try {
      message = await this.chat.send(peer, text, { replyTo: options.replyTo })
    } catch (err) {
      if (err instanceof TypeError) throw new P2pError(ErrorCode.INVALID_ARGUMENT, err.message)
      throw err
    }
    this.markChatted(peer)
    const waitMs = options.waitMs ?? 2000
    if (waitMs > 0 && this.chat.isConnected(peer)) {
      const delivered = await this.chat.waitForDelivery(peer, message.id, { signal: AbortSignal.timeout(waitMs) })
      if (delivered) return { id: message.id, status: 'delivered' }
      // Not acked in time, or acked before we started waiting: the store knows which.
      const stored = await this.store.getMessage(peer, message.id)
      return { id: message.id, status: this.statusOf(stored ?? message) }
    }
    return { id: message.id, status: this.statusOf(message) }
  }

  async history(ref: string, options: { limit?: number } = {}): Promise<HistoryEntry[]> {
    return this.fileApi.decorate(await this.textHistory(ref, options))
  }

  private async textHistory(ref: string, options: { limit?: number }): Promise<HistoryEntry[]> {
    const limit = options.limit ?? 50
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `--limit must be a whole number from 1 to 10000, not ${limit}`)
    }
    const peer = await this.resolvePeer(ref, { dial: false })
    return (await this.store.history(peer, { limit })).map((m) => ({
      id: m.id,
      from: m.from,
      to: m.to,
      text: m.text,
      timestamp: m.timestamp,
      direction: m.direction,
      status: this.statusOf(m),
      ...(m.replyTo != null ? { replyTo: m.replyTo } : {}),
      ...(m.kind === 'file' ? { kind: 'file' as const, file: m.file } : {})
    }))
  }

  /** Stop everything; idempotent. */
  async stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.reconnectTimer)
      await this.files.stop().catch((err: Error) => this.log.error('stopping files: %s', err.message))
      await this.chat.stop().catch((err: Error) => this.log.error('stopping chat: %s', err.message))
      await Promise.resolve(this.libp2p.stop()).catch((err: Error) =>
        this.log.error('stopping libp2p: %s', err.message)
      )
      await this.store.close()
      this.safeDispatchEvent('stopped')
    })()
    return this.stopping
  }

  // ---- helpers used by the CLI's interactive prompt ---------------------------------------------------------

  displayName(peerId: string): string {
    return this.names.get(peerId) || `${peerId.slice(0, 12)}…`
  }

  /** Resolve a peer id, display name or multiaddr to a peer id. */
  async resolvePeer(ref: string, options: { dial: boolean }): Promise<string> {
    const text = ref.trim()
    if (text === '')
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'no peer given', { hint: 'p2pnode peers lists them' })
    if (text.startsWith('/')) {
      const ma = parseMultiaddr(text)
      const peerId = peerIdOf(ma)
      if (peerId == null) {
        if (!options.dial) {
          throw new P2pError(ErrorCode.INVALID_ARGUMENT, `${text} has no /p2p/<peer id> part`, {
            hint: 'append /p2p/<peer id>, or use the peer id or name'
          })
        }
        return (await this.dial(text)).peerId
      }
      await this.remember(peerId, { addrs: [withoutPeerId(ma).toString()] })
      if (options.dial) void this.redial(peerId, { force: true })
      return peerId
    }
    if (isPeerId(text)) return peerIdFromString(text).toString()
    const known = (await this.peers()).map((p) => ({ peerId: p.peerId, name: p.name }))
    return matchPeerName(text, known)
  }

  // ---- connection policy -------------------------------------------------------------------------------------

  private onConnect(peer: PeerId): void {
    const peerId = peer.toString()
    this.backoff.delete(peerId)
    // Greets the peer (names are exchanged on the chat stream) and sends anything waiting for it.
    this.chat.flush(peerId)
    this.files.onConnect(peerId)
    this.safeDispatchEvent('peer', { detail: { peerId, name: this.names.get(peerId) ?? '', connected: true } })
  }

  private onHello(peerId: string, name: string): void {
    const changed = this.names.get(peerId) !== name
    this.names.set(peerId, name)
    if (changed) {
      void this.remember(peerId, { name })
      this.safeDispatchEvent('peer', { detail: { peerId, name, connected: this.chat.isConnected(peerId) } })
    }
  }

  private markChatted(peerId: string): void {
    if (this.chatted.has(peerId)) return
    this.chatted.add(peerId)
    void this.remember(peerId, { chatted: true })
  }

  private async remember(peerId: string, update: { name?: string; addrs?: string[]; chatted?: boolean }) {
    try {
      await this.store.updatePeer(peerId, update)
    } catch (err) {
      this.log.error('could not save peer %s: %s', peerId, (err as Error).message)
    }
  }

  /** Dial a peer we know or just saw, unless connected, already dialling, or backing off after failures. */
  private async redial(peerId: string, options: { force?: boolean } = {}): Promise<void> {
    if (this.stopping != null || peerId === this.libp2p.peerId.toString()) return
    if (this.chat.isConnected(peerId) || this.dialing.has(peerId)) return
    const b = this.backoff.get(peerId)
    if (b != null && Date.now() < b.until && options.force !== true) return
    this.dialing.add(peerId)
    try {
      const record = await this.store.getPeer(peerId)
      const id = peerIdFromString(peerId)
      if (record != null && record.addrs.length > 0) {
        const multiaddrs = record.addrs.flatMap((a) => {
          try {
            return [parseMultiaddr(a)]
          } catch {
            return []
          }
        })
        await this.libp2p.peerStore.merge(id, { multiaddrs })
      }
      await this.libp2p.dial(id, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      this.backoff.delete(peerId)
    } catch (err) {
      const failures = (b?.failures ?? 0) + 1
      this.backoff.set(peerId, { failures, until: Date.now() + Math.min(MAX_BACKOFF_MS, 500 * 2 ** failures) })
      this.log('redial %s failed (%d): %s', peerId, failures, (err as Error).message)
    } finally {
      this.dialing.delete(peerId)
    }
  }

  private async redialWaiting(): Promise<void> {
    try {
      for (const peerId of await this.store.peersWithOutbox()) {
        if (this.chat.isConnected(peerId)) this.chat.flush(peerId)
        else void this.redial(peerId)
      }
    } catch (err) {
      this.log.error('reconnect pass failed: %s', (err as Error).message)
    }
  }

  private statusOf(m: StoredMessage): MessageStatus {
    if (m.direction === 'out' && m.status === 'pending') return this.chat.liveStatus(m.peer, m.id) ?? 'pending'
    return m.status
  }

  /** The peer's name, waiting briefly for its greeting if it has not arrived yet. */
  private async nameOf(peerId: string): Promise<string> {
    const known = this.names.get(peerId)
    if (known != null) return known
    const signal = AbortSignal.timeout(this.options.helloWait ?? 3000)
    return new Promise<string>((resolve) => {
      const onHello = (evt: CustomEvent<{ peer: string; name: string }>) => {
        if (evt.detail.peer !== peerId) return
        done(evt.detail.name)
      }
      const onAbort = () => done(this.names.get(peerId) ?? '')
      const done = (name: string) => {
        this.chat.removeEventListener('hello', onHello)
        signal.removeEventListener('abort', onAbort)
        resolve(name)
      }
      this.chat.addEventListener('hello', onHello)
      signal.addEventListener('abort', onAbort)
    })
  }
}
