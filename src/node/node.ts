import { hostname } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p, Logger, PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { TypedEventEmitter } from 'main-event'
import { EventLog, type EventLogOptions } from '../api/events.ts'
import type { ApiParts } from '../api/routes.ts'
import { WebControl } from '../api/web-control.ts'
import type {
  DialResult,
  InviteInfo,
  HistoryEntry,
  HistoryQuery,
  IdInfo,
  MessageStatus,
  NodeCoreApi,
  PeerInfo,
  ReachApi,
  SendOptions,
  SendResult
} from '../api/types.ts'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import { type ChatInit, type ChatProtocol, checkText, createChat } from '../protocols/chat/index.ts'
import { sanitizeName } from '../protocols/chat/frames.ts'
import { createFileTransfer, type FileInit, type FileTransferProtocol } from '../protocols/file/index.ts'
import {
  type GroupRecord,
  type PeerRecord,
  type Store,
  type StoredMessage,
  Transfers
} from '../store/index.ts'
import { dataPaths, ensureDataDir } from './data-dir.ts'
import { Connectivity } from './connectivity.ts'
import { decodeInvite, encodeInvite, isInvite } from './invite.ts'
import { checkRelayAddr, gaterWithRelays } from './reach.ts'
import { reachTransports, relayAnnounce, relayRateLimits, relayServer } from './relay-service.ts'
import { switchableMdns } from './discovery.ts'
import { entryOf, feedEvents } from './event-feed.ts'
import { type FileTarget, NodeFiles } from './files.ts'
import { checkEngine, NodeVoice, type NodeVoiceOptions } from './voice.ts'
import { NodeGroups } from './groups.ts'
import { type OpenedData, openDataDir, watchDamage } from './open-data.ts'
import { chooseListen } from './listen.ts'
import { type MailboxOptions, NodeMailbox } from './mailbox.ts'
import { isCircuit, isPeerId, matchPeerName, NAME_RANK, parseMultiaddr, peerIdOf, withoutPeerId } from './peer-ref.ts'
import { isVisibility, Policy, type Visibility } from './policy.ts'
import { checkName, MAX_NAME_BYTES, People } from './people.ts'
import { VERSION } from './version.ts'

export interface NodeOptions {
  /** Absolute path of the data dir (created if missing). */
  dataDir: string
  /** Display name; remembered in the data dir. @default the remembered name, else the host name */
  name?: string
  /** Listen addresses. @default one TCP port on all IPv4 interfaces, picked on the first start and remembered */
  listen?: string[]
  /** Multiaddrs to dial once started (failures are logged, not fatal). */
  dial?: string[]
  /** mDNS discovery on the LAN. @default true */
  mdns?: boolean
  /** The first interval between mDNS queries, ms; it doubles after each query, up to an hour. @default 1000 */
  mdnsInterval?: number
  /** How often peers with waiting messages are redialled at their last known addresses, ms. @default 3000 */
  reconnectInterval?: number
  /** How long `dial` and `send` wait for a peer's greeting, ms. @default 3000 */
  helloWait?: number
  /** Who may find and reach us; remembered. @default the remembered one, else 'everyone' */
  visibility?: Visibility
  /**
   * How long a new inbound connection may take to finish its handshakes (multistream-select, Noise, Yamux) before
   * it is dropped, ms. Bounds what a silent or garbage-sending socket can hold. @default 10000
   */
  upgradeTimeout?: number
  /** Protocol timeouts and back-off (tests shorten them). */
  chat?: Pick<ChatInit, 'ackTimeout' | 'helloTimeout' | 'idleTimeout' | 'retryDelay' | 'maxRetryDelay'>
  /** Where received files go. @default DATA/downloads */
  downloads?: string
  /** File transfer settings: auto-accept limit, chunk size, window, timeouts (tests shorten them). */
  files?: Omit<FileInit, 'downloadsDir'>
  /** How many recent events (GET /v1/events) are kept for clients that reconnect, and for how long. */
  events?: EventLogOptions
  /** Mailbox: serve as one for others (`--mailbox-service`), deposit and collect timings (tests shorten them). */
  mailbox?: MailboxOptions
  /** Voice notes' speech-to-text engine (`--asr-engine`, `--asr-model`). @default pocketsphinx */
  voice?: NodeVoiceOptions
  /**
   * Serve others as a circuit relay v2 (with p2pnode's limits, see relay-service.ts) and a STUN server on the UDP
   * port of the same number as the TCP port. For a node with a public address. @default false
   */
  relayService?: boolean
  /** Relays to keep a reservation on (`/ip4/…/tcp/…/p2p/<relay id>`), added to the remembered ones. */
  relays?: string[]
  /** Addresses to tell peers instead of the listen addresses (a relay's public address). */
  announce?: string[]
}

