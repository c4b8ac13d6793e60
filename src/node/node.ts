import type { Libp2p, Logger, PrivateKey } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { EventLog } from '../api/events.ts'
import type { ApiParts } from '../api/routes.ts'
import { WebControl } from '../api/web-control.ts'
import type {
  DialResult,
  HistoryEntry,
  HistoryQuery,
  IdInfo,
  InviteInfo,
  NodeCoreApi,
  PeerInfo,
  SendOptions,
  SendResult
} from '../api/types.ts'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import type { ChatProtocol, PeerMailbox } from '../protocols/chat/index.ts'
import type { FileTransferProtocol } from '../protocols/file/index.ts'
import type { GroupRecord, PeerRecord, Store } from '../store/index.ts'
import { buildLibp2p, listenError } from './build-libp2p.ts'
import { Connectivity } from './connectivity.ts'
import { Conversations } from './conversations.ts'
import { feedEvents } from './event-feed.ts'
import { type FileTarget, NodeFiles } from './files.ts'
import { NodeGroups } from './groups.ts'
import { encodeInvite } from './invite.ts'
import { NodeMailbox } from './mailbox.ts'
import { watchDamage } from './open-data.ts'
import type { NodeEvents, NodeOptions } from './options.ts'
import { PeerBook } from './peer-book.ts'
import { isCircuit, withoutPeerId } from './peer-ref.ts'
import { People } from './people.ts'
import type { Policy } from './policy.ts'
import { Refs } from './refs.ts'
import { type ProtocolServices, protocolServices } from './services.ts'
import { checkOptions, openData, settle } from './start-up.ts'
import { NodeVoice } from './voice.ts'
import { wireEvents } from './wiring.ts'

export type { NodeEvents, NodeOptions } from './options.ts'

