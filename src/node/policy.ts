import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { PeerRecord } from '../store/index.ts'
import type { MdnsMode } from './discovery.ts'

/**
 * Who may be seen and reached.
 * - `everyone`: answer mDNS, accept anyone not blocked (default).
 * - `contacts`: do not answer mDNS; connect (both ways) only with contacts.
 * - `hidden`: no mDNS at all (silent on the LAN), accept no connection, dial nobody: messages wait until you switch
 *   back.
 */
export type Visibility = 'everyone' | 'contacts' | 'hidden'

export const VISIBILITIES: readonly Visibility[] = ['everyone', 'contacts', 'hidden']

export function isVisibility(value: unknown): value is Visibility {
  return typeof value === 'string' && (VISIBILITIES as readonly string[]).includes(value)
}

/**
 * The node's connection policy, kept in memory (from the peer book) so that the connection gater can answer
 * synchronously on every connection. Changes apply to new connections at once; the node closes existing ones.
 */
export class Policy {
  visibility: Visibility
  private readonly contacts = new Set<string>()
  private readonly blocked = new Set<string>()
  private readonly muted = new Set<string>()
  /**
   * Mailbox nodes (ours, and those our contacts told us): reachable in `contacts` visibility too, since messages
   * to and from contacts go through them.
   */
  readonly services = new Set<string>()

  constructor(visibility: Visibility = 'everyone') {
    this.visibility = visibility
  }

  /** Take a peer record's contact/blocked/muted state. */
  apply(record: Pick<PeerRecord, 'peerId' | 'contact' | 'blocked' | 'muted'>): void {
    const set = (s: Set<string>, on: boolean) => (on ? s.add(record.peerId) : s.delete(record.peerId))
    set(this.contacts, record.contact)
    set(this.blocked, record.blocked)
    set(this.muted, record.muted)
  }

  isBlocked(peerId: string): boolean {
    return this.blocked.has(peerId)
  }

  isMuted(peerId: string): boolean {
    return this.muted.has(peerId)
  }

  isContact(peerId: string): boolean {
    return this.contacts.has(peerId)
  }

  /** May we be connected to this peer now (either direction)? */
  allows(peerId: string): boolean {
    if (this.blocked.has(peerId)) return false
    if (this.visibility === 'hidden') return false
    if (this.visibility === 'contacts') return this.contacts.has(peerId) || this.services.has(peerId)
    return true
  }

  /** What mDNS does: silent when hidden, asking only when contacts-only (strangers never hear of us), else both. */
  get mdnsMode(): MdnsMode {
    return this.visibility === 'hidden' ? 'off' : this.visibility === 'contacts' ? 'ask' : 'ask-and-answer'
  }

  /** The libp2p connection gater that enforces this policy, inbound and outbound. */
  gater(): ConnectionGater {
    const deny = (peerId: PeerId) => !this.allows(peerId.toString())
    return {
      denyDialPeer: deny,
      denyDialMultiaddr: () => this.visibility === 'hidden',
      denyInboundConnection: () => this.visibility === 'hidden',
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
      denyInboundUpgradedConnection: deny,
      denyOutboundUpgradedConnection: deny
    }
  }
}