export interface NodeEvents {
  /** A new message arrived and was stored. */
  message: CustomEvent<{ message: StoredMessage; name: string; muted: boolean }>
  /** Our messages were written to the peer (status `sent`, no ack yet); a resend fires again. */
  sent: CustomEvent<{ peer: string; ids: string[] }>
  /** Our messages were acknowledged (status `delivered`). */
  delivered: CustomEvent<{ peer: string; ids: string[] }>
  /**
   * Presence changed, exactly then: `connected` true when the peer greeted us on an open connection, false when its
   * last such connection closed (idle chat streams closing change nothing). `name` is its display name.
   */
  peer: CustomEvent<{ peerId: string; name: string; connected: boolean }>
  /** A peer told us a new name (its display name changes unless we gave it a local one). */
  renamed: CustomEvent<{ peerId: string; name: string; formerName: string }>
  /** The node stopped (e.g. through the API). */
  stopped: CustomEvent
}

const UPGRADE_TIMEOUT_MS = 10_000

/** The host name, cut to a legal display name. */
function defaultName(): string {
  const name = sanitizeName(hostname())
  return (Buffer.byteLength(name) <= MAX_NAME_BYTES ? name : name.slice(0, 32)) || 'p2pnode'
}

/**
 * What libp2p's listen error says, without its stack traces and its advice about settings p2pnode does not have:
 * one `address: reason` per address that failed.
 */
function listenFailure(err: Error): string {
  const reasons = [...err.message.matchAll(/^\s*(\/\S+): (?:\w*Error: )?(.+)$/gm)].map((m) => `${m[1]}: ${m[2]}`)
  return reasons.length > 0 ? reasons.join('; ') : (err.message.split('\n')[0] ?? '')
}

/** Our own mDNS service name: we find p2pnode nodes, not every libp2p program on the network. */
const MDNS_SERVICE_TAG = '_p2pnode._udp.local'

/**
 * The composition root: one libp2p node, one store, the chat protocol, and the policies that tie them together
 * (dial what we discover, greet, flush outboxes on connect, redial known peers). Implements the local API.
 */
export class P2pNode extends TypedEventEmitter<NodeEvents> implements NodeCoreApi {
  readonly libp2p: Libp2p
  readonly store: Store
  readonly chat: ChatProtocol
  readonly files: FileTransferProtocol
  readonly fileApi: NodeFiles
  /** Store-and-forward: our mailbox, contacts' mailboxes, deposits and collection; the service if we run it. */
  readonly mailbox: NodeMailbox
  /** Voice notes: sending, transcripts (the API's `voice` part). */
  readonly voice: NodeVoice
  readonly dataDir: string
  private readonly log: Logger
  private readonly options: NodeOptions
  readonly policy: Policy
  /** Display names: our local name for a peer if we gave one, else the name it told us. */
  private readonly names = new Map<string, string>()
  /** Names peers told us (kept apart from local names so that both resolve). */
  private readonly ownNames = new Map<string, string>()
  private readonly localNames = new Map<string, string>()
  private readonly chatted = new Set<string>()
  /** Peers we sent something to (or chatted with, in a 0.1 record): redialled on start, unlike strangers. */
  private readonly wroteTo = new Set<string>()
  /** Contacts, visibility, blocking, search, export (the API's `people` part). */
  readonly people: People
  /** The local API, as the modules that implement it (served by api/server.ts, routes in api/routes.ts). */
  readonly api: ApiParts
  /** Groups (node/groups.ts). */
  readonly groups: NodeGroups
  /** Dialling, redialling, relays and direct paths (node/connectivity.ts). */
  readonly connectivity: Connectivity
  /** What happens, for `GET /v1/events`: recent events kept for clients that reconnect. */
  readonly events: EventLog
  /** The web app's login link for `p2pnode web`: the web server `p2pnode start` attaches, if any. */
  readonly web = new WebControl()
  private name: string
  private stopping: Promise<void> | undefined
  /** What the user should know about how the node started (e.g. its usual port was taken); `start` prints them. */
  readonly notices: string[] = []
  /** Closes the store and records the clean stop in the data dir's manifest. */
  private closeData: () => Promise<void> = () => this.store.close()

