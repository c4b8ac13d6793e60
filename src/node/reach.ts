/**
 * Reach across NATs, in one place: which relays we keep a reservation on (circuit relay v2), upgrading a relayed
 * connection to a direct WebRTC one (signalled over the relay, STUN on the relay host), and retiring the relayed
 * connection once a direct one is up. Everything here is opt-in: with no relay configured, nothing is dialled or
 * listened on beyond what the node did before (the transports are installed so that a friend's invite with
 * circuit addresses can be dialled, and a relayed peer can upgrade to us).
 *
 * Measured with js-libp2p 3 (see README "Reaching friends behind NATs"): DCUtR over TCP cannot work (identify drops
 * observed TCP addresses, js-libp2p#2620), WebRTC private-to-private through two Linux MASQUERADE NATs took 0.5–3 s.
 */
import type { Connection, ConnectionGater, Libp2p, Logger, PeerId } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'
import { PING_PROTOCOL } from '@libp2p/ping'
import { peerIdFromString } from '@libp2p/peer-id'
import { byteStream } from '@libp2p/utils'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { randomBytes } from 'node:crypto'
import type { RelayInfo } from '../api/types.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import { errorText } from '../protocols/util.ts'
import { isCircuit, parseMultiaddr, peerIdOf } from './peer-ref.ts'

/** The store setting that holds the relays we use. */
export const RELAYS_SETTING = 'relays'
/** Relays kept at most: one or two is normal; each costs a connection and a reservation. */
export const MAX_RELAYS = 8
/** How we reach a connected peer: over a LAN/public address, through a relay, or over WebRTC found via a relay. */
export type Path = 'direct' | 'relayed' | 'webrtc'

const RELAY_DIAL_TIMEOUT_MS = 10_000
/** Longest wait between tries to reach a relay that is down; it is retried as long as it is configured. */
const MAX_RELAY_BACKOFF_MS = 30_000
/** One WebRTC attempt: ICE through two NATs took up to 3 s here; a symmetric NAT never answers. */
const WEBRTC_DIAL_TIMEOUT_MS = 20_000
/** Tries to upgrade one relayed connection (waits 2 s, 8 s between): after that it stays relayed. */
const WEBRTC_TRIES = 3
/** A relayed connection that a direct one replaced gets this long to close cleanly before it is aborted. */
const RETIRE_TIMEOUT_MS = 2000
/** A new direct connection must echo a ping within this time before the relayed one is retired for it. */
const PROBE_TIMEOUT_MS = 5000
/** The first WebRTC try waits this long after the relayed connection opened: the dial that opened it is done. */
const FIRST_TRY_DELAY_MS = 500

export interface RelaySettings {
  getSetting<T>(name: string): Promise<T | undefined>
  setSetting(name: string, value: unknown): Promise<void>
}


export interface ReachComponents {
  libp2p: Libp2p
  settings: RelaySettings
  log: Logger
  /** A direct (or WebRTC) connection to a peer replaced its relayed one: send what waits over it. */
  onDirect(peerId: string): void
}

/** A relay address we can use: parsed, over TCP, ending with the relay's /p2p/ id. Throws INVALID_MULTIADDR. */
export function checkRelayAddr(text: string): { addr: Multiaddr; peerId: string } {
  const addr = parseMultiaddr(text)
  const peerId = peerIdOf(addr)
  const names = addr.getComponents().map((c) => c.name)
  if (peerId == null || isCircuit(addr) || !names.includes('tcp')) {
    throw new P2pError(ErrorCode.INVALID_MULTIADDR, `${text} is not a relay address`, {
      hint: 'a relay address is its TCP address with its peer id, e.g. /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW… (p2pnode id on the relay prints it)'
    })
  }
  return { addr, peerId }
}

/** The STUN server of a relay: the same host, UDP port = the relay's TCP port (see stun.ts). */
export function stunUrlOf(addr: Multiaddr): string | undefined {
  const parts = addr.getComponents()
  const host = parts.find((c) => ['ip4', 'ip6', 'dns4', 'dns6', 'dns'].includes(c.name))
  const port = parts.find((c) => c.name === 'tcp')?.value
  if (host?.value == null || port == null) return undefined
  return `stun:${host.name === 'ip6' ? `[${host.value}]` : host.value}:${port}`
}

