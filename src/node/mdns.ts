/**
 * LAN discovery over mDNS (RFC 6762) with DNS-SD records (RFC 6763), on `multicast-dns` (what @libp2p/mdns uses
 * underneath). Unlike @libp2p/mdns, which queries every interval forever and answers every query, its own too:
 * - queries back off (1 s, 2 s, 4 s, ... up to an hour, §5.2), starting again at once on a network change;
 * - queries carry the PTR records already known (known-answer suppression, §7.1), ours included, so that nobody
 *   answers what the asker knows and we never answer our own queries;
 * - a node announces itself on start (twice, a second apart, §8.3) and says goodbye (TTL 0, §10.1) on stop;
 * - a record is multicast at most once a second (§6): a query within that second is answered to the asker alone;
 * - answers carry PTR + SRV + TXT + A, so that DNS-SD browsers (Avahi, Bonjour) resolve the service; queries for
 *   the SRV, TXT or A records alone are answered too, and legacy unicast queries (source port ≠ 5353) by unicast;
 * - only addresses usable on the asker's network are advertised (never loopback to the LAN), within one packet.
 */
import type { RemoteInfo } from 'node:dgram'
import { networkInterfaces } from 'node:os'
import {
  type ComponentLogger,
  type Logger,
  type PeerDiscovery,
  type PeerDiscoveryEvents,
  type PeerId,
  peerDiscoverySymbol,
  serviceCapabilities,
  type Startable
} from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Answer, Packet } from 'dns-packet'
import { TypedEventEmitter } from 'main-event'
import multicastDns from 'multicast-dns'
import {
  hostAnswers,
  hostName,
  instanceName,
  readResponse,
  type Response,
  sameSubnet,
  type SelfRecord,
  serviceAnswer,
  SHARED_TTL,
  ttlOf
} from './mdns-records.ts'

export interface MdnsInit {
  /** @default '_p2pnode._udp.local' */
  serviceTag?: string
  /** The first interval between queries, ms; each next one doubles. @default 1000 */
  queryInterval?: number
  /** The longest interval between queries, ms (RFC 6762 §5.2 caps it at 60 minutes). @default 3600000 */
  maxQueryInterval?: number
  /** How often network interfaces are checked for changes, ms. @default 5000 */
  networkCheckInterval?: number
  /** Answer queries and announce ourselves (false: ask only). @default true */
  broadcast?: boolean
  /** UDP port and group (tests). @default 5353, 224.0.0.251 */
  port?: number
  ip?: string
}

export interface MdnsComponents {
  peerId: PeerId
  addressManager: { getAddresses(): Multiaddr[] }
  logger: ComponentLogger
}

const MDNS_PORT = 5353
const SERVICES_ENUM = '_services._dns-sd._udp.local'
/** Peers remembered for known-answer lists at most (anyone can announce ever new ids). */
const MAX_KNOWN = 1000
/** Known answers per query at most: they must fit in one packet with the question. */
const MAX_KNOWN_ANSWERS = 16
/** While the node has no address yet: how often, and how many times, to try announcing. */
const ANNOUNCE_RETRY_MS = 200
const ANNOUNCE_TRIES = 50
/** RFC 6762 §6: a record is multicast at most once a second. */
const MIN_MULTICAST_GAP_MS = 1000

interface Known {
  /** When its PTR record expires, ms since the epoch. */
  expires: number
  ttl: number
}

export class MdnsDiscovery extends TypedEventEmitter<PeerDiscoveryEvents> implements PeerDiscovery, Startable {
  readonly [peerDiscoverySymbol] = this
  readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery']
  readonly [Symbol.toStringTag] = 'p2pnode:mdns'
  private readonly components: MdnsComponents
  private readonly log: Logger
  private readonly serviceTag: string
  private readonly queryInterval: number
  private readonly maxQueryInterval: number
  private readonly networkCheckInterval: number
  private readonly port: number
  private readonly ip: string
  private readonly self: string
  private broadcasting: boolean
  private mdns: multicastDns.MulticastDNS | undefined
  private readonly known = new Map<string, Known>()
  private queryTimer: NodeJS.Timeout | undefined
  private nextInterval = 0
  private networkTimer: NodeJS.Timeout | undefined
  private networkSignature = ''
  private announceTimer: NodeJS.Timeout | undefined
  private answerTimer: NodeJS.Timeout | undefined
  private lastMulticast = 0
  private pending: Response | undefined
  /** What we last advertised to everyone (for the goodbye). */
  private lastSelf: SelfRecord