  private constructor(
    libp2p: Libp2p,
    store: Store,
    options: NodeOptions,
    name: string,
    policy: Policy,
    privateKey: PrivateKey,
    connectivity: Connectivity
  ) {
    super()
    this.connectivity = connectivity
    this.libp2p = libp2p
    this.store = store
    this.policy = policy
    this.options = options
    this.dataDir = options.dataDir
    this.name = name
    this.log = libp2p.logger.forComponent('p2pnode:node')
    this.chat = createChat(
      {
        libp2p,
        store,
        logger: libp2p.logger,
        allows: (peer) => policy.allows(peer),
        // Files we send travel through the outbox too: offered in their turn, in order with the texts.
        deliverFile: (peer, id, signal) => this.files.deliver(peer, id, signal),
        mailbox: () => this.mailbox.ownMailbox(),
        groups: {
          receive: (peer, item) => this.groups.hooks.receive(peer, item),
          signedState: (group) => this.groups.hooks.signedState(group)
        },
        relayAddrs: () =>
          this.libp2p
            .getMultiaddrs()
            .filter((a) => isCircuit(a) && !a.getComponents().some((c) => c.name === 'webrtc'))
            .map((a) => withoutPeerId(a).toString())
      },
      { ...options.chat, name, version: `p2pnode/${VERSION}` }
    )
    this.people = new People({
      libp2p,
      store,
      policy,
      chat: this.chat,
      redialer: connectivity,
      names: this.names,
      chatted: this.wroteTo,
      ownName: () => this.name,
      resolvePeer: (ref, options) => this.resolvePeer(ref, options),
      target: (ref) => this.target(ref, { dial: false }),
      displayName: (peerId) => this.displayName(peerId),
      learn: (record) => this.learn(record),
      publish: (event) => this.events.publish(event),
      voiceRecord: (peer, id) => this.voice.record(peer, id)
    })
    // File transfer: its own records on the same database; offers from peers the policy refuses are refused.
    this.files = createFileTransfer(
      {
        libp2p,
        store: new Transfers(store),
        logger: libp2p.logger,
        isBlocked: (peer) => !policy.allows(peer),
        connect: (peerId) => void connectivity.redial(peerId),
        // Files are fetched without asking only from contacts and peers we wrote to; strangers' offers wait.
        trusts: async (peer) => policy.isContact(peer) || (await store.hasWritten(peer)),
        queued: (peer) => this.chat.flush(peer)
      },
      { ...options.files, downloadsDir: options.downloads ?? join(options.dataDir, 'downloads') }
    )
    this.fileApi = new NodeFiles(this.files, (ref) => this.fileTarget(ref))
    this.mailbox = new NodeMailbox(
      {
        libp2p,
        privateKey,
        store,
        chat: this.chat,
        policy,
        log: libp2p.logger.forComponent('p2pnode:mailbox'),
        resolvePeer: (ref) => this.resolvePeer(ref, { dial: true }),
        displayName: (peerId) => this.displayName(peerId),
        known: (peerId) => policy.isContact(peerId) || this.chatted.has(peerId) || this.wroteTo.has(peerId)
      },
      options.mailbox
    )
    this.voice = new NodeVoice(
      {
        store,
        files: this.files,
        fileApi: this.fileApi,
        resolveTarget: (ref) => this.fileTarget(ref),
        log: libp2p.logger.forComponent('p2pnode:voice'),
        transcribed: (record, direction, timestamp) => {
          const { id, peer, duration, transcript } = record
          this.events.publish({ type: 'transcript', id, peer, direction, timestamp, duration, transcript })
        }
      },
      options.voice
    )
    this.events = new EventLog(options.events)
    this.groups = new NodeGroups({
      store,
      chat: this.chat,
      privateKey,
      self: libp2p.peerId.toString(),
      ownName: () => this.name,
      events: this.events,
      resolvePeer: (ref, o) => this.resolvePeer(ref, o),
      displayName: (peerId) => this.displayName(peerId),
      redial: (peerId) => void connectivity.redial(peerId),
      log: (text) => this.log.error('%s', text)
    })
    feedEvents(this, this.files, this.events)
    const reach = connectivity.reach
    const reachApi: ReachApi = {
      relays: () => reach.list(),
      addRelay: (addr) => reach.add(addr),
      removeRelay: (addr) => reach.remove(addr),
      invite: () => this.invite()
    }
    this.api = {
      node: this,
      people: this.people,
      files: this.fileApi,
      voice: this.voice,
      mailbox: this.mailbox,
      groups: this.groups,
      reach: reachApi,
      events: this.events,
      web: this.web
    }
  }

