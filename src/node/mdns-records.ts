/**
 * p2pnode's mDNS records (RFC 6762 / RFC 6763 DNS-SD), built and read. What a node answers for
 * `_p2pnode._udp.local`:
 *
 * ```
 * answers:      PTR  _p2pnode._udp.local            → <peer id>._p2pnode._udp.local   (shared, TTL 4500 s)
 * additionals:  SRV  <peer id>._p2pnode._udp.local  → 0 0 <tcp port> p2pnode-<id tail>.local   (unique, 120 s)
 *               TXT  <peer id>._p2pnode._udp.local  → "dnsaddr=/ip4/…/tcp/…/p2p/<peer id>" …   (unique, 4500 s)
 *               A    p2pnode-<id tail>.local        → each advertised IPv4 address        (unique, 120 s)
 * ```
 *
 * One TXT record holds every address (one string each), and the whole answer is kept within one unfragmented
 * packet (addresses that do not fit are left out). The TXT strings are what @libp2p/mdns (p2pnode 0.1) reads.
 */
import { isIPv4 } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Answer, Packet } from 'dns-packet'
import dnsPacket from 'dns-packet'

/** RFC 6762 §10: 75 minutes for records that do not name a host, 120 s for those that do. */
export const SHARED_TTL = 4500
export const HOST_TTL = 120
/** Largest packet we send: an Ethernet MTU less IP and UDP headers, so it is never fragmented (RFC 6762 §17). */
export const MAX_PACKET_BYTES = 1400
/** Instances read from one packet at most (anyone can send a packet full of them). */
export const MAX_INSTANCES_PER_PACKET = 32
/** Addresses read per instance at most. */
const MAX_ADDRS_PER_INSTANCE = 16
const DNSADDR = 'dnsaddr='

/** A response's records. */
export interface Response {
  answers: Answer[]
  additionals: Answer[]
}

/** A record's TTL in seconds (0 when absent). */
export const ttlOf = (r: Answer): number => (r as { ttl?: number }).ttl ?? 0

/** What we advertise about ourselves. */
export interface SelfRecord {
  peerId: string
  /** Multiaddrs with /p2p/<peerId>, best first. */
  addrs: Multiaddr[]
}

/** A peer read from a response. */
export interface FoundInstance {
  peerId: string
  /** Without /p2p/. */
  multiaddrs: Multiaddr[]
  /** Seconds, from the PTR record; 0 is a goodbye. */
  ttl: number
}

export const instanceName = (peerId: string, serviceTag: string) => `${peerId}.${serviceTag}`
/** A host name of our own (SRV target), from the peer id: lower case, as DNS names compare without case. */
export const hostName = (peerId: string) => `p2pnode-${peerId.slice(-12).toLowerCase()}.local`

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

function ip4Of(ma: Multiaddr): string | undefined {
  return ma.getComponents().find((c) => c.name === 'ip4')?.value
}

function tcpPortOf(ma: Multiaddr): number | undefined {
  const port = Number(ma.getComponents().find((c) => c.name === 'tcp')?.value)
  return Number.isInteger(port) && port > 0 ? port : undefined
}

/** The records that answer a PTR query for the service (or announce us); `ttl: 0` says goodbye. */
export function serviceAnswer(self: SelfRecord, serviceTag: string, options: { goodbye?: boolean } = {}): Response {
  const ttl = (t: number) => (options.goodbye === true ? 0 : t)
  const instance = instanceName(self.peerId, serviceTag)
  const host = hostName(self.peerId)
  const build = (addrs: Multiaddr[]) => {
    const port = addrs.map(tcpPortOf).find((p) => p != null) ?? 0
    const ip4s = [...new Set(addrs.map(ip4Of).filter((ip): ip is string => ip != null))]
    const answers: Answer[] = [{ name: serviceTag, type: 'PTR', class: 'IN', ttl: ttl(SHARED_TTL), data: instance }]
    const additionals: Answer[] = [
      {
        name: instance,
        type: 'SRV',
        class: 'IN',
        flush: true,
        ttl: ttl(HOST_TTL),
        data: { priority: 0, weight: 0, port, target: host }
      },
      {
        name: instance,
        type: 'TXT',
        class: 'IN',
        flush: true,
        ttl: ttl(SHARED_TTL),
        data: addrs.map((a) => `${DNSADDR}${a.toString()}`).filter((s) => Buffer.byteLength(s) <= 255)
      },
      ...ip4s.map((ip): Answer => ({ name: host, type: 'A', class: 'IN', flush: true, ttl: ttl(HOST_TTL), data: ip }))
    ]
    return { answers, additionals }
  }
  let addrs = self.addrs
  let packet = build(addrs)
  while (addrs.length > 1 && packetBytes(packet) > MAX_PACKET_BYTES) {
    addrs = addrs.slice(0, -1)
    packet = build(addrs)
  }
  return packet
}