  constructor(components: MdnsComponents, init: MdnsInit = {}) {
    super()
    this.components = components
    this.log = components.logger.forComponent('p2pnode:mdns')
    this.serviceTag = init.serviceTag ?? '_p2pnode._udp.local'
    this.queryInterval = init.queryInterval ?? 1000
    this.maxQueryInterval = init.maxQueryInterval ?? 3_600_000
    this.networkCheckInterval = init.networkCheckInterval ?? 5000
    this.port = init.port ?? MDNS_PORT
    this.ip = init.ip ?? '224.0.0.251'
    this.broadcasting = init.broadcast ?? true
    this.self = components.peerId.toString()
    this.lastSelf = { peerId: this.self, addrs: [] }
  }

  get broadcast(): boolean {
    return this.broadcasting
  }

  isStarted(): boolean {
    return this.mdns != null
  }

  /** Answer and announce (true), or only ask (false): going quiet says goodbye, going visible announces. */
  async setBroadcast(on: boolean): Promise<void> {
    if (on === this.broadcasting) return
    if (!on && this.mdns != null) await this.goodbye()
    this.broadcasting = on
    if (on && this.mdns != null) this.announce()
  }

  async start(): Promise<void> {
    if (this.mdns != null) return
    const mdns = multicastDns({ port: this.port, ip: this.ip })
    this.mdns = mdns
    mdns.on('query', (packet, rinfo) => this.onQuery(packet, rinfo))
    mdns.on('response', (packet, rinfo) => this.onResponse(packet, rinfo))
    mdns.on('warning', (err: Error) => this.log('mdns warning: %s', err.message))
    mdns.on('error', (err: Error) => this.log.error('mdns error: %s', err.message))
    this.networkSignature = signature()
    this.networkTimer = setInterval(() => this.checkNetwork(), this.networkCheckInterval)
    this.networkTimer.unref()
    this.restartQueries()
    this.announce()
  }

  async stop(): Promise<void> {
    const mdns = this.mdns
    if (mdns == null) return
    clearTimeout(this.queryTimer)
    clearTimeout(this.announceTimer)
    clearTimeout(this.answerTimer)
    clearInterval(this.networkTimer)
    if (this.broadcasting) await this.goodbye()
    this.mdns = undefined
    await new Promise<void>((resolve) => mdns.destroy(() => resolve()))
  }

  // ---- asking -------------------------------------------------------------------------------------------------

  /** Query now, then back off again from the first interval (on start and on a network change). */
  private restartQueries(): void {
    clearTimeout(this.queryTimer)
    this.nextInterval = this.queryInterval
    this.query()
  }

  private query(): void {
    const mdns = this.mdns
    if (mdns == null) return
    mdns.query({ questions: [{ name: this.serviceTag, type: 'PTR' }], answers: this.knownAnswers() }, undefined, () => {})
    this.queryTimer = setTimeout(() => this.query(), this.nextInterval)
    this.queryTimer.unref()
    this.nextInterval = Math.min(this.nextInterval * 2, this.maxQueryInterval)
  }

  /** PTR records we hold with more than half their TTL left (§7.1), ours first when we answer. */
  private knownAnswers(): Answer[] {
    const now = Date.now()
    const answers: Answer[] = []
    const ptr = (peerId: string, ttl: number): Answer => ({
      name: this.serviceTag,
      type: 'PTR',
      class: 'IN',
      ttl,
      data: instanceName(peerId, this.serviceTag)
    })
    if (this.broadcasting) answers.push(ptr(this.self, SHARED_TTL))
    for (const [peerId, k] of this.known) {
      if (answers.length >= MAX_KNOWN_ANSWERS) break
      const left = Math.floor((k.expires - now) / 1000)
      if (left > k.ttl / 2) answers.push(ptr(peerId, left))
    }
    return answers
  }

