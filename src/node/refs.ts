/**
 * What the user types for a peer or a group — a peer id, a display name, a multiaddr, an invite, `#group` — turned
 * into the peer (dialled first when asked) or the group it means, with clear errors for what means nothing or
 * more than one thing.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { DialResult } from '../api/types.ts'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import type { ChatProtocol } from '../protocols/chat/index.ts'
import type { GroupRecord } from '../store/index.ts'
import type { Connectivity } from './connectivity.ts'
import { decodeInvite, type Invite, isInvite } from './invite.ts'
import type { NodeMailbox } from './mailbox.ts'
import type { PeerBook } from './peer-book.ts'
import { isPeerId, matchPeerName, NAME_RANK, parseMultiaddr, peerIdOf, withoutPeerId } from './peer-ref.ts'
import type { Policy } from './policy.ts'

export interface RefsComponents {
  self: string
  book: PeerBook
  chat: Pick<ChatProtocol, 'flush' | 'isConnected'>
  connectivity: Pick<Connectivity, 'dialTyped' | 'dialInvite' | 'checkAddress' | 'failed'>
  policy: Pick<Policy, 'isContact' | 'allows'>
  /** Where a mailbox named in an invite goes (the book of mailboxes peers told us). */
  mailbox: Pick<NodeMailbox, 'fromInvite'>
  /** Our group of that name or id, if any (see NodeGroups.match). */
  group(ref: string): GroupRecord | undefined
}

export class Refs {
  private readonly c: RefsComponents

  constructor(components: RefsComponents) {
    this.c = components
  }

  /**
   * A peer or one of our groups (`#name`, a group's id, or its name: see NodeGroups.match). A name that is both a
   * peer's and a group's is PEER_AMBIGUOUS, saying how to tell which.
   */
  async target(ref: string, options: { dial: boolean }): Promise<{ peer: string } | { group: GroupRecord }> {
    const group = this.c.group(ref)
    const text = ref.trim()
    if (group == null) return { peer: await this.resolvePeer(ref, options) }
    if (text.startsWith('#') || text === group.id) return { group }
    let peer: string
    try {
      peer = await this.resolvePeer(ref, { dial: false })
    } catch (err) {
      if (isP2pError(err) && err.code === ErrorCode.PEER_NOT_FOUND) return { group }
      throw err
    }
    throw new P2pError(ErrorCode.PEER_AMBIGUOUS, `${text} is both a peer and a group`, {
      hint: `say #${group.name} (or #${group.id}) for the group, or the peer's id ${peer}`
    })
  }

