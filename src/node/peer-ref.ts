import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, P2pError } from '../errors.ts'

const P2P = 'p2p'

/** Parse a multiaddr string, or throw INVALID_MULTIADDR with an example. */
export function parseMultiaddr(text: string): Multiaddr {
  try {
    return multiaddr(text.trim())
  } catch (err) {
    throw new P2pError(ErrorCode.INVALID_MULTIADDR, `"${text}" is not a valid multiaddr`, {
      hint: 'a multiaddr looks like /ip4/192.168.1.20/tcp/4001/p2p/12D3KooW... (see p2pnode id on the other node)',
      cause: err
    })
  }
}

/**
 * The peer id in a multiaddr's final /p2p/ part, if any. Only the final one names the peer: in a circuit address
 * (`/ip4/…/p2p/RELAY/p2p-circuit/p2p/PEER`) the first one is the relay's.
 */
export function peerIdOf(addr: Multiaddr): string | undefined {
  const components = addr.getComponents()
  const last = components[components.length - 1]
  return last?.name === P2P ? last.value : undefined
}

/** The multiaddr without its final /p2p/ part (what we store and dial as an address); a relay's stays. */
export function withoutPeerId(addr: Multiaddr): Multiaddr {
  const components = addr.getComponents()
  return components[components.length - 1]?.name === P2P ? multiaddr(components.slice(0, -1)) : addr
}

/** Whether an address goes through a relay (a circuit address). */
export function isCircuit(addr: Multiaddr): boolean {
  return addr.getComponents().some((c) => c.name === 'p2p-circuit')
}

export function isPeerId(text: string): boolean {
  try {
    peerIdFromString(text)
    return true
  } catch {
    return false
  }
}

export interface KnownPeer {
  peerId: string
  name: string
  /**
   * Whose name it is, lower first: a name we gave (a contact's local name) before a contact's own, before a
   * stranger's self-chosen name, so that a stranger cannot take a contact's name. @default 0
   */
  rank?: number
}

/** Ranks of KnownPeer names. */
export const NAME_RANK = { LOCAL: 0, CONTACT: 1, STRANGER: 2 } as const

const PEER_ID_SHAPE = /^(12D3KooW|16Uiu2HAm|Qm)[1-9A-HJ-NP-Za-km-z]+$/

/** Shortest peer-id prefix we accept in place of a whole id. */
const MIN_PREFIX = 8

/**
 * Find the one known peer meant by `ref`: an exact display name, else a case-insensitive one, else a unique peer-id
 * prefix. Within each of these, names of a lower rank win (see KnownPeer.rank): only peers of the best rank that
 * matches can make `ref` ambiguous. Throws PEER_NOT_FOUND or PEER_AMBIGUOUS (with the candidates in `details`).
 */
export function matchPeerName(ref: string, known: KnownPeer[]): string {
  const byPrefix = (p: KnownPeer) => ref.length >= MIN_PREFIX && p.peerId.startsWith(ref)
  const byName = (p: KnownPeer) => p.name !== '' && p.name === ref
  const byNameAnyCase = (p: KnownPeer) => p.name !== '' && p.name.toLowerCase() === ref.toLowerCase()
  // Something shaped like a peer id is a peer id first: a stranger cannot capture it by taking it as its name.
  const tries = PEER_ID_SHAPE.test(ref) ? [byPrefix, byName, byNameAnyCase] : [byName, byNameAnyCase, byPrefix]
  for (const test of tries) {
    const matching = known.filter(test)
    const best = Math.min(...matching.map((p) => p.rank ?? 0))
    const hits = [...new Map(matching.filter((p) => (p.rank ?? 0) === best).map((p) => [p.peerId, p])).values()]
    if (hits.length === 1) return hits[0].peerId
    if (hits.length > 1) {
      throw new P2pError(
        ErrorCode.PEER_AMBIGUOUS,
        `"${ref}" matches ${hits.length} peers: ${hits.map((p) => `${p.name || '(no name)'} ${p.peerId}`).join(', ')}`,
        {
          hint: test === byPrefix ? 'type more characters of the peer id' : 'use the peer id instead of the name',
          details: hits.map((p) => ({ peerId: p.peerId, name: p.name }))
        }
      )
    }
  }
  // Each peer once, under the first name it is known by (a contact answers to our name and to its own).
  const seen = new Set<string>()
  const named = known.filter((p) => p.name !== '' && !seen.has(p.peerId) && seen.add(p.peerId) != null)
  const names = named.map((p) => p.name)
  throw new P2pError(
    ErrorCode.PEER_NOT_FOUND,
    `no known peer is called "${ref}"${names.length > 0 ? ` (known: ${names.join(', ')})` : ''}`,
    {
      hint: 'list peers with: p2pnode peers — or use a peer id or a multiaddr',
      details: named.map((p) => ({ peerId: p.peerId, name: p.name }))
    }
  )
}
