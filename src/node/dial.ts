/**
 * Dialling an address the user typed: for real (never "already connected" because the peer once told us that
 * address), with the identity checked (an address that answers as another peer is said so, not stored), and
 * with failures explained.
 */
import type { Connection, Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, P2pError } from '../errors.ts'
import { isCircuit, peerIdOf, withoutPeerId } from './peer-ref.ts'

const DIAL_TIMEOUT_MS = 10_000

export interface DialedAddress {
  conn: Connection
  peerId: string
}

/** Thrown (code DIAL_FAILED) when the address answered as a peer other than the one in its /p2p/ part. */
export class WrongPeerError extends P2pError {
  override name = 'WrongPeerError'
  readonly answered: string

  constructor(addr: string, expected: string, answered: string) {
    super(ErrorCode.DIAL_FAILED, `${addr} is not ${expected}'s address: the node there is ${answered}`, {
      hint: 'check the address and the peer id (p2pnode id on the other node prints both)'
    })
    this.answered = answered
  }
}

/** Whether `ma` is an IPv6 link-local address (fe80::/10), which needs its interface to be dialled. */
function isLinkLocal6(ma: Multiaddr): boolean {
  const ip6 = ma.getComponents().find((c) => c.name === 'ip6')?.value
  return ip6 != null && /^fe[89ab][0-9a-f]?:/i.test(ip6)
}

/** What to tell the user about a dial to `ma` that failed. */
export function dialHint(ma: Multiaddr): string {
  const names = ma.getComponents().map((c) => c.name)
  if (isLinkLocal6(ma) && !names.includes('ip6zone')) {
    return 'a link-local IPv6 address (fe80::…) needs its interface: /ip6zone/eth0/ip6/fe80::…/tcp/PORT/p2p/ID'
  }
  if (names.includes('dns6')) return 'a /dns6 name is dialled over IPv6 only: use /dns4/NAME or /dns/NAME for IPv4'
  return 'check that the other node is running and the address is right (p2pnode id on that node)'
}

/**
 * Dial `ma` and check who answers. An address that is exactly one of our open connections to its peer is that
 * connection; any other address is dialled for real, without its /p2p/ part so that whoever answers is seen.
 * Throws WrongPeerError when someone else answers (that extra connection is closed), or the dial's own error.
 */
export async function dialAddress(
  libp2p: Pick<Libp2p, 'dial' | 'getConnections'>,
  ma: Multiaddr,
  options: { signal?: AbortSignal } = {}
): Promise<DialedAddress> {
  const target = peerIdOf(ma)
  const bare = withoutPeerId(ma)
  if (target != null) {
    const open = libp2p
      .getConnections(peerIdFromString(target))
      .find((c) => c.status === 'open' && withoutPeerId(c.remoteAddr).equals(bare))
    if (open != null) return { conn: open, peerId: target }
  }
  if (isCircuit(bare) && target == null) {
    throw new P2pError(ErrorCode.INVALID_MULTIADDR, `${bare.toString()} names no peer behind the relay`, {
      hint: 'a relay address ends with /p2p-circuit/p2p/<peer id> (p2pnode id or p2pnode invite on that node prints it)'
    })
  }
  // Through a relay, the relay is asked for one peer: its id stays in the address.
  const conn = await libp2p.dial(isCircuit(bare) ? ma : bare, {
    signal: options.signal ?? AbortSignal.timeout(DIAL_TIMEOUT_MS),
    force: true
  })
  const peerId = conn.remotePeer.toString()
  // A second connection to a peer we were connected to already is not needed: the dial proved the address.
  const extra = libp2p.getConnections(conn.remotePeer).length > 1
  if (target != null && peerId !== target) {
    await conn.close().catch(() => {})
    throw new WrongPeerError(bare.toString(), target, peerId)
  }
  if (extra) await conn.close().catch(() => {})
  return { conn, peerId }
}
