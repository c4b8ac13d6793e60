/**
 * What the node knows about peers while it runs: their names (the name each told us, the local name we gave),
 * whom we chatted with and wrote to, what each record in the store should say (addresses, names, verdicts), and
 * waiting briefly for a peer's greeting. The peer records themselves live in the store (src/store/peers.ts).
 */
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerInfo } from '../api/types.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import type { ChatProtocol } from '../protocols/chat/index.ts'
import type { PeerRecord, Store } from '../store/index.ts'
import type { Connectivity } from './connectivity.ts'
import { isCircuit, NAME_RANK, parseMultiaddr } from './peer-ref.ts'
import type { Policy } from './policy.ts'

export interface PeerBookComponents {
  libp2p: Pick<Libp2p, 'peerId' | 'peerStore' | 'addEventListener' | 'removeEventListener'>
  store: Pick<Store, 'peers'>
  chat: Pick<ChatProtocol, 'greeted' | 'isConnected' | 'notP2pnode' | 'setForeign' | 'addEventListener' | 'removeEventListener'>
  connectivity: Pick<Connectivity, 'sighted' | 'pathTo'>
  policy: Policy
  log: Logger
  /** How long to wait for a connected peer's greeting, ms. */
  helloWait: number
}

/** What a peer record may be updated with (see the store's peers.update). */
export interface PeerUpdate {
  name?: string
  addrs?: string[]
  chatted?: boolean
  wrote?: boolean
  notP2pnode?: string | null
}

export class PeerBook {
  /** Display names: our local name for a peer if we gave one, else the name it told us. */
  readonly names = new Map<string, string>()
  /** Names peers told us (kept apart from local names so that both resolve). */
  readonly ownNames = new Map<string, string>()
  readonly localNames = new Map<string, string>()
  /** Peers we exchanged a message or file with, either way. */
  readonly chatted = new Set<string>()
  /** Peers we sent something to (or chatted with, in a 0.1 record): redialled on start, unlike strangers. */
  readonly wroteTo = new Set<string>()
  private readonly c: PeerBookComponents

  constructor(components: PeerBookComponents) {
    this.c = components
  }

  /** Take the stored records (on start). */
  load(records: PeerRecord[]): void {
    for (const record of records) {
      this.learn(record)
      if (record.notP2pnode != null) this.c.chat.setForeign(record.peerId, record.notP2pnode)
      if (record.chatted) this.chatted.add(record.peerId)
      if (record.wrote === true || (record.wrote == null && record.chatted)) this.wroteTo.add(record.peerId)
    }
  }

  /** Take what a peer record says about names and policy. */
  learn(record: PeerRecord): void {
    if (record.name != null) this.ownNames.set(record.peerId, record.name)
    if (record.localName != null) this.localNames.set(record.peerId, record.localName)
    else this.localNames.delete(record.peerId)
    const display = record.localName ?? record.name
    if (display != null) this.names.set(record.peerId, display)
    this.c.policy.apply(record)
  }

  /**
   * A peer's name for display; with a short id when another peer goes by the same name and that name is not
   * weaker than this one's (a contact named carol stays "carol"; a stranger calling itself carol gets its id).
   */
  displayName(peerId: string): string {
    const name = this.names.get(peerId)
    if (name == null || name === '') return `${peerId.slice(0, 12)}…`
    const rank = (p: string) =>
      this.localNames.has(p) ? NAME_RANK.LOCAL : this.c.policy.isContact(p) ? NAME_RANK.CONTACT : NAME_RANK.STRANGER
    for (const [other, n] of this.names) {
      if (other !== peerId && n === name && rank(other) <= rank(peerId)) {
        return `${name} (${peerId.slice(0, 8)}…${peerId.slice(-4)})`
      }
    }
    return name
  }

  /** A peer greeted us with its name: kept, with the addresses identify told us. Returns the former name if it changed. */
  hello(peerId: string, name: string): string | undefined {
    const former = this.ownNames.get(peerId)
    if (former === name) return undefined
    this.ownNames.set(peerId, name)
    if (!this.localNames.has(peerId)) this.names.set(peerId, name)
    void (async () => {
      // The addresses identify told us before the greeting made it a p2pnode peer.
      const known = await this.c.libp2p.peerStore.get(peerIdFromString(peerId)).catch(() => undefined)
      const addrs = known?.addresses.map((a) => a.multiaddr.toString()) ?? []
      await this.remember(peerId, { name, ...(addrs.length > 0 ? { addrs } : {}) })
    })()
    return former
  }

  /**
   * A friend's invite gave the peer's name (node/refs.ts): kept as the name it told us, until its greeting tells
   * another (a local name we gave still shows first).
   */
  async invited(peerId: string, name: string): Promise<void> {
    if (name === '' || this.ownNames.get(peerId) === name) return
    this.ownNames.set(peerId, name)
    if (!this.localNames.has(peerId)) this.names.set(peerId, name)
    await this.remember(peerId, { name })
  }

