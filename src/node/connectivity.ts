/**
 * Connectivity, in one place: who we dial and when (peers discovered on the LAN, contacts and peers we wrote to on
 * start, peers with messages waiting, with back-off: redialer.ts), the addresses a user types or pastes (a
 * multiaddr, an invite), relays and the direct paths found through them (reach.ts), the relay's STUN responder,
 * which connection each protocol stream goes on (paths.ts), and the hand-over when a direct connection replaces a
 * relayed one. The protocols never pick a connection or dial on their own initiative: they open streams through
 * `streams`, ask for a peer here (`redial`), and hear of connections from their registrar topologies.
 */
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import type { ChatProtocol } from '../protocols/chat/index.ts'
import type { PeerStreams } from '../protocols/peer-streams.ts'
import type { Store } from '../store/index.ts'
import { dialAddress, dialHint, WrongPeerError } from './dial.ts'
import type { Invite } from './invite.ts'
import { parseMultiaddr, withoutPeerId } from './peer-ref.ts'
import type { Policy } from './policy.ts'
import { peerStreams } from './paths.ts'
import { type Path, Reach } from './reach.ts'
import { Redialer } from './redialer.ts'
import { type StunServer, startStunServer } from './stun.ts'

/** Peers seen on p2pnode's mDNS service kept at most (anyone can announce ever new ids). */
const MAX_SIGHTED = 1000
/** How long dialling a friend's invite may take, all its addresses together. */
const INVITE_DIAL_TIMEOUT_MS = 15_000

export interface ConnectivityComponents {
  libp2p: Libp2p
  store: Store
  /** What the redialer asks of chat: is the peer connected, send what waits, is it no p2pnode node. */
  chat: Pick<ChatProtocol, 'isConnected' | 'flush' | 'notP2pnode'>
  policy: Policy
  log: Logger
  /** Keep addresses we learnt for a peer in its record. */
  remember(peerId: string, update: { addrs: string[] }): Promise<void>
  /**
   * The hand-over: a direct (or WebRTC) connection replaced a peer's relayed one, whose streams ended. What was
   * under way goes on over the direct one (chat flushes its outbox; files offer and resume).
   */
  handOver(peerId: string): void
}

export interface ConnectivityOptions {
  /** How often peers with waiting messages are redialled, ms. @default 3000 */
  reconnectInterval?: number
  /** Relays to keep a reservation on, added to the remembered ones. */
  relays?: string[]
  /** Run the relay's STUN responder beside its TCP port. @default false */
  relayService?: boolean
  /** The listen addresses asked for (the STUN responder binds the host of the first). */
  listen?: string[]
}

export class Connectivity {
  /** Relays, NAT traversal, paths (reach.ts). */
  readonly reach: Reach
  /** Which connection the protocols' streams go on (paths.ts). */
  readonly streams: PeerStreams
  private readonly c: ConnectivityComponents
  private readonly redialer: Redialer
  /** Peers seen on p2pnode's mDNS service this run, oldest first (bounded: see MAX_SIGHTED). */
  private readonly sightings = new Set<string>()
  private stun: StunServer | undefined
  /** Notices for the user about how connectivity started (e.g. no STUN responder); the node prints them. */
  readonly notices: string[] = []

  constructor(components: ConnectivityComponents) {
    this.c = components
    const { libp2p, store, chat, policy, log } = components
    this.redialer = new Redialer({ libp2p, store, chat, policy, log })
    this.reach = new Reach({
      libp2p,
      settings: store,
      log: libp2p.logger.forComponent('p2pnode:reach'),
      onDirect: (peerId) => components.handOver(peerId)
    })
    this.streams = peerStreams(libp2p)
    // Before libp2p starts, so that nothing found early is missed.
    libp2p.addEventListener('peer:discovery', (evt) => void this.redialer.redial(evt.detail.id.toString()))
  }

  /** Whether a peer is one of our relays (the connection gater lets them through any visibility). */
  isRelay(peerId: string): boolean {
    return this.reach.isRelay(peerId)
  }

  /** STUN servers for WebRTC (one per relay). */
  iceServers(): Array<{ urls: string }> {
    return this.reach.iceServers()
  }

  /**
   * Once libp2p runs: dial discovered and sighted peers, the `known` ones (contacts, peers we wrote to), keep
   * redialling peers with messages waiting, hold reservations on our relays, and serve STUN if we are a relay.
   */
  async start(known: Iterable<string>, options: ConnectivityOptions = {}): Promise<void> {
    const libp2p = this.c.libp2p
    // mDNS reports every sighting; libp2p's peer:discovery only peers new to its peer store. Listening here
    // redials known peers that come back (restarted, or back on the network) without waiting for anything else.
    const mdnsService = (libp2p.services as Record<string, EventTarget | undefined>).mdns
    mdnsService?.addEventListener('peer', (evt) => {
      const peerId = (evt as CustomEvent<{ id: PeerId }>).detail.id.toString()
      this.sightings.delete(peerId)
      this.sightings.add(peerId)
      if (this.sightings.size > MAX_SIGHTED) this.sightings.delete(this.sightings.values().next().value ?? '')
      void this.redialer.redial(peerId)
    })
    for (const peerId of known) void this.redialer.redial(peerId)
    this.redialer.start(options.reconnectInterval ?? 3000)
    await this.reach.start(options.relays ?? [])
    if (options.relayService === true) await this.startStun(options.listen ?? [])
  }