  private onResponse(packet: Packet, _rinfo: RemoteInfo): void {
    const now = Date.now()
    for (const found of readResponse(packet, this.serviceTag)) {
      if (found.peerId === this.self) continue
      if (found.ttl === 0) {
        this.known.delete(found.peerId)
        this.log('%s said goodbye', found.peerId)
        continue
      }
      this.known.delete(found.peerId) // re-inserted last: the map stays in order of last sighting
      this.known.set(found.peerId, { expires: now + found.ttl * 1000, ttl: found.ttl })
      if (this.known.size > MAX_KNOWN) this.known.delete(this.known.keys().next().value ?? '')
      if (found.multiaddrs.length === 0) continue
      this.log('found %s at %s', found.peerId, found.multiaddrs.map((a) => a.toString()).join(' '))
      this.safeDispatchEvent('peer', { detail: { id: peerIdFromString(found.peerId), multiaddrs: found.multiaddrs } })
    }
  }

  // ---- answering ----------------------------------------------------------------------------------------------

  private onQuery(packet: Packet, rinfo: RemoteInfo): void {
    if (!this.broadcasting || this.mdns == null) return
    const self = this.selfRecord(rinfo.address)
    if (self.addrs.length === 0) return
    const instance = instanceName(this.self, this.serviceTag)
    const host = hostName(this.self)
    const is = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
    const answers: Answer[] = []
    let additionals: Answer[] = []
    let service = false
    for (const q of packet.questions ?? []) {
      const any = (q.type as string) === 'ANY'
      if (is(q.name, this.serviceTag) && (q.type === 'PTR' || any)) service = true
      else if (is(q.name, SERVICES_ENUM) && (q.type === 'PTR' || any)) {
        answers.push({ name: SERVICES_ENUM, type: 'PTR', class: 'IN', ttl: SHARED_TTL, data: this.serviceTag })
      } else if (is(q.name, instance) && (q.type === 'SRV' || q.type === 'TXT' || any)) {
        const full = serviceAnswer(self, this.serviceTag).additionals
        answers.push(...full.filter((r) => r.name === instance && (any || r.type === q.type)))
        if (q.type !== 'TXT') additionals = full.filter((r) => r.type === 'A')
      } else if (is(q.name, host) && (q.type === 'A' || any)) answers.push(...hostAnswers(self))
    }
    // Known-answer suppression (§7.1): the asker already holds our PTR record with at least half its TTL.
    const knows = (packet.answers ?? []).some(
      (a) => a.type === 'PTR' && is(a.name, this.serviceTag) && is(String(a.data), instance) && ttlOf(a) >= SHARED_TTL / 2
    )
    if (service && !knows) {
      const full = serviceAnswer(self, this.serviceTag)
      answers.push(...full.answers)
      additionals = full.additionals
    }
    if (answers.length === 0) return
    if (rinfo.port !== MDNS_PORT) {
      // A legacy unicast query (§6.7): answered to its sender, with its id and question, short TTLs.
      const short = (r: Answer) => ({ ...r, ttl: Math.min(ttlOf(r), 10) }) as Answer
      this.mdns.respond(
        { id: packet.id, questions: packet.questions, answers: answers.map(short), additionals: additionals.map(short) },
        { port: rinfo.port, address: rinfo.address },
        () => {}
      )
      return
    }
    this.multicast({ answers, additionals }, rinfo)
  }

  /**
   * Multicast a response, at most once a second (§6). Within that second, an answer to a query goes to the asker
   * alone (unicast to its port 5353: everyone else heard our last multicast less than a second ago), so that a node
   * that joins among many still hears everyone at once; an announcement waits until the second is over.
   */
  private multicast(response: Response, asker?: RemoteInfo): void {
    const wait = this.lastMulticast + MIN_MULTICAST_GAP_MS - Date.now()
    if (wait > 0 && asker != null) {
      this.mdns?.respond(response, { address: asker.address, port: asker.port }, () => {})
      return
    }
    if (wait > 0) {
      this.pending = this.pending == null ? response : merge(this.pending, response)
      this.answerTimer ??= setTimeout(() => {
        this.answerTimer = undefined
        const next = this.pending
        this.pending = undefined
        if (next != null) this.multicast(next)
      }, wait)
      this.answerTimer.unref()
      return
    }
    this.lastMulticast = Date.now()
    this.mdns?.respond(response, undefined, () => {})
  }