/** The A records of our host name (for a query that resolves the SRV target). */
export function hostAnswers(self: SelfRecord): Answer[] {
  const ip4s = [...new Set(self.addrs.map(ip4Of).filter((ip): ip is string => ip != null))]
  return ip4s.map((ip) => ({ name: hostName(self.peerId), type: 'A', class: 'IN', flush: true, ttl: HOST_TTL, data: ip }))
}

export function packetBytes(packet: Pick<Packet, 'answers' | 'additionals' | 'questions'>): number {
  return dnsPacket.encodingLength({ type: 'response', ...packet })
}

function txtStrings(answer: Answer): string[] {
  const data = (answer as { data?: unknown }).data
  const list = Array.isArray(data) ? data : [data]
  return list.flatMap((d) => (typeof d === 'string' ? [d] : d instanceof Uint8Array ? [Buffer.from(d).toString()] : []))
}

function peerIdOfInstance(instance: string, serviceTag: string): string | undefined {
  const label = instance.slice(0, instance.length - serviceTag.length - 1)
  try {
    return peerIdFromString(label).toString()
  } catch {
    return undefined // p2pnode 0.1 (@libp2p/mdns) names its instance with a random string
  }
}

/**
 * Every instance of the service in a response, each with its own addresses (from its own TXT record: an answer
 * carrying several instances yields each one with its own). Addresses whose /p2p/ part names another peer than
 * the instance are dropped.
 */
export function readResponse(packet: Packet, serviceTag: string): FoundInstance[] {
  const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])]
  const ptrs = records.filter(
    (r): r is Answer & { data: string } => r.type === 'PTR' && sameName(r.name, serviceTag) && typeof r.data === 'string'
  )
  const found: FoundInstance[] = []
  const seen = new Set<string>()
  for (const ptr of ptrs.slice(0, MAX_INSTANCES_PER_PACKET)) {
    const instance = ptr.data
    if (seen.has(instance.toLowerCase()) || !instance.toLowerCase().endsWith(`.${serviceTag.toLowerCase()}`)) continue
    seen.add(instance.toLowerCase())
    const named = peerIdOfInstance(instance, serviceTag)
    const addrs: Multiaddr[] = []
    for (const txt of records.filter((r) => r.type === 'TXT' && sameName(r.name, instance))) {
      for (const s of txtStrings(txt)) {
        if (!s.startsWith(DNSADDR)) continue
        try {
          addrs.push(multiaddr(s.slice(DNSADDR.length)))
        } catch {
          // not a multiaddr: skip it
        }
      }
    }
    const ids = addrs.map((a) => a.getComponents().findLast((c) => c.name === 'p2p')?.value)
    const peerId = named ?? ids.find((id) => id != null)
    if (peerId == null) continue
    const multiaddrs = addrs
      .filter((_, i) => ids[i] === peerId)
      .slice(0, MAX_ADDRS_PER_INSTANCE)
      .map((a) => multiaddr(a.getComponents().filter((c) => c.name !== 'p2p')))
    found.push({ peerId, multiaddrs, ttl: ttlOf(ptr) })
  }
  return found
}

/** Whether `ip` (IPv4) is in the subnet of `address`/`netmask`. */
export function sameSubnet(ip: string, address: string, netmask: string): boolean {
  if (!isIPv4(ip) || !isIPv4(address) || !isIPv4(netmask)) return false
  const n = (s: string) => s.split('.').reduce((acc, p) => (acc << 8) | Number(p), 0) >>> 0
  return ((n(ip) & n(netmask)) >>> 0) === ((n(address) & n(netmask)) >>> 0)
}