  /** Identify told us a peer's listen addresses: kept for p2pnode peers only (a stranger's by its greeting). */
  identified(peerId: string, addrs: string[]): void {
    if (addrs.length > 0 && (this.names.has(peerId) || this.c.chat.greeted(peerId))) void this.remember(peerId, { addrs })
  }

  /**
   * A peer told us its circuit addresses (beside its greeting): they replace the circuit addresses we kept for it,
   * so that we redial it through the relays it uses now. Anything that is no circuit address is ignored.
   */
  async relayAddrs(peerId: string, relayAddrs: string[]): Promise<void> {
    const circuits = relayAddrs.flatMap((a) => {
      try {
        const ma = parseMultiaddr(a)
        return isCircuit(ma) && a.endsWith('/p2p-circuit') ? [ma.toString()] : []
      } catch {
        return []
      }
    })
    if (circuits.length === 0) return
    const record = await this.c.store.peers.get(peerId).catch(() => undefined)
    const direct = (record?.addrs ?? []).filter((a) => !a.includes('/p2p-circuit'))
    await this.remember(peerId, { addrs: [...new Set([...direct, ...circuits])] })
  }

  /** A message or file went either way (`wrote`: from us). */
  markChatted(peerId: string, wrote = false): void {
    if (this.chatted.has(peerId) && (!wrote || this.wroteTo.has(peerId))) return
    this.chatted.add(peerId)
    if (wrote) this.wroteTo.add(peerId)
    void this.remember(peerId, { chatted: true, ...(wrote ? { wrote: true } : {}) })
  }

  /** Update a peer's record; a failure is logged (what we learnt is kept in memory). */
  async remember(peerId: string, update: PeerUpdate): Promise<void> {
    try {
      await this.c.store.peers.update(peerId, update)
    } catch (err) {
      this.c.log.error('could not save peer %s: %s', peerId, (err as Error).message)
    }
  }

  /** Whether a peer is someone we know: a contact, or a peer we chatted with or wrote to. */
  known(peerId: string): boolean {
    return this.c.policy.isContact(peerId) || this.chatted.has(peerId) || this.wroteTo.has(peerId)
  }

  /**
   * PEER_NOT_P2PNODE for a peer that proved to be another libp2p program. A peer connected but not greeted yet gets
   * a moment (helloWait) to greet or to prove that, so that the first message to it is not stored in vain.
   */
  async notForeign(peer: string): Promise<void> {
    const chat = this.c.chat
    if (chat.notP2pnode(peer) == null && chat.isConnected(peer) && !chat.greeted(peer)) await this.nameOf(peer)
    const reason = chat.notP2pnode(peer)
    if (reason == null) return
    throw new P2pError(ErrorCode.PEER_NOT_P2PNODE, `${this.displayName(peer)} is not a p2pnode node: ${reason}`, {
      hint: 'nothing was sent: it is another libp2p program. If it runs p2pnode now, connect again with p2pnode dial <its multiaddr>'
    })
  }

  /**
   * The peer's name, once it has greeted us on the current connection (waits briefly for that, or until it proves
   * to be no p2pnode node).
   */
  async nameOf(peerId: string): Promise<string> {
    const { chat, libp2p } = this.c
    if (chat.greeted(peerId)) return this.names.get(peerId) ?? ''
    const signal = AbortSignal.timeout(this.c.helloWait)
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
        chat.removeEventListener('hello', onHello)
        chat.removeEventListener('verdict', onVerdict)
        libp2p.removeEventListener('peer:disconnect', onGone)
        signal.removeEventListener('abort', onAbort)
        resolve(name)
      }
      chat.addEventListener('hello', onHello)
      chat.addEventListener('verdict', onVerdict)
      libp2p.addEventListener('peer:disconnect', onGone)
      signal.addEventListener('abort', onAbort)
    })
  }

  /** Every p2pnode peer we know or see, with its name, addresses and, while connected, its path. */
  async list(): Promise<PeerInfo[]> {
    const { libp2p, store, chat, connectivity } = this.c
    const self = libp2p.peerId.toString()
    const out = new Map<string, PeerInfo>()
    for (const r of (await store.peers.list()).peers) {
      // A record with nothing but addresses is a libp2p peer that never greeted us: not a p2pnode peer.
      if (r.name == null && r.localName == null && !r.contact && !r.chatted && !r.blocked && !r.muted) continue
      out.set(r.peerId, { peerId: r.peerId, name: r.localName ?? r.name ?? '', connected: false, addrs: r.addrs })
    }
    for (const p of await libp2p.peerStore.all()) {
      const peerId = p.id.toString()
      if (peerId === self) continue
      // Other libp2p programs (strangers that dialled us, addresses that answered as someone else) are not listed:
      // only peers that greeted us on /chat/1.0 or were seen on p2pnode's own mDNS service.
      if (!out.has(peerId) && !this.names.has(peerId) && !chat.greeted(peerId) && !connectivity.sighted(peerId)) {
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
      info.connected = chat.greeted(peerId)
      const path = info.connected ? connectivity.pathTo(peerId) : undefined
      if (path != null) info.path = path
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name) || a.peerId.localeCompare(b.peerId))
  }
}
