/**
 * Invites: one pasteable string that says who we are and everywhere we can be reached (LAN addresses and circuit
 * addresses through our relays), for a friend to give to `p2pnode dial` or the web app's dial box. The string is
 * `p2pnode-invite:` and base64url of a small JSON object; it carries nothing secret (a peer id and addresses are
 * what identify gives any peer that connects).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, P2pError } from '../errors.ts'
import { sanitizeName } from '../protocols/chat/frames.ts'
import { parseMultiaddr, peerIdOf, withoutPeerId } from './peer-ref.ts'

export const INVITE_PREFIX = 'p2pnode-invite:'
/** Longest invite accepted: a few dozen addresses fit; anything longer is not one of ours. */
const MAX_INVITE_CHARS = 8192
/** Addresses kept from an invite at most. */
const MAX_INVITE_ADDRS = 24
const MAX_ADDR_CHARS = 512

export interface Invite {
  peerId: string
  name: string
  /** Without the /p2p/<peerId> part at the end. */
  addrs: string[]
}

interface InviteJson {
  v: 1
  id: string
  name: string
  addrs: string[]
}

export function isInvite(text: string): boolean {
  return text.trim().startsWith(INVITE_PREFIX)
}

/** Whether an address is worth giving to someone on another machine (not loopback, not a wildcard). */
function shareable(ma: Multiaddr): boolean {
  const host = ma.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
  if (host == null) return true
  return !/^127\./.test(host) && host !== '::1' && host !== '0.0.0.0' && host !== '::'
}

/** The invite string, and the addresses in it. */
export function encodeInvite(invite: { peerId: string; name: string; addrs: Multiaddr[] }): {
  invite: string
  addrs: string[]
} {
  // A node that listens on loopback only (tests, a second node on this machine) has nothing better to give.
  const shared = invite.addrs.some(shareable) ? invite.addrs.filter(shareable) : invite.addrs
  const addrs = [
    ...new Set(
      shared
        .map((a) => withoutPeerId(a).toString())
        // Circuit addresses last: a friend on the same LAN goes direct first.
        .sort((a, b) => Number(a.includes('/p2p-circuit')) - Number(b.includes('/p2p-circuit')))
    )
  ].slice(0, MAX_INVITE_ADDRS)
  const json: InviteJson = { v: 1, id: invite.peerId, name: invite.name, addrs }
  return { invite: INVITE_PREFIX + Buffer.from(JSON.stringify(json)).toString('base64url'), addrs }
}

/** Read an invite, or throw INVALID_ARGUMENT saying what is wrong with it. */
export function decodeInvite(text: string): Invite {
  const bad = (why: string) =>
    new P2pError(ErrorCode.INVALID_ARGUMENT, `that is not a usable invite: ${why}`, {
      hint: 'copy the whole line that p2pnode invite printed on the other node (it starts with p2pnode-invite:)'
    })
  const body = text.trim().slice(INVITE_PREFIX.length)
  if (body.length > MAX_INVITE_CHARS) throw bad('it is too long')
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw bad('it has characters an invite never has (cut or wrapped?)')
  let json: Partial<InviteJson>
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<InviteJson>
  } catch {
    throw bad('it does not decode (cut short?)')
  }
  if (json == null || typeof json !== 'object' || json.v !== 1) throw bad('unknown invite version')
  if (typeof json.id !== 'string') throw bad('no peer id')
  let peerId: string
  try {
    peerId = peerIdFromString(json.id).toString()
  } catch {
    throw bad('its peer id is malformed')
  }
  if (!Array.isArray(json.addrs) || json.addrs.length === 0) throw bad('it has no addresses')
  const addrs: string[] = []
  for (const a of json.addrs.slice(0, MAX_INVITE_ADDRS)) {
    if (typeof a !== 'string' || a.length > MAX_ADDR_CHARS) continue
    let ma: Multiaddr
    try {
      ma = parseMultiaddr(a)
    } catch {
      continue
    }
    // An address that names another peer at its end is not this peer's.
    const last = peerIdOf(ma)
    if (last != null && last !== peerId) continue
    addrs.push(withoutPeerId(ma).toString())
  }
  if (addrs.length === 0) throw bad('none of its addresses is valid')
  const name = typeof json.name === 'string' ? sanitizeName(json.name).slice(0, 64) : ''
  return { peerId, name, addrs }
}
