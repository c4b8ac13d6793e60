import { createHmac, randomBytes } from 'node:crypto'

/** What the scrubber replaces in message text, in the order it looks for them. */
export const PLACEHOLDERS = {
  multiaddr: '[MULTIADDR]',
  url: '[URL]',
  email: '[EMAIL]',
  peerId: '[PEER_ID]',
  ip: '[IP]',
  phone: '[PHONE]',
  name: '[NAME]'
} as const

export type ScrubKind = keyof typeof PLACEHOLDERS

const PATTERNS: Array<[ScrubKind, RegExp]> = [
  [
    'multiaddr',
    /\/(?:ip4|ip6|ip6zone|dns|dns4|dns6|dnsaddr|tcp|udp|p2p|ipfs|quic|quic-v1|ws|wss|webrtc|webtransport|unix|p2p-circuit)\/\S+/gi
  ],
  ['url', /\b(?:https?|ftp|wss?|file):\/\/\S+|\bwww\.[^\s/]+\.\S+/gi],
  ['email', /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}/gu],
  ['peerId', /\b(?:12D3KooW|16Uiu2HAm)[1-9A-HJ-NP-Za-km-z]{30,}|\bQm[1-9A-HJ-NP-Za-km-z]{44}\b/g],
  [
    'ip',
    // IPv4; IPv6 with 8 groups, or compressed with `::` (fe80::1, ::1, 2001:db8::8a2e:370:7334), optional zone
    /\b(?:\d{1,3}\.){3}\d{1,3}\b|(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?(?:%\w+)?(?![\w:])/gi
  ],
  // 7+ digits with the usual separators; dates and long numbers go too: over-removal is the safe side.
  ['phone', /(?<![\p{L}\p{N}])\+?\(?\d(?:[\d\s().-]{5,}\d)(?![\p{L}\p{N}])/gu]
]

/**
 * Replaces personal data in text with placeholders and peers with pseudonyms. The pseudonym key is a fresh random
 * salt per instance (per export), so two exports cannot be joined on pseudonyms or ids.
 */
export class Anonymizer {
  readonly counts: Record<ScrubKind, number> = { multiaddr: 0, url: 0, email: 0, peerId: 0, ip: 0, phone: 0, name: 0 }
  private readonly salt = randomBytes(32)
  private readonly names: RegExp | undefined

  /** `names`: display names to remove from text (ours, peers', local names). */
  constructor(names: string[]) {
    // Whole names, and each word of 3+ letters of a name ("Alice Martin" also removes "Alice" and "Martin").
    const parts = names.flatMap((n) => [n, ...n.split(/[^\p{L}\p{N}]+/u).filter((w) => w.length >= 3)])
    const words = [...new Set(parts.map((n) => n.trim()).filter((n) => n.length >= 2))]
      .sort((a, b) => b.length - a.length)
      .map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    this.names = words.length > 0 ? new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.join('|')})(?![\\p{L}\\p{N}])`, 'giu') : undefined
  }

  /** A stable pseudonym for a peer within this export. */
  peer(peerId: string): string {
    return `peer-${this.hmac(`peer:${peerId}`).slice(0, 12)}`
  }

  /** A stable replacement for a message id within this export. */
  id(id: string): string {
    return this.hmac(`id:${id}`).slice(0, 32)
  }

  /** Round down to the hour. */
  time(ms: number): number {
    return Math.floor(ms / 3_600_000) * 3_600_000
  }

  text(text: string): string {
    let out = text
    for (const [kind, re] of PATTERNS) out = this.replace(out, re, kind)
    if (this.names != null) out = this.replace(out, this.names, 'name')
    return out
  }

  private replace(text: string, re: RegExp, kind: ScrubKind): string {
    return text.replace(re, () => {
      this.counts[kind]++
      return PLACEHOLDERS[kind]
    })
  }

  private hmac(value: string): string {
    return createHmac('sha256', this.salt).update(value).digest('hex')
  }
}
