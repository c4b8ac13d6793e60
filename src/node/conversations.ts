/**
 * Conversations with one peer or a group, as the API's `send` and `history` see them: the text checked, the peer
 * or group resolved, the message stored and sent (and, if the peer stays away, left at its mailbox), its status as
 * only the running node knows it, and histories with their files and voice notes.
 */
import type { EventLog } from '../api/events.ts'
import type { HistoryEntry, HistoryQuery, MessageStatus, SendOptions, SendResult } from '../api/types.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import { type ChatProtocol, checkText } from '../protocols/chat/index.ts'
import type { Store, StoredMessage } from '../store/index.ts'
import { entryOf } from './event-feed.ts'
import type { NodeFiles } from './files.ts'
import type { NodeGroups } from './groups.ts'
import type { NodeMailbox } from './mailbox.ts'
import type { PeerBook } from './peer-book.ts'
import type { People } from './people.ts'
import type { Refs } from './refs.ts'
import type { NodeVoice } from './voice.ts'

export interface ConversationParts {
  self: string
  store: Store
  chat: ChatProtocol
  refs: Pick<Refs, 'target'>
  book: PeerBook
  people: Pick<People, 'notBlocked'>
  groups: Pick<NodeGroups, 'send' | 'history'>
  mailbox: Pick<NodeMailbox, 'queued'>
  events: Pick<EventLog, 'publish'>
  fileApi: Pick<NodeFiles, 'decorate'>
  voice: Pick<NodeVoice, 'decorate'>
}

export class Conversations {
  private readonly c: ConversationParts

  constructor(parts: ConversationParts) {
    this.c = parts
  }

  async send(ref: string, text: string, options: SendOptions = {}): Promise<SendResult> {
    if (text.trim() === '') {
      throw new P2pError(ErrorCode.INVALID_MESSAGE, `message text is ${text === '' ? 'empty' : 'only spaces'}`, {
        hint: 'type the text after the peer, in quotes if it has spaces: p2pnode send bob "see you at 5"'
      })
    }
    try {
      checkText(text)
    } catch (err) {
      throw new P2pError(ErrorCode.INVALID_MESSAGE, (err as Error).message, {
        hint: 'a message holds at most 64 KiB of text; send a longer one as a file: p2pnode send-file <peer> <file>',
        cause: err
      })
    }
    const target = await this.c.refs.target(ref, { dial: true })
    if ('group' in target) return this.c.groups.send(target.group, text, options)
    const peer = target.peer
    if (peer === this.c.self) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'that is this node: you cannot message yourself')
    }
    this.c.people.notBlocked(peer)
    await this.c.book.notForeign(peer)
    let message: StoredMessage
    try {
      message = await this.c.chat.send(peer, text, { replyTo: options.replyTo })
    } catch (err) {
      if (err instanceof TypeError) throw new P2pError(ErrorCode.INVALID_ARGUMENT, err.message)
      throw err
    }
    this.c.book.markChatted(peer, true)
    // If the peer stays away, a sealed copy goes to its mailbox (when it has one).
    this.c.mailbox.queued(peer)
    this.c.events.publish({
      type: 'message',
      message: entryOf(message, this.statusOf(message)),
      name: this.c.book.names.get(peer) ?? '',
      muted: false
    })
    const waitMs = options.waitMs ?? 2000
    if (waitMs > 0 && this.c.chat.isConnected(peer)) {
      const delivered = await this.c.chat.waitForDelivery(peer, message.id, { signal: AbortSignal.timeout(waitMs) })
      if (delivered) return { id: message.id, status: 'delivered' }
      // Not acked in time, or acked before we started waiting: the store knows which.
      const stored = await this.c.store.getMessage(peer, message.id)
      return { id: message.id, status: this.statusOf(stored ?? message) }
    }
    return { id: message.id, status: this.statusOf(message) }
  }

  async history(ref: string, options: HistoryQuery = {}): Promise<HistoryEntry[]> {
    return this.c.voice.decorate(await this.c.fileApi.decorate(await this.textHistory(ref, options)))
  }

  private async textHistory(ref: string, options: HistoryQuery): Promise<HistoryEntry[]> {
    const limit = options.limit ?? 50
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `--limit must be a whole number from 1 to 10000, not ${limit}`)
    }
    const target = await this.c.refs.target(ref, { dial: false })
    const query = { limit, before: options.before, after: options.after }
    if ('group' in target) return this.c.groups.history(target.group, query)
    const peer = target.peer
    const stored = await this.c.store.history(peer, query)
    return stored.map((m) => entryOf(m, this.statusOf(m)))
  }


  /** A message's status: for ours still pending, what the running node knows (sent, or delivered just now). */
  statusOf(m: StoredMessage): MessageStatus {
    if (m.direction === 'out' && m.status === 'pending') return this.c.chat.liveStatus(m.peer, m.id) ?? 'pending'
    return m.status
  }
}
