/**
 * Where everything lives in the database: the one module that knows the sublevels, their key shapes and their value
 * codecs (codec.ts). Store modules get their sublevels from `openParts` and never import each other.
 *
 * Layout 2, the conversation log (`H(x)` is HMAC-SHA256 of peer id x under the store secret, hex; `seq` is a µs
 * clock as 14 hex digits; a conversation `conv` is `dm:H(peer)` or `group:<group id>`):
 * - `log`         `conv!seq` → Entry (sealed)              every conversation's entries, in conversation order
 * - `log-ids`     `conv!id` → seq                           dedupe and lookups by entry id
 * - `log-outbox`  `H(recipient)!seq` → OutboxRecord (sealed) one per recipient of each entry not yet acked by it
 * - `log-words`   `word!seq` → `conv!seq`                   full-text index (see search-index.ts)
 * - `log-pwords`  `conv!word!seq` → `conv!seq`              the same per conversation
 * - `vocab`       `word` → ''                               every indexed word
 * - `peers`       `H(peer)` → {record, digest}              the peer book (see peers.ts)
 * - `groups`      `group id` → GroupRecord                  groups we are in, with their signed membership
 * - `transfers`, `transfer-hashes`, `transfer-chunks`       file transfers (see transfers.ts)
 * - `voice`       `conv!seq` → VoiceRecord                  a voice note's duration and transcript (voice-notes.ts)
 * - `voice-jobs`  `added!id` → VoiceJob                     transcriptions still to do, in the order queued
 * - `meta`        name → {value}                            clock, write counter, store id, layout, settings,
 *                                                           `order:conv[:H(sender)]` (see order.ts)
 * - `damaged`     `sublevel!key` → the raw text             values that failed their check, moved aside
 * - `mailbox-peers`, `mailbox-runs`                          contacts' mailboxes, our deposit runs (mailbox-book.ts)
 * - `mailbox-held`, `mailbox-pairs`, `mailbox-owners`        a mailbox node's holdings (mailbox-hold.ts)
 *
 * Layout 1 (p2pnode 0.1 and the releases before the log) kept one conversation per peer in `messages`
 * (`H(peer)!seq`), `ids`, `outbox` (`H(peer)!seq` → the message), `words` and `pwords` keyed by `H(peer)`; migrate.ts
 * moves it to layout 2. Values in `meta`, `peers` and `transfers` had no version then.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'
import type { Codec } from './codec.ts'
import type { SealedRecord } from './records.ts'
import type { GroupRecord, OutboxRecord, PeerRecord, StoredMessage } from './types.ts'
import type { TransferRecord } from './transfers.ts'
import type { DepositRun, MailboxPeerValue } from './mailbox-book.ts'
import type { HeldValue, OwnerValue, PairValue } from './mailbox-hold.ts'
import type { VoiceJob, VoiceRecord } from './voice-types.ts'

/** Any abstract-level database with string keys and values (classic-level on disk, memory-level in tests). */
export type Db = AbstractLevel<string | Buffer | Uint8Array, string, string>
export type Sub<V> = AbstractSublevel<Db, string | Buffer | Uint8Array, string, V>

/** A batch operation on any of our sublevels; abstract-level's types cannot mix value types in one batch. */
export type Op =
  | { type: 'put'; sublevel: object; key: string; value: unknown }
  | { type: 'del'; sublevel: object; key: string }

/** Separator between the parts of a key; '"' is the next character, the end of a prefix's range. */
export const SEP = '!'
export const END = '"'
/** Keys sort as text: fixed-width hex. */
export const SEQ_WIDTH = 14

/** The layout this version writes (see the module comment). */
export const LAYOUT = 2

export const SUBLEVEL = {
  log: 'log',
  ids: 'log-ids',
  outbox: 'log-outbox',
  words: 'log-words',
  convWords: 'log-pwords',
  vocab: 'vocab',
  peers: 'peers',
  groups: 'groups',
  meta: 'meta',
  transfers: 'transfers',
  transferHashes: 'transfer-hashes',
  transferChunks: 'transfer-chunks',
  damaged: 'damaged',
  voice: 'voice',
  voiceJobs: 'voice-jobs',
  mailboxPeers: 'mailbox-peers',
  mailboxRuns: 'mailbox-runs',
  mailboxHeld: 'mailbox-held',
  mailboxPairs: 'mailbox-pairs',
  mailboxOwners: 'mailbox-owners'
} as const

/** Layout 1's sublevels that layout 2 replaced (read by the migration, cleared after it). */
export const LAYOUT1 = { messages: 'messages', ids: 'ids', outbox: 'outbox', words: 'words', pwords: 'pwords' } as const

/** Names in `meta`. */
export const META = {
  clock: 'clock',
  writes: 'writes',
  storeId: 'store-id',
  layout: 'layout',
  /** Where an unfinished migration stands (see migrate.ts). */
  migration: 'migration',
  setting: (name: string) => `setting:${name}`
} as const

export type Conversation = `dm:${string}` | `group:${string}`

/** Bound on the peer-hash cache, which a flood of peer ids could otherwise grow. */
const HASH_CACHE_MAX = 10_000

/** `H(peer)`, the keyed hash of a peer id (the only form in which peer ids appear in keys), and the keys built on it. */
export class PeerHashes {
  /** The store secret as a KeyObject, made once (see ValueSealer). */
  private readonly secret: KeyObject
  private readonly hashes = new Map<string, string>()

  constructor(secret: Uint8Array) {
    this.secret = createSecretKey(secret)
  }