  /**
   * Open the data dir and start everything. Throws P2pError LEVEL_LOCKED when a node already runs on the data
   * dir, DATA_DIR_INVALID when the dir is unusable.
   */
  static async start(options: NodeOptions): Promise<P2pNode> {
    // Bad addresses are the user's typing: say so before anything starts (INVALID_MULTIADDR).
    for (const addr of [...(options.listen ?? []), ...(options.announce ?? [])]) parseMultiaddr(addr)
    for (const addr of options.dial ?? []) if (!isInvite(addr)) parseMultiaddr(addr)
    for (const addr of options.relays ?? []) checkRelayAddr(addr)
    // So is an engine asked for by name that cannot run (INVALID_ARGUMENT); the default one missing is no error.
    await checkEngine(options.voice ?? {})
    const paths = dataPaths(options.dataDir)
    const notices: string[] = []
    await ensureDataDir(paths.dir, notices)
    let data: OpenedData
    try {
      data = await openDataDir(paths, notices)
    } catch (err) {
      if (isP2pError(err) && err.code === ErrorCode.LEVEL_LOCKED) {
        throw new P2pError(ErrorCode.LEVEL_LOCKED, `a node is already running on ${paths.dir}`, {
          hint: 'talk to it with p2pnode commands (p2pnode id), stop it with p2pnode stop, or use another --data DIR',
          cause: err
        })
      }
      throw err
    }
    const { store, privateKey } = data
    let libp2p: Libp2p | undefined
    try {
      const name = options.name != null ? checkName(options.name) : ((await store.getSetting<string>('name')) ?? defaultName())
      if (options.name != null) await store.setSetting('name', name)
      const useMdns = options.mdns ?? true
      const visibility = options.visibility ?? (await store.getSetting<Visibility>('visibility')) ?? 'everyone'
      if (!isVisibility(visibility)) throw new TypeError(`unknown visibility ${visibility}`)
      if (options.visibility != null) await store.setSetting('visibility', options.visibility)
      const policy = new Policy(visibility)
      const listen = await chooseListen(options.listen, store)
      const { peers, tampered } = await store.peers.list()
      for (const record of peers) policy.apply(record)
      // Fail closed: a record that fails its check might have been a block that someone edited away.
      for (const t of tampered) {
        if (t.claimedPeerId != null) policy.apply({ peerId: t.claimedPeerId, contact: false, blocked: true, muted: false })
      }
      // Built once libp2p exists, asked before (the gater and WebRTC ask it about relays).
      const ref: { connectivity?: Connectivity } = {}
      const isRelay = (peer: string) => ref.connectivity?.isRelay(peer) ?? false
      libp2p = await createLibp2p({
        privateKey,
        // Identify tells peers our software: p2pnode and its version, not libp2p's default (which names Node's).
        nodeInfo: { name: 'p2pnode', version: VERSION, userAgent: `p2pnode/${VERSION}` },
        connectionGater: {
          ...gaterWithRelays(policy.gater(), isRelay),
          ...(options.relayService === true ? relayRateLimits() : {})
        },
        connectionManager: { inboundUpgradeTimeout: options.upgradeTimeout ?? UPGRADE_TIMEOUT_MS },
        addresses: {
          listen: listen.listen,
          // A relay must say where it is: libp2p advertises a public address only once AutoNAT confirms it.
          ...(options.announce != null && options.announce.length > 0
            ? { announce: options.announce }
            : options.relayService === true
              ? { announce: relayAnnounce(listen.listen) }
              : {})
        },
        transports: [tcp(), ...reachTransports(() => ref.connectivity?.iceServers() ?? [])],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: {
          identify: identify(),
          ping: ping(),
          ...(options.relayService === true ? { relay: relayServer() } : {}),
          ...(useMdns
            ? {
                mdns: switchableMdns(
                  { queryInterval: options.mdnsInterval ?? 1000, serviceTag: MDNS_SERVICE_TAG },
                  policy.mdnsMode
                )
              }
            : {})
        },
        start: false
      })
      const connectivity: Connectivity = new Connectivity({
        libp2p,
        store,
        chat: { isConnected: (p) => node.chat.isConnected(p), flush: (p, o) => node.chat.flush(p, o), notP2pnode: (p) => node.chat.notP2pnode(p) },
        policy,
        log: libp2p.logger.forComponent('p2pnode:node'),
        remember: (peerId, update) => node.remember(peerId, update),
        handOver: (peerId) => node.handOver(peerId)
      })
      ref.connectivity = connectivity
      const node: P2pNode = new P2pNode(libp2p, store, options, name, policy, privateKey, connectivity)
      node.closeData = data.close
      watchDamage(paths, store, (text) => node.log.error('%s', text))
      node.notices.push(...notices, ...listen.notices)
      for (const t of tampered) {
        node.log.error('peer record %s failed its integrity check; ignored, and its peer treated as blocked', t.key)
      }
      await node.startServices(peers)
      return node
    } catch (err) {
      await Promise.resolve(libp2p?.stop()).catch(() => {})
      await data.close().catch(() => {})
      if (isP2pError(err)) throw err
      if ((err as Error).name === 'UnsupportedListenAddressError' || /listen/i.test((err as Error).message)) {
        throw new P2pError(ErrorCode.INVALID_ARGUMENT, `cannot listen: ${listenFailure(err as Error)}`, {
          hint: 'listen on an address this machine has, or on all of them: --listen /ip4/0.0.0.0/tcp/4001',
          cause: err
        })
      }
      throw err
    }
  }

