/**
 * How the parts of a node hear of each other: chat's and libp2p's events turned into what the peer book keeps,
 * what connectivity learns (a greeting proves a connection useful) and the node's own events (see NodeEvents).
 */
import type { Libp2p, Logger } from '@libp2p/interface'
import type { ChatProtocol } from '../protocols/chat/index.ts'
import type { FileTransferProtocol } from '../protocols/file/index.ts'
import type { Connectivity } from './connectivity.ts'
import type { NodeGroups } from './groups.ts'
import type { NodeEvents } from './options.ts'
import type { PeerBook } from './peer-book.ts'
import type { Policy } from './policy.ts'

export interface WiringParts {
  libp2p: Pick<Libp2p, 'addEventListener'>
  chat: Pick<ChatProtocol, 'addEventListener'>
  files: Pick<FileTransferProtocol, 'addEventListener'>
  groups: Pick<NodeGroups, 'delivered'>
  book: PeerBook
  connectivity: Pick<Connectivity, 'connected'>
  policy: Pick<Policy, 'isMuted'>
  log: Logger
  /** Fire one of the node's events. */
  emit<K extends keyof NodeEvents>(type: K, detail: NodeEvents[K]['detail']): void
}

/** Listen to everything the node reacts to (before libp2p starts, so that nothing early is missed). */
export function wireEvents(p: WiringParts): void {
  const { libp2p, chat, files, groups, book, connectivity, policy, log, emit } = p
  // Presence changed (the chat protocol tracks greetings per connection).
  chat.addEventListener('presence', (evt) => {
    const { peer, name, here } = evt.detail
    // A greeting proves the connection useful: only then are the peer's dial failures forgotten. A peer that lets
    // us connect and then drops us (it blocked us) stays backed off.
    if (here) connectivity.connected(peer)
    emit('peer', { peerId: peer, name: book.names.get(peer) ?? name, connected: here })
  })
  chat.addEventListener('verdict', (evt) => {
    void book.remember(evt.detail.peer, { notP2pnode: evt.detail.notP2pnode ?? null })
  })
  chat.addEventListener('sent', (evt) => emit('sent', evt.detail))
  libp2p.addEventListener('peer:identify', (evt) => {
    // Only p2pnode peers get a record (a stranger's addresses are kept by its greeting).
    book.identified(evt.detail.peerId.toString(), evt.detail.listenAddrs.map((a) => a.toString()))
  })
  chat.addEventListener('hello', (evt) => {
    const { peer, name } = evt.detail
    const former = book.hello(peer, name)
    if (former != null) emit('renamed', { peerId: peer, name, formerName: former })
  })
  chat.addEventListener('reach', (evt) => void book.relayAddrs(evt.detail.peer, evt.detail.relayAddrs))
  chat.addEventListener('message', (evt) => {
    const message = evt.detail
    book.markChatted(message.peer)
    emit('message', { message, name: book.names.get(message.peer) ?? '', muted: policy.isMuted(message.peer) })
  })
  chat.addEventListener('delivered', (evt) => {
    emit('delivered', evt.detail)
    void groups.delivered(evt.detail.peer, evt.detail.ids).catch((err: Error) => log.error('group status: %s', err.message))
  })
  // A file offered to us is a conversation too: the peer is no stranger (its record is kept, it is redialled).
  files.addEventListener('transfer', (evt) => {
    if (evt.detail.direction === 'in') book.markChatted(evt.detail.peer)
  })
}