  /** Resolve a peer id, display name or multiaddr to a peer id. */
  async resolvePeer(ref: string, options: { dial: boolean }): Promise<string> {
    const { book, policy } = this.c
    const text = ref.trim()
    if (text === '')
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'no peer given', { hint: 'p2pnode peers lists them' })
    if (text.startsWith('/')) {
      const ma = parseMultiaddr(text)
      const peerId = peerIdOf(ma)
      if (peerId == null) {
        if (!options.dial) {
          throw new P2pError(ErrorCode.INVALID_ARGUMENT, `${text} has no /p2p/<peer id> part`, {
            hint: 'append /p2p/<peer id>, or use the peer id or name'
          })
        }
        return (await this.dial(text)).peerId
      }
      if (options.dial) await this.c.connectivity.checkAddress(ma, peerId)
      return peerId
    }
    if (isPeerId(text)) return peerIdFromString(text).toString()
    // Names we gave win over names peers chose, and contacts' over strangers'.
    const rank = (peerId: string) => (policy.isContact(peerId) ? NAME_RANK.CONTACT : NAME_RANK.STRANGER)
    const known = (await book.list()).map((p) => ({
      peerId: p.peerId,
      name: p.name,
      rank: book.localNames.has(p.peerId) ? NAME_RANK.LOCAL : rank(p.peerId)
    }))
    // A contact renamed locally still answers to the name it tells us.
    for (const [peerId, name] of book.ownNames) {
      if (name !== book.names.get(peerId)) known.push({ peerId, name, rank: rank(peerId) })
    }
    return matchPeerName(text, known)
  }

  /**
   * Dial a multiaddr or an invite the user gave, and wait for the peer's greeting: DIAL_FAILED when it cannot be
   * reached or closes the connection at once (it refuses us), PEER_NOT_P2PNODE when it is another libp2p program.
   */
  async dial(addr: string): Promise<DialResult> {
    if (isInvite(addr)) return this.dialInvite(addr)
    const { book, chat, connectivity } = this.c
    const peerId = await connectivity.dialTyped(addr)
    // The user asked: whatever we concluded about this peer before, look again (open a chat stream, greet).
    chat.flush(peerId, { probe: true })
    const name = await book.nameOf(peerId)
    // A peer that refuses us (blocked, hidden, contacts only) closes the connection right after the handshake.
    if (!chat.isConnected(peerId)) throw connectivity.failed(addr, parseMultiaddr(addr), 'the peer closed the connection')
    await book.notForeign(peerId)
    await book.remember(peerId, { addrs: [withoutPeerId(parseMultiaddr(addr)).toString()] })
    return { peerId, name }
  }

  /**
   * Dial a friend's invite (see Connectivity.dialInvite), then wait for its greeting as dial() does. The friend's
   * name and mailbox are taken from the invite first (its greeting then tells us its own): a friend who is away is
   * remembered all the same, and what we send it goes to its mailbox, as for a contact who told us its mailbox.
   */
  private async dialInvite(text: string): Promise<DialResult> {
    const { book, chat, connectivity } = this.c
    const invite = decodeInvite(text)
    const peerId = invite.peerId
    // Not our own invite, nor one we may not reach (blocked, hidden, contacts only): Connectivity says why.
    const remember = peerId !== this.c.self && this.c.policy.allows(peerId)
    let mailbox: string | undefined
    if (remember) {
      await book.invited(peerId, invite.name)
      // Not a mailbox that is this node (a friend we serve as its mailbox: what we hold for it, it collects here).
      mailbox = await this.c.mailbox.fromInvite(peerId, invite.mailbox?.peerId !== this.c.self ? invite.mailbox : undefined)
    }
    try {
      await connectivity.dialInvite(invite)
    } catch (err) {
      if (!remember || !isP2pError(err) || err.code !== ErrorCode.DIAL_FAILED) throw err
      // Away: kept as a peer we write to (redialled, also after a restart), so that `send <name>` finds it.
      book.markChatted(peerId, true)
      throw away(err, invite, mailbox)
    }
    chat.flush(peerId, { probe: true })
    const name = await book.nameOf(peerId)
    if (!chat.isConnected(peerId)) {
      throw new P2pError(ErrorCode.DIAL_FAILED, `${invite.name || peerId} closed the connection`, {
        hint: 'it may accept contacts only, or have blocked you'
      })
    }
    await book.notForeign(peerId)
    book.markChatted(peerId, true)
    return { peerId, name }
  }
}

/**
 * The invite's peer did not answer: DIAL_FAILED as before, saying that it is remembered and where messages to it
 * go meanwhile (details: `{peerId, name, remembered: true, mailbox}`, the peer id of its mailbox or null).
 */
function away(err: P2pError, invite: Invite, mailbox: string | undefined): P2pError {
  const who = invite.name || invite.peerId
  // The name as the user would type it (one word), else the id.
  const send = `p2pnode send ${/^[\p{L}\p{N}_.-]+$/u.test(invite.name) ? invite.name : invite.peerId} …`
  const meanwhile =
    mailbox != null
      ? `messages you send it (${send}) are sealed and left at its mailbox, and reach it when it comes online`
      : `messages you send it (${send}) wait here until you are both online (it has no mailbox we know of)`
  return new P2pError(ErrorCode.DIAL_FAILED, `${err.message}; ${who} is remembered`, {
    hint: `${meanwhile}; it is redialled meanwhile. If it should be online, check that it runs (with its relay, if it is behind a NAT)`,
    details: { peerId: invite.peerId, name: invite.name, remembered: true, mailbox: mailbox ?? null },
    cause: err
  })
}