/**
 * The composition root: one libp2p node, one store, the protocols, and the modules that tie them together —
 * connectivity (who is dialled, over which path), the peer book (names, records), refs (what the user's words
 * mean), people, groups, the mailbox, files and voice. Implements the local API.
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
  /** Names, chats, peer records (node/peer-book.ts). */
  private readonly book: PeerBook
  /** Peer and group references as the user types them (node/refs.ts). */
  private readonly refs: Refs
  /** Sending and histories (node/conversations.ts). */
  private readonly conversations: Conversations
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
  private readonly name: string
  private stopping: Promise<void> | undefined
  /** What the user should know about how the node started (e.g. its usual port was taken); `start` prints them. */
  readonly notices: string[] = []
  /** Closes the store and records the clean stop in the data dir's manifest. */
  private closeData: () => Promise<void> = () => this.store.close()

  private constructor(
    libp2p: Libp2p<ProtocolServices>,
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
    const self = libp2p.peerId.toString()
    this.chat = libp2p.services.chat
    const book = new PeerBook({
      libp2p,
      store,
      chat: this.chat,
      connectivity,
      policy,
      log: this.log,
      helloWait: options.helloWait ?? 3000
    })
    this.book = book
    const mailbox = { fromInvite: (peer: string, m: PeerMailbox | undefined) => this.mailbox.fromInvite(peer, m) }
    this.refs = new Refs({ self, book, chat: this.chat, connectivity, policy, mailbox, group: (ref) => this.groups.match(ref) })
    this.people = new People({
      libp2p,
      store,
      policy,
      chat: this.chat,
      redialer: connectivity,
      names: book.names,
      chatted: book.wroteTo,
      ownName: () => this.name,
      resolvePeer: (ref, options) => this.resolvePeer(ref, options),
      target: (ref) => this.target(ref, { dial: false }),
      displayName: (peerId) => this.displayName(peerId),
      learn: (record) => book.learn(record),
      publish: (event) => this.events.publish(event),
      voiceRecord: (peer, id) => this.voice.record(peer, id)
    })
    this.files = libp2p.services.files
    // Whom a file or a voice note goes to: a peer we may send to (from now on someone we wrote to), or a group's
    // members (and a line in the group).
    const fileTarget = async (ref: string): Promise<FileTarget> => {
      const target = await this.target(ref, { dial: true })
      if ('group' in target) return this.groups.fileTarget(target.group)
      const peer = target.peer
      if (peer === self) {
        throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'that is this node: you cannot send files or voice notes to yourself')
      }
      this.people.notBlocked(peer)
      book.markChatted(peer, true)
      return peer
    }
    this.fileApi = new NodeFiles(this.files, fileTarget)
    this.mailbox = new NodeMailbox(
      {
        libp2p,
        protocol: libp2p.services.mailbox,
        privateKey,
        store,
        chat: this.chat,
        policy,
        log: libp2p.logger.forComponent('p2pnode:mailbox'),
        resolvePeer: (ref) => this.resolvePeer(ref, { dial: true }),
        displayName: (peerId) => this.displayName(peerId),
        known: (peerId) => book.known(peerId)
      },
      options.mailbox
    )
    this.voice = new NodeVoice(
      {
        store,
        files: this.files,
        fileApi: this.fileApi,
        resolveTarget: fileTarget,
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
      self,
      ownName: () => this.name,
      events: this.events,
      resolvePeer: (ref, o) => this.resolvePeer(ref, o),
      displayName: (peerId) => this.displayName(peerId),
      redial: (peerId) => void connectivity.redial(peerId),
      log: (text) => this.log.error('%s', text)
    })
    feedEvents(this, this.files, this.events)
    this.conversations = new Conversations({
      self,
      store,
      chat: this.chat,
      refs: this.refs,
      book,
      people: this.people,
      groups: this.groups,
      mailbox: this.mailbox,
      events: this.events,
      fileApi: this.fileApi,
      voice: this.voice
    })
    const reach = connectivity.reach
    this.api = {
      node: this,
      people: this.people,
      files: this.fileApi,
      voice: this.voice,
      mailbox: this.mailbox,
      groups: this.groups,
      reach: {
        relays: () => reach.list(),
        addRelay: (addr) => reach.add(addr),
        removeRelay: (addr) => reach.remove(addr),
        invite: () => this.invite()
      },
      events: this.events,
      web: this.web
    }
  }

  /**
   * Open the data dir and start everything. Throws P2pError LEVEL_LOCKED when a node already runs on the data
   * dir, DATA_DIR_INVALID when the dir is unusable.
   */
  static async start(options: NodeOptions): Promise<P2pNode> {
    await checkOptions(options)
    const notices: string[] = []
    const { paths, data } = await openData(options, notices)
    const { store, privateKey } = data
    let libp2p: Libp2p | undefined
    try {
      const { name, policy, listen, peers, tampered } = await settle(options, store)
      // Built once libp2p exists, asked before (the gater and WebRTC ask it about relays).
      const ref: { connectivity?: Connectivity } = {}
      const relays = {
        isRelay: (peer: string) => ref.connectivity?.isRelay(peer) ?? false,
        iceServers: () => ref.connectivity?.iceServers() ?? []
      }
      const services = protocolServices({
        options,
        store,
        policy,
        name,
        relayAddrs: () =>
          node.libp2p
            .getMultiaddrs()
            .filter((a) => isCircuit(a) && !a.getComponents().some((c) => c.name === 'webrtc'))
            .map((a) => withoutPeerId(a).toString()),
        parts: () => node
      })
      const started = await buildLibp2p({ options, privateKey, policy, listen: listen.listen, relays }, services)
      libp2p = started
      const connectivity: Connectivity = new Connectivity({
        libp2p: started,
        store,
        chat: {
          isConnected: (p) => node.chat.isConnected(p),
          flush: (p, o) => node.chat.flush(p, o),
          notP2pnode: (p) => node.chat.notP2pnode(p)
        },
        policy,
        log: libp2p.logger.forComponent('p2pnode:node'),
        remember: (peerId, update) => node.book.remember(peerId, update),
        handOver: (peerId) => node.handOver(peerId)
      })
      ref.connectivity = connectivity
      const node: P2pNode = new P2pNode(started, store, options, name, policy, privateKey, connectivity)
      node.closeData = data.close
      watchDamage(paths, store, (text) => node.log.error('%s', text))
      node.notices.push(...notices, ...listen.notices)
      for (const key of tampered) {
        node.log.error('peer record %s failed its integrity check; ignored, and its peer treated as blocked', key)
      }
      await node.startServices(peers)
      return node
    } catch (err) {
      await Promise.resolve(libp2p?.stop()).catch(() => {})
      await data.close().catch(() => {})
      if (isP2pError(err)) throw err
      throw listenError(err as Error) ?? err
    }
  }

  private async startServices(records: PeerRecord[]): Promise<void> {
    this.book.load(records)
    wireEvents({
      libp2p: this.libp2p,
      chat: this.chat,
      files: this.files,
      groups: this.groups,
      book: this.book,
      connectivity: this.connectivity,
      policy: this.policy,
      log: this.log,
      emit: (type, detail) => this.safeDispatchEvent(type, { detail })
    })
    await this.mailbox.prepare()
    await this.groups.verifyStored()
    // libp2p starts the protocol services (chat, files, mailbox) before it listens.
    await this.libp2p.start()
    await this.mailbox.start()
    await this.voice.start()
    // Contacts and peers we wrote to; not strangers that only wrote to us, nor every address a peer claimed (the
    // redialer bounds the peers dialled per address).
    const known = [...this.book.wroteTo, ...records.filter((r) => r.contact).map((r) => r.peerId)]
    const { reconnectInterval, relays, relayService, listen } = this.options
    const started = this.connectivity.start(known, { reconnectInterval, relays, relayService, listen })
    for (const addr of this.options.dial ?? []) {
      this.dial(addr).catch((err: Error) => this.log.error('dial %s failed: %s', addr, err.message))
    }
    await started
    this.notices.push(...this.connectivity.notices)
  }

  /** A direct path replaced a relayed one (node/connectivity.ts): what waits goes over it. */
  private handOver(peerId: string): void {
    // Chat and files heard of the new connection from their topologies too; what ran on the relayed one ended with it.
    this.chat.flush(peerId)
    this.files.onConnect(peerId)
  }

  /** One string with our peer id, name, every address a friend could reach us at (relays included), our mailbox. */
  async invite(): Promise<InviteInfo> {
    const peerId = this.libp2p.peerId.toString()
    const made = encodeInvite({ peerId, name: this.name, addrs: this.libp2p.getMultiaddrs(), mailbox: this.mailbox.ownMailbox() })
    return { peerId, name: this.name, ...made }
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
    return this.book.list()
  }

  async dial(addr: string): Promise<DialResult> {
    return this.refs.dial(addr)
  }

  async send(ref: string, text: string, options: SendOptions = {}): Promise<SendResult> {
    return this.conversations.send(ref, text, options)
  }

  async history(ref: string, options: HistoryQuery = {}): Promise<HistoryEntry[]> {
    return this.conversations.history(ref, options)
  }

  /** Stop everything; idempotent. */
  async stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.connectivity.stop()
      await this.mailbox.stop().catch((err: Error) => this.log.error('stopping the mailbox: %s', err.message))
      await this.voice.stop().catch((err: Error) => this.log.error('stopping voice: %s', err.message))
      // libp2p stops the protocol services (chat, files, mailbox) with itself.
      await Promise.resolve(this.libp2p.stop()).catch((err: Error) =>
        this.log.error('stopping libp2p: %s', err.message)
      )
      await this.closeData().catch((err: Error) => this.log.error('closing the store: %s', err.message))
      this.safeDispatchEvent('stopped')
    })()
    return this.stopping
  }

  // ---- peers and groups as the user names them (node/refs.ts, node/peer-book.ts) ----------------------------

  /** A peer's name for display (see PeerBook.displayName). */
  displayName(peerId: string): string {
    return this.book.displayName(peerId)
  }

  async resolve(ref: string, options: { dial?: boolean } = {}): Promise<{ peerId: string; name: string }> {
    const peerId = await this.resolvePeer(ref, { dial: options.dial === true })
    return { peerId, name: peerId === this.libp2p.peerId.toString() ? this.name : this.displayName(peerId) }
  }

  /** A peer or one of our groups (see Refs.target). */
  async target(ref: string, options: { dial: boolean }): Promise<{ peer: string } | { group: GroupRecord }> {
    return this.refs.target(ref, options)
  }

  /** Resolve a peer id, display name or multiaddr to a peer id (see Refs.resolvePeer). */
  async resolvePeer(ref: string, options: { dial: boolean }): Promise<string> {
    return this.refs.resolvePeer(ref, options)
  }


}