  /**
   * Unsolicited announcements (§8.3): now and a second later. Until the node listens (libp2p starts its transports
   * after its services) there is nothing to announce: try again every 200 ms, for up to 10 s.
   */
  private announce(): void {
    if (!this.broadcasting) return
    clearTimeout(this.announceTimer)
    let sent = 0
    let tries = 0
    const step = () => {
      if (!this.broadcasting || this.mdns == null) return
      const self = this.selfRecord()
      if (self.addrs.length > 0) {
        this.multicast(serviceAnswer(self, this.serviceTag))
        sent++
      } else if (++tries > ANNOUNCE_TRIES) return
      if (sent >= 2) return
      this.announceTimer = setTimeout(step, sent === 0 ? ANNOUNCE_RETRY_MS : MIN_MULTICAST_GAP_MS)
      this.announceTimer.unref()
    }
    step()
  }

  /** Our records with TTL 0 (§10.1), so that others forget us now rather than in 75 minutes. */
  private async goodbye(): Promise<void> {
    const mdns = this.mdns
    // While libp2p stops, the transports may have closed already: say goodbye with what was last advertised.
    const now = this.selfRecord()
    const self = now.addrs.length > 0 ? now : this.lastSelf
    if (mdns == null || self.addrs.length === 0) return
    clearTimeout(this.announceTimer)
    clearTimeout(this.answerTimer)
    this.answerTimer = undefined
    this.pending = undefined
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000)
      mdns.respond(serviceAnswer(self, this.serviceTag, { goodbye: true }), undefined, () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /**
   * What we advertise to an asker at `querier` (an IPv4 address; none for announcements): our TCP addresses on
   * the asker's subnet if we have some there, else all. Loopback only to an asker on loopback (this machine),
   * or when we have nothing else; IPv6 link-local never (it is useless without its zone).
   */
  private selfRecord(querier?: string): SelfRecord {
    const all = this.components.addressManager.getAddresses().filter((a) => {
      const parts = a.getComponents()
      const ip6 = parts.find((c) => c.name === 'ip6')?.value
      return parts.some((c) => c.name === 'tcp') && !(ip6 != null && /^fe[89ab]/i.test(ip6))
    })
    const ipOf = (a: Multiaddr) => a.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value ?? ''
    const loopback = (a: Multiaddr) => /^127\./.test(ipOf(a)) || ipOf(a) === '::1'
    const lan = all.filter((a) => !loopback(a))
    if (querier != null && /^127\./.test(querier)) return { peerId: this.self, addrs: all.filter(loopback) }
    if (querier != null) {
      const subnets = Object.values(networkInterfaces())
        .flat()
        .filter((i) => i != null && i.family === 'IPv4' && sameSubnet(querier, i.address, i.netmask))
        .map((i) => i?.address)
      const near = lan.filter((a) => subnets.includes(ipOf(a)))
      if (near.length > 0) return { peerId: this.self, addrs: near }
    }
    const self = { peerId: this.self, addrs: lan.length > 0 ? lan : all }
    if (self.addrs.length > 0) this.lastSelf = self
    return self
  }

  /** A changed network (an interface or address came or went): ask again at once, and announce. */
  private checkNetwork(): void {
    const now = signature()
    if (now === this.networkSignature) return
    this.networkSignature = now
    this.log('network changed: querying and announcing again')
    ;(this.mdns as unknown as { update?: () => void } | undefined)?.update?.()
    this.restartQueries()
    this.announce()
  }
}

/** Two responses as one, each record once. */
function merge(a: Response, b: Response): Response {
  const key = (r: Answer) => `${r.name.toLowerCase()} ${r.type} ${JSON.stringify((r as { data?: unknown }).data)}`
  const unique = (list: Answer[]) => [...new Map(list.map((r) => [key(r), r])).values()]
  const answers = unique([...a.answers, ...b.answers])
  const inAnswers = new Set(answers.map(key))
  const additionals = unique([...a.additionals, ...b.additionals]).filter((r) => !inAnswers.has(key(r)))
  return { answers, additionals }
}

/** The machine's non-internal addresses, as one string to compare. */
function signature(): string {
  return Object.entries(networkInterfaces())
    .flatMap(([name, list]) => (list ?? []).filter((i) => !i.internal).map((i) => `${name}/${i.address}`))
    .sort()
    .join(' ')
}

/** A libp2p service factory. */
export function mdnsDiscovery(init: MdnsInit = {}): (components: MdnsComponents) => MdnsDiscovery {
  return (components) => new MdnsDiscovery(components, init)
}