  async stop(): Promise<void> {
    this.redialer.stop()
    this.reach.stop()
    await this.stun?.close().catch(() => {})
  }

  /** Whether the peer was seen on p2pnode's mDNS service this run. */
  sighted(peerId: string): boolean {
    return this.sightings.has(peerId)
  }

  /** How we reach a connected peer (its best open connection), or undefined when it has none. */
  pathTo(peerId: string): Path | undefined {
    return this.reach.pathTo(peerId)
  }

  /** Dial a peer at its known addresses unless connected, dialling, refused or backing off (`force`: the user asked). */
  redial(peerId: string, options: { force?: boolean } = {}): Promise<void> {
    return this.redialer.redial(peerId, options)
  }

  /** Send what waits to connected peers, and dial the others. */
  redialWaiting(): Promise<void> {
    return this.redialer.redialWaiting()
  }

  /** A peer greeted us on a connection: the connection is useful, its dial failures are forgotten. */
  connected(peerId: string): void {
    this.redialer.connected(peerId)
  }

  /**
   * Dial an address the user typed (see dial.ts): the peer id that answered. DIAL_FAILED when we are hidden or
   * nobody answers; WrongPeerError when someone else does.
   */
  async dialTyped(addr: string): Promise<string> {
    const ma = parseMultiaddr(addr)
    this.notHidden()
    try {
      return (await dialAddress(this.c.libp2p, ma)).peerId
    } catch (err) {
      if (isP2pError(err)) throw err
      throw this.failed(addr, ma, (err as Error).message, err)
    }
  }

  /** DIAL_FAILED "could not reach addr: reason", with the hint for that address. */
  failed(addr: string, ma: Multiaddr, reason: string, cause?: unknown): P2pError {
    return new P2pError(ErrorCode.DIAL_FAILED, `could not reach ${addr}: ${reason}`, { hint: dialHint(ma), cause })
  }

  /**
   * Dial a friend's invite: its addresses are remembered as the peer's (redialled like any), then tried, direct
   * ones first. The peer is known by the id in the invite whoever answers: libp2p checks it in the handshake.
   */
  async dialInvite(invite: Invite): Promise<void> {
    if (invite.peerId === this.c.libp2p.peerId.toString()) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'that is your own invite', {
        hint: 'give it to a friend; paste theirs here'
      })
    }
    this.notHidden()
    const peerId = invite.peerId
    await this.c.remember(peerId, { addrs: invite.addrs })
    const id = peerIdFromString(peerId)
    const multiaddrs = invite.addrs.map((a) => parseMultiaddr(a).encapsulate(`/p2p/${peerId}`))
    try {
      await this.c.libp2p.peerStore.merge(id, { multiaddrs: multiaddrs.map((a) => withoutPeerId(a)) })
      await this.c.libp2p.dial(multiaddrs, { signal: AbortSignal.timeout(INVITE_DIAL_TIMEOUT_MS) })
    } catch (err) {
      void this.redialer.redial(peerId, { force: true })
      throw new P2pError(ErrorCode.DIAL_FAILED, `could not reach ${invite.name || peerId} at any address of the invite`, {
        hint: 'check that the other node is running (with its relay, if it is behind a NAT); it is redialled meanwhile',
        cause: err
      })
    }
  }

  /**
   * An address typed with a peer id (`send /ip4/…/p2p/ID`, `contacts add …`): dialled, and kept as that peer's only
   * if nobody else answers there. One that cannot be tried now (hidden, blocked) or does not answer (the peer may be
   * offline) is kept as the best we know, and redialled.
   */
  async checkAddress(ma: Multiaddr, peerId: string): Promise<void> {
    const addrs = [withoutPeerId(ma).toString()]
    if (peerId === this.c.libp2p.peerId.toString()) return
    if (this.c.policy.allows(peerId)) {
      try {
        await dialAddress(this.c.libp2p, ma)
      } catch (err) {
        if (err instanceof WrongPeerError) throw err
        this.c.log('%s did not answer: %s', ma.toString(), (err as Error).message)
      }
    }
    await this.c.remember(peerId, { addrs })
    void this.redialer.redial(peerId, { force: true })
  }

  private notHidden(): void {
    if (this.c.policy.visibility === 'hidden') {
      throw new P2pError(ErrorCode.DIAL_FAILED, 'you are hidden: a hidden node dials nobody', {
        hint: 'switch first: p2pnode visibility everyone (or contacts)'
      })
    }
  }

  /** The relay's STUN responder: UDP, on the host and port number of its first TCP listen address. */
  private async startStun(listen: string[]): Promise<void> {
    const tcpAddr = this.c.libp2p.getMultiaddrs().find((a) => a.getComponents().some((c) => c.name === 'tcp'))
    const listenHost = listen
      .map((a) => parseMultiaddr(a).getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value)
      .find((h) => h != null)
    const port = Number(tcpAddr?.getComponents().find((c) => c.name === 'tcp')?.value)
    if (!Number.isInteger(port) || port === 0) {
      this.notices.push('p2pnode: no TCP port to run the STUN server beside; WebRTC through this relay will not work')
      return
    }
    try {
      this.stun = await startStunServer({ host: listenHost ?? '0.0.0.0', port, log: this.c.log })
    } catch (err) {
      this.notices.push(`p2pnode: cannot run the STUN server on UDP port ${port}: ${(err as Error).message}`)
    }
  }
}
