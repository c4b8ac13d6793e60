/**
 * Invites: one pasteable string that says who we are and everywhere we can be reached (LAN addresses and circuit
 * addresses through our relays), for a friend to give to `p2pnode dial` or the web app's dial box. The string is
 * `p2pnode-invite:` and base64url of a small JSON object; it carries nothing secret (a peer id and addresses are
 * what identify gives any peer that connects). With a mailbox set, it also names that mailbox (its peer id and
 * addresses), so that a friend who is never online with us can leave messages there from the start.
 *
 * Still version 1 with the mailbox in it: the field is optional and a decoder that does not know it ignores it
 * (JSON.parse keeps it, nothing reads it), so an older node still dials the invite; a version 2 would make it refuse.
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
/** Mailbox addresses kept from an invite at most (as many as a chat greeting may carry). */
const MAX_MAILBOX_ADDRS = 8

/** A mailbox named in an invite: its peer id and addresses (without a /p2p/<its id> part). */
export interface InviteMailbox {
  peerId: string
  addrs: string[]
}

export interface Invite {
  peerId: string
  name: string
  /** Without the /p2p/<peerId> part at the end. */
  addrs: string[]
  /** The peer's mailbox, when its invite names one (and names it well: anything malformed there is ignored). */
  mailbox?: InviteMailbox
}

interface InviteJson {
  v: 1
  id: string
  name: string
  addrs: string[]
  /** Added after the first invites: optional, ignored by nodes that do not know it. */
  mailbox?: { id: string; addrs: string[] }
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

/**
 * The addresses worth giving, without their /p2p/ part, circuit ones last, at most `max`. A node that listens on
 * loopback only (tests, a second node on this machine) has nothing better to give.
 */
function shareableAddrs(all: Multiaddr[], max: number): string[] {
  const shared = all.some(shareable) ? all.filter(shareable) : all
  return [
    ...new Set(
      shared
        .map((a) => withoutPeerId(a).toString())
        .filter((a) => a.length <= MAX_ADDR_CHARS)
        // Circuit addresses last: a friend on the same LAN goes direct first.
        .sort((a, b) => Number(a.includes('/p2p-circuit')) - Number(b.includes('/p2p-circuit')))
    )
  ].slice(0, max)
}

/** The invite string, and what is in it (the mailbox only if it has an address worth giving). */
export function encodeInvite(invite: {
  peerId: string
  name: string
  addrs: Multiaddr[]
  /** Our mailbox as we keep it (its addresses as strings; any that does not parse is left out). */
  mailbox?: { peerId: string; addrs: string[] }
}): { invite: string; addrs: string[]; mailbox?: InviteMailbox } {
  const addrs = shareableAddrs(invite.addrs, MAX_INVITE_ADDRS)
  const json: InviteJson = { v: 1, id: invite.peerId, name: invite.name, addrs }
  let mailbox: InviteMailbox | undefined
  if (invite.mailbox != null) {
    const parsed = invite.mailbox.addrs.flatMap((a) => {
      try {
        return [parseMultiaddr(a)]
      } catch {
        return []
      }
    })
    const mailboxAddrs = shareableAddrs(parsed, MAX_MAILBOX_ADDRS)
    if (mailboxAddrs.length > 0) {
      mailbox = { peerId: invite.mailbox.peerId, addrs: mailboxAddrs }
      json.mailbox = { id: mailbox.peerId, addrs: mailboxAddrs }
    }
  }
  return {
    invite: INVITE_PREFIX + Buffer.from(JSON.stringify(json)).toString('base64url'),
    addrs,
    ...(mailbox != null ? { mailbox } : {})
  }
}

/** The addresses in `list` that parse and are `peerId`'s (none names another peer at its end), without /p2p/. */
function addrsOf(list: unknown[], peerId: string): string[] {
  const addrs: string[] = []
  for (const a of list) {
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
  return addrs
}

/**
 * The mailbox an invite names, if it names one well: a peer id (not the inviter's own) and at least one valid
 * address. Anything else is ignored: the rest of the invite is still good.
 */
function mailboxOf(field: unknown, peerId: string): InviteMailbox | undefined {
  if (field == null || typeof field !== 'object') return undefined
  const { id, addrs } = field as { id?: unknown; addrs?: unknown }
  if (typeof id !== 'string' || id.length > 128 || !Array.isArray(addrs)) return undefined
  let mailbox: string
  try {
    mailbox = peerIdFromString(id).toString()
  } catch {
    return undefined
  }
  if (mailbox === peerId) return undefined
  const valid = addrsOf(addrs.slice(0, MAX_MAILBOX_ADDRS), mailbox)
  return valid.length > 0 ? { peerId: mailbox, addrs: valid } : undefined
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
  const addrs = addrsOf(json.addrs.slice(0, MAX_INVITE_ADDRS), peerId)
  if (addrs.length === 0) throw bad('none of its addresses is valid')
  const name = typeof json.name === 'string' ? sanitizeName(json.name).slice(0, 64) : ''
  const mailbox = mailboxOf(json.mailbox, peerId)
  return { peerId, name, addrs, ...(mailbox != null ? { mailbox } : {}) }
}