/** How a connection reaches its peer. */
export function pathOf(conn: Pick<Connection, 'remoteAddr' | 'limits'>): Path {
  const names = conn.remoteAddr.getComponents().map((c) => c.name)
  if (names.includes('webrtc')) return 'webrtc'
  if (conn.limits != null || names.includes('p2p-circuit')) return 'relayed'
  return 'direct'
}

const PATH_RANK: Record<Path, number> = { direct: 0, webrtc: 1, relayed: 2 }

interface RelayEntry {
  addr: Multiaddr
  peerId: string
  failures: number
  timer?: NodeJS.Timeout
  connecting: boolean
  /** The circuit listener that holds our reservation on this relay (reused for every new reservation). */
  listener?: { listen(addr: Multiaddr): Promise<void>; getAddrs(): Multiaddr[] }
}

export class Reach {
  private readonly c: ReachComponents
  private readonly relays = new Map<string, RelayEntry>()
  private readonly upgrading = new Set<string>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private stopped = false

  private readonly onOpen = (evt: CustomEvent<Connection>) => this.opened(evt.detail)
  private readonly onClose = (evt: CustomEvent<Connection>) => this.closed(evt.detail)

  constructor(components: ReachComponents) {
    this.c = components
  }

  /** Peer ids of the configured relays (the connection gater lets them through whatever the visibility). */
  isRelay(peerId: string): boolean {
    for (const r of this.relays.values()) if (r.peerId === peerId) return true
    return false
  }

  /** The configured relays (remembered) plus `extra` (from --relay, remembered now); starts keeping them. */
  async start(extra: string[] = []): Promise<void> {
    const remembered = (await this.c.settings.getSetting<unknown>(RELAYS_SETTING)) ?? []
    const list = Array.isArray(remembered) ? remembered.filter((a): a is string => typeof a === 'string') : []
    for (const a of extra) if (!list.includes(a)) list.push(a)
    if (extra.length > 0) await this.c.settings.setSetting(RELAYS_SETTING, list.slice(0, MAX_RELAYS))
    for (const a of list.slice(0, MAX_RELAYS)) {
      try {
        const { addr, peerId } = checkRelayAddr(a)
        this.relays.set(addr.toString(), { addr, peerId, failures: 0, connecting: false })
      } catch (err) {
        this.c.log.error('ignoring remembered relay %s: %s', a, (err as Error).message)
      }
    }
    this.c.libp2p.addEventListener('connection:open', this.onOpen)
    this.c.libp2p.addEventListener('connection:close', this.onClose)
    for (const r of this.relays.values()) void this.connect(r)
  }

  stop(): void {
    this.stopped = true
    this.c.libp2p.removeEventListener('connection:open', this.onOpen)
    this.c.libp2p.removeEventListener('connection:close', this.onClose)
    for (const r of this.relays.values()) clearTimeout(r.timer)
    for (const t of this.timers) clearTimeout(t)
  }

  /** STUN servers for WebRTC: one per configured relay. None without relays: no traffic to anyone. */
  iceServers(): Array<{ urls: string }> {
    return [...this.relays.values()].flatMap((r) => {
      const url = stunUrlOf(r.addr)
      return url != null ? [{ urls: url }] : []
    })
  }

  // ---- the API (p2pnode relay add|rm|ls) ------------------------------------------------------------------------

  async list(): Promise<RelayInfo[]> {
    return [...this.relays.values()].map((r) => this.info(r))
  }