  /** Keyed hash of a peer id. */
  peerKey(peerId: string): string {
    let h = this.hashes.get(peerId)
    if (h == null) {
      h = createHmac('sha256', this.secret).update(peerId).digest('hex')
      if (this.hashes.size >= HASH_CACHE_MAX) this.hashes.clear()
      this.hashes.set(peerId, h)
    }
    return h
  }

  /** The one-to-one conversation with a peer. */
  dm(peerId: string): Conversation {
    return dmConversation(this.peerKey(peerId))
  }

  /** The conversation an entry belongs to (a group's, or the one with `peer`). */
  conversationOf(message: Pick<StoredMessage, 'peer' | 'group'>): Conversation {
    return message.group != null ? groupConversation(message.group) : this.dm(message.peer)
  }
}

/** The conversation with one peer, by the keyed hash of its id. */
export function dmConversation(peerHash: string): Conversation {
  return `dm:${peerHash}`
}

export function groupConversation(groupId: string): Conversation {
  return `group:${groupId}`
}

export function seqText(us: number): string {
  return Math.max(0, Math.floor(us)).toString(16).padStart(SEQ_WIDTH, '0')
}

/** `a!b!c`. */
export function key(...parts: string[]): string {
  return parts.join(SEP)
}

/** Range options for every key under `prefix!`. */
export function under(prefix: string): { gt: string; lt: string } {
  return { gt: prefix + SEP, lt: prefix + END }
}

/** Where the order state of a conversation (and, in a group, of one sender in it) is kept. */
export function orderKey(conv: string, senderHash?: string): string {
  return senderHash == null ? `order:${conv}` : `order:${conv}:${senderHash}`
}

/** The sublevels of layout 2, each with its codec. */
export function openParts(db: Db, codec: Codec) {
  return {
    log: db.sublevel<string, StoredMessage>(SUBLEVEL.log, { valueEncoding: codec.entry(SUBLEVEL.log) }),
    ids: db.sublevel<string, string>(SUBLEVEL.ids, { valueEncoding: 'utf8' }),
    outbox: db.sublevel<string, OutboxRecord>(SUBLEVEL.outbox, { valueEncoding: codec.outbox(SUBLEVEL.outbox) }),
    words: db.sublevel<string, string>(SUBLEVEL.words, { valueEncoding: 'utf8' }),
    convWords: db.sublevel<string, string>(SUBLEVEL.convWords, { valueEncoding: 'utf8' }),
    vocab: db.sublevel<string, string>(SUBLEVEL.vocab, { valueEncoding: 'utf8' }),
    peers: db.sublevel<string, SealedRecord<PeerRecord>>(SUBLEVEL.peers, { valueEncoding: codec.record(SUBLEVEL.peers) }),
    groups: db.sublevel<string, GroupRecord>(SUBLEVEL.groups, { valueEncoding: codec.record(SUBLEVEL.groups) }),
    meta: db.sublevel<string, unknown>(SUBLEVEL.meta, { valueEncoding: codec.boxed(SUBLEVEL.meta) }),
    transfers: db.sublevel<string, TransferRecord>(SUBLEVEL.transfers, { valueEncoding: codec.record(SUBLEVEL.transfers) }),
    transferHashes: db.sublevel<string, string>(SUBLEVEL.transferHashes, { valueEncoding: 'utf8' }),
    transferChunks: db.sublevel<string, string>(SUBLEVEL.transferChunks, { valueEncoding: 'utf8' }),
    mailboxPeers: db.sublevel<string, MailboxPeerValue>(SUBLEVEL.mailboxPeers, { valueEncoding: codec.record(SUBLEVEL.mailboxPeers) }),
    mailboxRuns: db.sublevel<string, DepositRun>(SUBLEVEL.mailboxRuns, { valueEncoding: codec.record(SUBLEVEL.mailboxRuns) }),
    mailboxHeld: db.sublevel<string, HeldValue>(SUBLEVEL.mailboxHeld, { valueEncoding: codec.record(SUBLEVEL.mailboxHeld) }),
    mailboxPairs: db.sublevel<string, PairValue>(SUBLEVEL.mailboxPairs, { valueEncoding: codec.record(SUBLEVEL.mailboxPairs) }),
    mailboxOwners: db.sublevel<string, OwnerValue>(SUBLEVEL.mailboxOwners, { valueEncoding: codec.record(SUBLEVEL.mailboxOwners) }),
    voice: db.sublevel<string, VoiceRecord>(SUBLEVEL.voice, { valueEncoding: codec.record(SUBLEVEL.voice) }),
    voiceJobs: db.sublevel<string, VoiceJob>(SUBLEVEL.voiceJobs, { valueEncoding: codec.record(SUBLEVEL.voiceJobs) }),
    /** Any sublevel's stored text as it is (scans, the migration, quarantine). */
    raw: (name: string) => db.sublevel<string, string>(name, { valueEncoding: 'utf8' })
  }
}

export type Parts = ReturnType<typeof openParts>

/** Layout 1's message sublevels, read as layout 1 wrote them (see codec.ts `legacyMessage`). */
export function openLayout1(db: Db, codec: Codec) {
  return {
    messages: db.sublevel<string, StoredMessage>(LAYOUT1.messages, { valueEncoding: codec.legacyMessage(LAYOUT1.messages) }),
    outbox: db.sublevel<string, StoredMessage>(LAYOUT1.outbox, { valueEncoding: codec.legacyMessage(LAYOUT1.outbox) })
  }
}