  private async startServices(records: PeerRecord[]): Promise<void> {
    for (const record of records) {
      this.learn(record)
      if (record.notP2pnode != null) this.chat.setForeign(record.peerId, record.notP2pnode)
      if (record.chatted) this.chatted.add(record.peerId)
      if (record.wrote === true || (record.wrote == null && record.chatted)) this.wroteTo.add(record.peerId)
    }
    const libp2p = this.libp2p
    this.chat.addEventListener('presence', (evt) => this.onPresence(evt.detail.peer, evt.detail.name, evt.detail.here))
    this.chat.addEventListener('verdict', (evt) => {
      void this.remember(evt.detail.peer, { notP2pnode: evt.detail.notP2pnode ?? null })
    })
    this.chat.addEventListener('sent', (evt) => this.safeDispatchEvent('sent', { detail: evt.detail }))
    libp2p.addEventListener('peer:identify', (evt) => {
      const peerId = evt.detail.peerId.toString()
      const addrs = evt.detail.listenAddrs.map((a) => a.toString())
      // Only p2pnode peers get a record (a stranger's addresses are kept by its greeting, in onHello).
      if (addrs.length > 0 && (this.names.has(peerId) || this.chat.greeted(peerId))) void this.remember(peerId, { addrs })
    })
    this.chat.addEventListener('hello', (evt) => this.onHello(evt.detail.peer, evt.detail.name))
    this.chat.addEventListener('reach', (evt) => void this.onRelayAddrs(evt.detail.peer, evt.detail.relayAddrs))
    this.chat.addEventListener('message', (evt) => {
      const message = evt.detail
      this.markChatted(message.peer)
      this.safeDispatchEvent('message', {
        detail: { message, name: this.names.get(message.peer) ?? '', muted: this.policy.isMuted(message.peer) }
      })
    })
    this.chat.addEventListener('delivered', (evt) => {
      this.safeDispatchEvent('delivered', { detail: evt.detail })
      void this.groups.delivered(evt.detail.peer, evt.detail.ids).catch((err: Error) => this.log.error('group status: %s', err.message))
    })
    // A file offered to us is a conversation too: the peer is no stranger (its record is kept, it is redialled).
    this.files.addEventListener('transfer', (evt) => {
      if (evt.detail.direction === 'in') this.markChatted(evt.detail.peer)
    })

    await this.mailbox.prepare()
    await this.groups.verifyStored()
    await libp2p.start()
    await this.chat.start()
    await this.files.start()
    await this.mailbox.start()
    await this.voice.start()
    // Contacts and peers we wrote to; not strangers that only wrote to us, nor every address a peer claimed (the
    // redialer bounds the peers dialled per address).
    const known = [...this.wroteTo, ...records.filter((r) => r.contact).map((r) => r.peerId)]
    const { reconnectInterval, relays, relayService, listen } = this.options
    const started = this.connectivity.start(known, { reconnectInterval, relays, relayService, listen })
    for (const addr of this.options.dial ?? []) {
      this.dial(addr).catch((err: Error) => this.log.error('dial %s failed: %s', addr, err.message))
    }
    await started
    this.notices.push(...this.connectivity.notices)
  }