  async add(text: string): Promise<RelayInfo> {
    const { addr, peerId } = checkRelayAddr(text)
    if (peerId === this.c.libp2p.peerId.toString()) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'that is this node: a node cannot be its own relay', {
        hint: 'give the address of another node that runs with --relay-service'
      })
    }
    const key = addr.toString()
    let entry = this.relays.get(key)
    if (entry == null) {
      if (this.relays.size >= MAX_RELAYS) {
        throw new P2pError(ErrorCode.INVALID_ARGUMENT, `at most ${MAX_RELAYS} relays`, {
          hint: 'remove one first: p2pnode relay rm <multiaddr> (p2pnode relay ls lists them)'
        })
      }
      entry = { addr, peerId, failures: 0, connecting: false }
      this.relays.set(key, entry)
      await this.save()
    }
    entry.failures = 0
    clearTimeout(entry.timer)
    await this.connect(entry)
    return this.info(entry)
  }

  async remove(text: string): Promise<RelayInfo> {
    const addr = parseMultiaddr(text)
    const entry =
      this.relays.get(addr.toString()) ?? [...this.relays.values()].find((r) => r.peerId === peerIdOf(addr))
    if (entry == null) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `${text} is not one of this node's relays`, {
        hint: 'p2pnode relay ls lists them'
      })
    }
    this.relays.delete(entry.addr.toString())
    clearTimeout(entry.timer)
    await this.save()
    // Dropping the connection ends the reservation (and withdraws its circuit addresses).
    if (!this.isRelay(entry.peerId)) {
      await this.c.libp2p.hangUp(peerIdFromString(entry.peerId)).catch(() => {})
    }
    return { ...this.info(entry), connected: false, circuitAddrs: [] }
  }

  // ---- paths ---------------------------------------------------------------------------------------------------

  /** The best path among the peer's open connections, or undefined when it has none. */
  pathTo(peerId: string): Path | undefined {
    let best: Path | undefined
    for (const c of this.c.libp2p.getConnections(peerIdFromString(peerId))) {
      if (c.status !== 'open') continue
      const p = pathOf(c)
      if (best == null || PATH_RANK[p] < PATH_RANK[best]) best = p
    }
    return best
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  private info(r: RelayEntry): RelayInfo {
    const conns = this.c.libp2p.getConnections(peerIdFromString(r.peerId))
    return {
      addr: r.addr.toString(),
      peerId: r.peerId,
      connected: conns.some((c) => c.status === 'open' && c.limits == null),
      circuitAddrs: (r.listener?.getAddrs() ?? []).map((a) => a.toString())
    }
  }

  private async save(): Promise<void> {
    await this.c.settings.setSetting(
      RELAYS_SETTING,
      [...this.relays.values()].map((r) => r.addr.toString())
    )
  }

  private get transportManager(): TransportManager {
    // libp2p's Libp2p class exposes its components; a reservation at run time needs the transport manager's
    // listen(), which the public interface does not have.
    return (this.c.libp2p as unknown as { components: { transportManager: TransportManager } }).components
      .transportManager
  }

  /** Connect to a relay and hold a reservation on it; on failure, try again later (backing off). */
  private async connect(r: RelayEntry): Promise<void> {
    if (this.stopped || r.connecting || !this.relays.has(r.addr.toString())) return
    r.connecting = true
    try {
      await this.c.libp2p.dial(r.addr, { signal: AbortSignal.timeout(RELAY_DIAL_TIMEOUT_MS) })
      const circuit = r.addr.encapsulate('/p2p-circuit')
      if (r.listener == null) {
        const before = new Set(this.transportManager.getListeners())
        try {
          await this.transportManager.listen([circuit])
        } finally {
          // Kept whether or not the first reservation worked: listening again reuses it instead of adding one.
          r.listener = this.transportManager.getListeners().find((l) => !before.has(l))
        }
      } else {
        await r.listener.listen(circuit)
      }
      r.failures = 0
      this.c.log('reservation on relay %s: %s', r.peerId, this.info(r).circuitAddrs.join(' '))
    } catch (err) {
      r.failures++
      const wait = Math.min(MAX_RELAY_BACKOFF_MS, 500 * 2 ** r.failures)
      this.c.log.error('relay %s: %s; trying again in %d ms', r.addr.toString(), errorText(err), wait)
      this.retryLater(r, wait)
    } finally {
      r.connecting = false
    }
  }

  private retryLater(r: RelayEntry, wait: number): void {
    clearTimeout(r.timer)
    if (this.stopped) return
    r.timer = setTimeout(() => void this.connect(r), wait)
    r.timer.unref()
  }

  private relayOf(peerId: string): RelayEntry | undefined {
    return [...this.relays.values()].find((x) => x.peerId === peerId)
  }

  private closed(conn: Connection): void {
    const peerId = conn.remotePeer.toString()
    const r = this.relayOf(peerId)
    if (r == null || this.stopped) return
    const open = this.c.libp2p.getConnections(conn.remotePeer).some((c) => c.status === 'open' && c.limits == null)
    // The reservation lived on that connection: reconnect and reserve again (the relay restarted, or the network).
    if (!open) this.retryLater(r, Math.min(MAX_RELAY_BACKOFF_MS, 500 * 2 ** r.failures))
  }

  private opened(conn: Connection): void {
    if (this.stopped) return
    const peerId = conn.remotePeer.toString()
    const path = pathOf(conn)
    if (path === 'relayed') {
      // The side that dialled through the relay tries to go direct; both trying at once would race.
      if (conn.direction === 'outbound' && this.iceServers().length > 0) this.later(FIRST_TRY_DELAY_MS, () => this.upgrade(conn, 1))
      return
    }
    const relayed = this.c.libp2p
      .getConnections(conn.remotePeer)
      .filter((c) => c.status === 'open' && pathOf(c) === 'relayed')
    if (relayed.length > 0) void this.retire(peerId, conn, relayed)
  }

  private later(ms: number, fn: () => Promise<void>): void {
    if (this.stopped) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      void fn()
    }, ms)
    t.unref()
    this.timers.add(t)
  }

  /** Whether `conn` carries data both ways now: one ping echoed (a WebRTC connection can open and carry nothing). */
  private async works(conn: Connection): Promise<boolean> {
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS)
    try {
      const stream = await conn.newStream(PING_PROTOCOL, { signal })
      const bytes = byteStream(stream)
      const data = randomBytes(32)
      await bytes.write(data, { signal })
      const echo = await bytes.read({ bytes: 32, signal })
      await stream.close({ signal }).catch(() => stream.abort(new Error('probe done')))
      return Buffer.from(echo.subarray()).equals(data)
    } catch (err) {
      this.c.log('the new %s connection to %s carries nothing: %s', pathOf(conn), conn.remotePeer.toString(), errorText(err))
      return false
    }
  }

  /** Try WebRTC to a peer we reach through a relay; a few times, then leave it relayed. */
  private async upgrade(relayed: Connection, attempt: number): Promise<void> {
    const peerId = relayed.remotePeer.toString()
    if (this.upgrading.has(peerId) || relayed.status !== 'open' || this.pathTo(peerId) !== 'relayed') return
    this.upgrading.add(peerId)
    const target = multiaddr(`${relayed.remoteAddr.toString().replace(/\/p2p\/[^/]+$/, '')}/webrtc/p2p/${peerId}`)
    const started = Date.now()
    try {
      // force: a dial to a peer we are connected to would otherwise return (or join) what is there.
      const conn = await this.c.libp2p.dial(target, { signal: AbortSignal.timeout(WEBRTC_DIAL_TIMEOUT_MS), force: true })
      if (pathOf(conn) !== 'webrtc') throw new Error(`the dial gave a ${pathOf(conn)} connection (${conn.remoteAddr.toString()})`)
      this.c.log('direct WebRTC path to %s after %d ms', peerId, Date.now() - started)
    } catch (err) {
      this.c.log('WebRTC to %s failed (try %d of %d): %s', peerId, attempt, WEBRTC_TRIES, errorText(err))
      if (attempt < WEBRTC_TRIES && !this.stopped) {
        this.later(2000 * 4 ** (attempt - 1), () => this.upgrade(relayed, attempt + 1))
      }
    } finally {
      this.upgrading.delete(peerId)
    }
  }

  /**
   * A better connection is up: close the relayed ones (their streams end; chat resends what was unacked on the
   * new connection, and the receiver drops what it already stored, so nothing is lost or doubled).
   */
  private async retire(peerId: string, direct: Connection, relayed: Connection[]): Promise<void> {
    if (!(await this.works(direct))) {
      // Kept relayed; the useless connection goes, or chat would prefer it.
      direct.abort(new Error('carries no data'))
      return
    }
    for (const c of relayed) {
      try {
        await c.close({ signal: AbortSignal.timeout(RETIRE_TIMEOUT_MS) })
      } catch {
        c.abort(new Error('replaced by a direct connection'))
      }
    }
    this.c.onDirect(peerId)
  }
}

/**
 * The node's gater, letting our own relays through a `contacts` visibility (a relay is no contact, but we chose
 * it). A hidden node dials nothing, relays included.
 */
export function gaterWithRelays(base: ConnectionGater, isRelay: (peerId: string) => boolean): ConnectionGater {
  const except =
    (deny: ((peer: PeerId, ...rest: never[]) => boolean | Promise<boolean>) | undefined) =>
    (peer: PeerId, ...rest: never[]) =>
      isRelay(peer.toString()) ? false : (deny?.(peer, ...rest) ?? false)
  return {
    ...base,
    denyDialPeer: except(base.denyDialPeer),
    denyInboundEncryptedConnection: except(base.denyInboundEncryptedConnection),
    denyOutboundEncryptedConnection: except(base.denyOutboundEncryptedConnection),
    denyInboundUpgradedConnection: except(base.denyInboundUpgradedConnection),
    denyOutboundUpgradedConnection: except(base.denyOutboundUpgradedConnection)
  }
}