  /** One string with our peer id, name and every address a friend could reach us at, relays included. */
  async invite(): Promise<InviteInfo> {
    const peerId = this.libp2p.peerId.toString()
    const { invite, addrs } = encodeInvite({ peerId, name: this.name, addrs: this.libp2p.getMultiaddrs() })
    return { invite, peerId, name: this.name, addrs }
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
    for (const r of (await this.store.peers.list()).peers) {
      // A record with nothing but addresses is a libp2p peer that never greeted us: not a p2pnode peer.
      if (r.name == null && r.localName == null && !r.contact && !r.chatted && !r.blocked && !r.muted) continue
      out.set(r.peerId, { peerId: r.peerId, name: r.localName ?? r.name ?? '', connected: false, addrs: r.addrs })
    }
    for (const p of await this.libp2p.peerStore.all()) {
      const peerId = p.id.toString()
      if (peerId === self) continue
      // Other libp2p programs (strangers that dialled us, addresses that answered as someone else) are not listed:
      // only peers that greeted us on /chat/1.0 or were seen on p2pnode's own mDNS service.
      if (!out.has(peerId) && !this.names.has(peerId) && !this.chat.greeted(peerId) && !this.connectivity.sighted(peerId)) {
        continue
      }
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
      // Connected = connected and greeted: a peer that refuses us (blocked, hidden) drops the connection right after
      // the handshake, before any greeting, and must not show as here even for that moment.
      if (info == null) continue
      info.connected = this.chat.greeted(peerId)
      const path = info.connected ? this.connectivity.pathTo(peerId) : undefined
      if (path != null) info.path = path
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name) || a.peerId.localeCompare(b.peerId))
  }

  async dial(addr: string): Promise<DialResult> {
    if (isInvite(addr)) return this.dialInvite(addr)
    const peerId = await this.connectivity.dialTyped(addr)
    // The user asked: whatever we concluded about this peer before, look again (open a chat stream, greet).
    this.chat.flush(peerId, { probe: true })
    const name = await this.nameOf(peerId)
    // A peer that refuses us (blocked, hidden, contacts only) closes the connection right after the handshake.
    if (!this.chat.isConnected(peerId)) {
      throw this.connectivity.failed(addr, parseMultiaddr(addr), 'the peer closed the connection')
    }
    await this.notForeign(peerId)
    await this.remember(peerId, { addrs: [withoutPeerId(parseMultiaddr(addr)).toString()] })
    return { peerId, name }
  }

  /** Dial a friend's invite (see Connectivity.dialInvite), then wait for its greeting as dial() does. */
  private async dialInvite(text: string): Promise<DialResult> {
    const invite = decodeInvite(text)
    await this.connectivity.dialInvite(invite)
    const peerId = invite.peerId
    this.chat.flush(peerId, { probe: true })
    const name = await this.nameOf(peerId)
    if (!this.chat.isConnected(peerId)) {
      throw new P2pError(ErrorCode.DIAL_FAILED, `${invite.name || peerId} closed the connection`, {
        hint: 'it may accept contacts only, or have blocked you'
      })
    }
    await this.notForeign(peerId)
    this.markChatted(peerId, true)
    return { peerId, name }
  }

  async send(ref: string, text: string, options: SendOptions = {}): Promise<SendResult> {
    if (text.trim() === '') {
      throw new P2pError(ErrorCode.INVALID_MESSAGE, `message text is ${text === '' ? 'empty' : 'only spaces'}`, {
        hint: 'type the text after the peer, in quotes if it has spaces: p2pnode send bob "see you at 5"'
      })
    }
    try {
      checkText(text)
    } catch (err) {
      throw new P2pError(ErrorCode.INVALID_MESSAGE, (err as Error).message, {
        hint: 'a message holds at most 64 KiB of text; send a longer one as a file: p2pnode send-file <peer> <file>',
        cause: err
      })
    }
    const target = await this.target(ref, { dial: true })
    if ('group' in target) return this.groups.send(target.group, text, options)
    const peer = target.peer
    if (peer === this.libp2p.peerId.toString()) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'that is this node: you cannot message yourself')
    }
    this.people.notBlocked(peer)
    await this.notForeign(peer)
    let message: StoredMessage
    try {
      message = await this.chat.send(peer, text, { replyTo: options.replyTo })
    } catch (err) {
      if (err instanceof TypeError) throw new P2pError(ErrorCode.INVALID_ARGUMENT, err.message)
      throw err
    }
    this.markChatted(peer, true)
    // If the peer stays away, a sealed copy goes to its mailbox (when it has one).
    this.mailbox.queued(peer)
    this.events.publish({
      type: 'message',
      message: entryOf(message, this.statusOf(message)),
      name: this.names.get(peer) ?? '',
      muted: false
    })
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

  async history(ref: string, options: HistoryQuery = {}): Promise<HistoryEntry[]> {
    return this.voice.decorate(await this.fileApi.decorate(await this.textHistory(ref, options)))
  }

  private async textHistory(ref: string, options: HistoryQuery): Promise<HistoryEntry[]> {
    const limit = options.limit ?? 50
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `--limit must be a whole number from 1 to 10000, not ${limit}`)
    }
    const target = await this.target(ref, { dial: false })
    const query = { limit, before: options.before, after: options.after }
    if ('group' in target) return this.groups.history(target.group, query)
    const peer = target.peer
    const stored = await this.store.history(peer, query)
    return stored.map((m) => entryOf(m, this.statusOf(m)))
  }

  /** Stop everything; idempotent. */
  async stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.connectivity.stop()
      await this.mailbox.stop().catch((err: Error) => this.log.error('stopping the mailbox: %s', err.message))
      await this.voice.stop().catch((err: Error) => this.log.error('stopping voice: %s', err.message))
      await this.files.stop().catch((err: Error) => this.log.error('stopping files: %s', err.message))
      await this.chat.stop().catch((err: Error) => this.log.error('stopping chat: %s', err.message))
      await Promise.resolve(this.libp2p.stop()).catch((err: Error) =>
        this.log.error('stopping libp2p: %s', err.message)
      )
      await this.closeData().catch((err: Error) => this.log.error('closing the store: %s', err.message))
      this.safeDispatchEvent('stopped')
    })()
    return this.stopping
  }

  // ---- helpers used by the CLI's interactive prompt ---------------------------------------------------------

  /**
   * A peer's name for display; with a short id when another peer goes by the same name and that name is not
   * weaker than this one's (a contact named carol stays "carol"; a stranger calling itself carol gets its id).
   */
  displayName(peerId: string): string {
    const name = this.names.get(peerId)
    if (name == null || name === '') return `${peerId.slice(0, 12)}…`
    const rank = (p: string) =>
      this.localNames.has(p) ? NAME_RANK.LOCAL : this.policy.isContact(p) ? NAME_RANK.CONTACT : NAME_RANK.STRANGER
    for (const [other, n] of this.names) {
      if (other !== peerId && n === name && rank(other) <= rank(peerId)) {
        return `${name} (${peerId.slice(0, 8)}…${peerId.slice(-4)})`
      }
    }
    return name
  }

  async resolve(ref: string, options: { dial?: boolean } = {}): Promise<{ peerId: string; name: string }> {
    const peerId = await this.resolvePeer(ref, { dial: options.dial === true })
    return { peerId, name: peerId === this.libp2p.peerId.toString() ? this.name : this.displayName(peerId) }
  }

  /**
   * A peer or one of our groups (`#name`, a group's id, or its name: see NodeGroups.match). A name that is both a
   * peer's and a group's is PEER_AMBIGUOUS, saying how to tell which.
   */
  async target(ref: string, options: { dial: boolean }): Promise<{ peer: string } | { group: GroupRecord }> {
    const group = this.groups.match(ref)
    const text = ref.trim()
    if (group == null) return { peer: await this.resolvePeer(ref, options) }
    if (text.startsWith('#') || text === group.id) return { group }
    let peer: string
    try {
      peer = await this.resolvePeer(ref, { dial: false })
    } catch (err) {
      if (isP2pError(err) && err.code === ErrorCode.PEER_NOT_FOUND) return { group }
      throw err
    }
    throw new P2pError(ErrorCode.PEER_AMBIGUOUS, `${text} is both a peer and a group`, {
      hint: `say #${group.name} (or #${group.id}) for the group, or the peer's id ${peer}`
    })
  }

  /** Resolve a peer id, display name or multiaddr to a peer id. */
  /** Whom a file or a voice note goes to: a peer we may send to, or a group's members (and a line in the group). */
  private async fileTarget(ref: string): Promise<FileTarget> {
    const target = await this.target(ref, { dial: true })
    if ('group' in target) return this.groups.fileTarget(target.group)
    const peer = target.peer
    if (peer === this.libp2p.peerId.toString()) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'that is this node: you cannot send files or voice notes to yourself')
    }
    this.people.notBlocked(peer)
    this.markChatted(peer, true)
    return peer
  }

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
      if (options.dial) await this.connectivity.checkAddress(ma, peerId)
      return peerId
    }
    if (isPeerId(text)) return peerIdFromString(text).toString()
    // Names we gave win over names peers chose, and contacts' over strangers'.
    const rank = (peerId: string) => (this.policy.isContact(peerId) ? NAME_RANK.CONTACT : NAME_RANK.STRANGER)
    const known = (await this.peers()).map((p) => ({
      peerId: p.peerId,
      name: p.name,
      rank: this.localNames.has(p.peerId) ? NAME_RANK.LOCAL : rank(p.peerId)
    }))
    // A contact renamed locally still answers to the name it tells us.
    for (const [peerId, name] of this.ownNames) {
      if (name !== this.names.get(peerId)) known.push({ peerId, name, rank: rank(peerId) })
    }
    return matchPeerName(text, known)
  }

  // ---- connection policy -------------------------------------------------------------------------------------

  /** A peer connected, or a direct path replaced a relayed one (node/connectivity.ts): what waits goes now. */
  private handOver(peerId: string): void {
    // Greets the peer (names are exchanged on the chat stream) and sends anything waiting for it. The peer is
    // present (a `peer` event) once it has greeted us: see onPresence.
    this.chat.flush(peerId)
    this.files.onConnect(peerId)
  }

  /** Presence changed (the chat protocol tracks greetings per connection). */
  private onPresence(peerId: string, name: string, here: boolean): void {
    // A greeting proves the connection useful: only then are the peer's dial failures forgotten. A peer that lets
    // us connect and then drops us (it blocked us) stays backed off.
    if (here) this.connectivity.connected(peerId)
    this.safeDispatchEvent('peer', { detail: { peerId, name: this.names.get(peerId) ?? name, connected: here } })
  }

  private onHello(peerId: string, name: string): void {
    const former = this.ownNames.get(peerId)
    if (former === name) return
    this.ownNames.set(peerId, name)
    if (!this.localNames.has(peerId)) this.names.set(peerId, name)
    void (async () => {
      // The addresses identify told us before the greeting made it a p2pnode peer.
      const known = await this.libp2p.peerStore.get(peerIdFromString(peerId)).catch(() => undefined)
      const addrs = known?.addresses.map((a) => a.multiaddr.toString()) ?? []
      await this.remember(peerId, { name, ...(addrs.length > 0 ? { addrs } : {}) })
    })()
    if (former != null) this.safeDispatchEvent('renamed', { detail: { peerId, name, formerName: former } })
  }

  /**
   * A peer told us its circuit addresses (beside its greeting): they replace the circuit addresses we kept for it,
   * so that we redial it through the relays it uses now. Anything that is no circuit address is ignored.
   */
  private async onRelayAddrs(peerId: string, relayAddrs: string[]): Promise<void> {
    const circuits = relayAddrs.flatMap((a) => {
      try {
        const ma = parseMultiaddr(a)
        return isCircuit(ma) && a.endsWith('/p2p-circuit') ? [ma.toString()] : []
      } catch {
        return []
      }
    })
    if (circuits.length === 0) return
    const record = await this.store.peers.get(peerId).catch(() => undefined)
    const direct = (record?.addrs ?? []).filter((a) => !a.includes('/p2p-circuit'))
    await this.remember(peerId, { addrs: [...new Set([...direct, ...circuits])] })
  }

  /** Take what a peer record says about names and policy. */
  private learn(record: PeerRecord): void {
    if (record.name != null) this.ownNames.set(record.peerId, record.name)
    if (record.localName != null) this.localNames.set(record.peerId, record.localName)
    else this.localNames.delete(record.peerId)
    const display = record.localName ?? record.name
    if (display != null) this.names.set(record.peerId, display)
    this.policy.apply(record)
  }

  /** A message or file went either way (`wrote`: from us). */
  private markChatted(peerId: string, wrote = false): void {
    if (this.chatted.has(peerId) && (!wrote || this.wroteTo.has(peerId))) return
    this.chatted.add(peerId)
    if (wrote) this.wroteTo.add(peerId)
    void this.remember(peerId, { chatted: true, ...(wrote ? { wrote: true } : {}) })
  }

  private async remember(
    peerId: string,
    update: { name?: string; addrs?: string[]; chatted?: boolean; wrote?: boolean; notP2pnode?: string | null }
  ) {
    try {
      await this.store.peers.update(peerId, update)
    } catch (err) {
      this.log.error('could not save peer %s: %s', peerId, (err as Error).message)
    }
  }

  private statusOf(m: StoredMessage): MessageStatus {
    if (m.direction === 'out' && m.status === 'pending') return this.chat.liveStatus(m.peer, m.id) ?? 'pending'
    return m.status
  }

  /**
   * PEER_NOT_P2PNODE for a peer that proved to be another libp2p program. A peer connected but not greeted yet gets
   * a moment (helloWait) to greet or to prove that, so that the first message to it is not stored in vain.
   */
  private async notForeign(peer: string): Promise<void> {
    if (this.chat.notP2pnode(peer) == null && this.chat.isConnected(peer) && !this.chat.greeted(peer)) {
      await this.nameOf(peer)
    }
    const reason = this.chat.notP2pnode(peer)
    if (reason == null) return
    throw new P2pError(ErrorCode.PEER_NOT_P2PNODE, `${this.displayName(peer)} is not a p2pnode node: ${reason}`, {
      hint: 'nothing was sent: it is another libp2p program. If it runs p2pnode now, connect again with p2pnode dial <its multiaddr>'
    })
  }

  /**
   * The peer's name, once it has greeted us on the current connection (waits briefly for that, or until it proves
   * to be no p2pnode node).
   */
  private async nameOf(peerId: string): Promise<string> {
    if (this.chat.greeted(peerId)) return this.names.get(peerId) ?? ''
    const signal = AbortSignal.timeout(this.options.helloWait ?? 3000)
    return new Promise<string>((resolve) => {
      const onHello = (evt: CustomEvent<{ peer: string; name: string }>) => {
        if (evt.detail.peer !== peerId) return
        done(this.names.get(peerId) ?? evt.detail.name)
      }
      const onVerdict = (evt: CustomEvent<{ peer: string; notP2pnode: string | undefined }>) => {
        if (evt.detail.peer === peerId && evt.detail.notP2pnode != null) onAbort()
      }
      const onAbort = () => done(this.names.get(peerId) ?? '')
      const onGone = (evt: CustomEvent<PeerId>) => {
        if (evt.detail.toString() === peerId) onAbort()
      }
      const done = (name: string) => {
        this.chat.removeEventListener('hello', onHello)
        this.chat.removeEventListener('verdict', onVerdict)
        this.libp2p.removeEventListener('peer:disconnect', onGone)
        signal.removeEventListener('abort', onAbort)
        resolve(name)
      }
      this.chat.addEventListener('hello', onHello)
      this.chat.addEventListener('verdict', onVerdict)
      this.libp2p.addEventListener('peer:disconnect', onGone)
      signal.addEventListener('abort', onAbort)
    })
  }
}
