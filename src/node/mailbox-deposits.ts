/**
 * Deposits, the sending half of the mailbox: when a contact stays away, sealed copies of the texts waiting in its
 * outbox (and the acks we owe it for what we collected) go to the mailbox it told us, in order, one run of envelopes
 * chained by id, resumed where the last round stopped. One round at a time per peer; a mailbox that fails us is
 * tried again after 1, 2, 4, ... intervals (at most 10 minutes apart). node/mailbox.ts builds it.
 */
import type { Libp2p, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { type ChatProtocol, messageFrame } from '../protocols/chat/index.ts'
import { Frame } from '../protocols/chat/pb/chat.ts'
import { type MailboxProtocol, MAX_LETTER_BYTES, MAX_LETTER_FRAMES } from '../protocols/mailbox/index.ts'
import { errorText, fromHex, toHex } from '../protocols/util.ts'
import type { OutboxEntry, Store } from '../store/index.ts'
import type { DepositRun, MailboxAddress, MailboxBook } from '../store/mailbox-book.ts'
import type { Policy } from './policy.ts'

/** A run is started over this long before its first envelope would expire (clocks and transit). */
const RUN_MARGIN_MS = 60_000
/** Outbox entries read per deposit round. */
const OUTBOX_BATCH = 256
/** Longest wait between tries at an unreachable mailbox. */
export const MAX_BACKOFF_MS = 10 * 60_000
/** Most peers whose back-off is remembered (anyone can greet under new peer ids). */
const MAX_BACKOFF_PEERS = 4096

/** What deposits use of the node (a part of NodeMailbox's MailboxDeps). */
export interface DepositDeps {
  libp2p: Libp2p
  store: Store
  chat: ChatProtocol
  policy: Policy
  log: Logger
}

export interface DepositHost {
  book: MailboxBook
  /** The mailbox protocol (started). */
  protocol: () => MailboxProtocol
  /** The mailbox a peer told us, if any. */
  mailboxOf: (peer: string) => Promise<MailboxAddress | undefined>
  /** Aborted on stop: deposits under way end at once. */
  signal: AbortSignal
  /** Between periodic rounds, ms: the back-off's unit. */
  interval: number
  /** How long a message waits for its peer to come online before it is deposited, ms. */
  depositDelay: number
}

export class MailboxDeposits {
  private readonly deps: DepositDeps
  private readonly host: DepositHost
  /** Ids of messages we collected, per sender, not yet acked back to it. */
  readonly owed = new Map<string, Set<string>>()
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly depositing = new Map<string, Promise<void>>()
  private readonly again = new Set<string>()
  /** Peers whose mailbox failed us lately: not tried again before `next` (1, 2, 4, ... intervals, ≤ 10 min). */
  private readonly backoff = new Map<string, { failures: number; next: number }>()
  private stopped = false

  constructor(deps: DepositDeps, host: DepositHost) {
    this.deps = deps
    this.host = host
  }

  /** Stop: no new rounds; resolves once the rounds under way have ended. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const t of this.timers.values()) clearTimeout(t)
    await Promise.allSettled([...this.depositing.values()])
  }

  /** The peer told us of a (perhaps new) mailbox: worth trying at once. */
  retryNow(peer: string): void {
    this.backoff.delete(peer)
  }

  /** A message for `peer` waits in the outbox: if the peer stays away, a sealed copy goes to its mailbox. */
  queued(peer: string): void {
    if (this.stopped || this.timers.has(peer)) return
    const timer = setTimeout(() => {
      this.timers.delete(peer)
      void this.depositFor(peer)
    }, this.host.depositDelay)
    timer.unref()
    this.timers.set(peer, timer)
  }

  /**
   * Deposit what waits for `peer` at its mailbox: one run at a time per peer; asked again while one runs, it runs
   * once more after it (so that what was stored meanwhile goes too).
   */
  depositFor(peer: string): Promise<void> {
    const running = this.depositing.get(peer)
    if (running != null) {
      this.again.add(peer)
      return running
    }
    if ((this.backoff.get(peer)?.next ?? 0) > Date.now()) return Promise.resolve()
    const run = (async () => {
      do {
        this.again.delete(peer)
        let ok: boolean
        try {
          ok = await this.deposit(peer)
        } catch (err) {
          ok = false
          if (!this.stopped) this.deps.log.error('deposit for %s failed: %s', peer, errorText(err))
        }
        if (ok) {
          this.backoff.delete(peer)
        } else {
          const failures = (this.backoff.get(peer)?.failures ?? 0) + 1
          const wait = Math.min(MAX_BACKOFF_MS, this.host.interval * 2 ** (failures - 1))
          this.backoff.set(peer, { failures, next: Date.now() + wait })
          if (this.backoff.size > MAX_BACKOFF_PEERS) this.backoff.delete(this.backoff.keys().next().value ?? peer)
          break
        }
      } while (this.again.has(peer) && !this.stopped)
    })().finally(() => this.depositing.delete(peer))
    this.depositing.set(peer, run)
    return run
  }

  /** One deposit round for `peer`; false when the mailbox did not take everything (or could not be reached). */
  private async deposit(peer: string, retried = false): Promise<boolean> {
    const { chat, policy, store } = this.deps
    if (this.stopped || policy.visibility === 'hidden' || !policy.allows(peer)) return true
    if (chat.greeted(peer) || chat.notP2pnode(peer) != null) return true
    const mailbox = await this.host.mailboxOf(peer)
    if (mailbox == null) return true
    let run = await this.host.book.run(peer)
    if (run != null && (run.mailbox !== mailbox.peerId || Date.now() >= run.started + run.ttlMs - RUN_MARGIN_MS)) {
      // Its first envelope has expired (or is about to), or the peer has another mailbox: start over.
      run = undefined
    }
    const owed = [...(this.owed.get(peer) ?? [])]
    const outbox = await store.outbox(peer, { afterSeq: run?.through, limit: OUTBOX_BATCH })
    const entries = firstTexts(outbox)
    // More may wait behind these: another round follows this one.
    if (outbox.length === OUTBOX_BATCH && entries.length === outbox.length) this.again.add(peer)
    if (entries.length === 0 && owed.length === 0) return true
    const letters = packLetters(entries, owed)
    await reach(this.deps.libp2p, mailbox)
    let prev = run?.last != null ? fromHex(run.last) : new Uint8Array(0)
    const sealed = []
    for (const letter of letters) {
      const s = await this.host.protocol().seal(peer, letter.frames, { prev })
      sealed.push({ ...s, letter })
      prev = s.id
    }
    const results = await this.host.protocol().deposit(
      mailbox.peerId,
      sealed.map((s) => s.bytes),
      { signal: this.host.signal }
    )
    let accepted = 0
    for (const [i, r] of results.entries()) {
      if (r.status !== 'OK' && r.status !== 'DUPLICATE') break
      const { letter, id } = sealed[i]
      run = {
        mailbox: mailbox.peerId,
        last: toHex(id),
        through: letter.through ?? run?.through ?? '',
        started: run?.started ?? Date.now(),
        ttlMs: r.ttlMs
      } satisfies DepositRun
      for (const a of letter.acks) this.owed.get(peer)?.delete(a)
      accepted++
    }
    if (run != null && accepted > 0) await this.host.book.setRun(peer, run)
    if (this.owed.get(peer)?.size === 0) this.owed.delete(peer)
    const failed = results.length > accepted ? results[accepted] : undefined
    if (failed?.status === 'GAP' && !retried) {
      // The mailbox lost the run (expired, or it was reset): start a new one with everything still waiting.
      await this.host.book.setRun(peer, undefined)
      return this.deposit(peer, true)
    }
    if (failed != null) {
      this.deps.log.error('%s\'s mailbox took %d of %d envelopes: %s %s', peer, accepted, sealed.length, failed.status, failed.detail)
      return false
    }
    if (accepted > 0) this.deps.log('deposited %d envelopes for %s at %s', accepted, peer, mailbox.peerId)
    return true
  }
}

/** Make a mailbox dialable: the addresses we were told go into libp2p's peer store. */
export async function reach(libp2p: Libp2p, mailbox: MailboxAddress): Promise<void> {
  const multiaddrs = []
  for (const a of mailbox.addrs) {
    try {
      multiaddrs.push(multiaddr(a))
    } catch {
      // an address we cannot parse is simply not tried
    }
  }
  if (multiaddrs.length > 0) {
    await libp2p.peerStore.merge(peerIdFromString(mailbox.peerId), { multiaddrs }).catch(() => {})
  }
}

/**
 * The outbox's texts to the peer itself, up to its first file entry (files go over a direct connection, in their
 * turn); group entries are for their group's own streams, not for a mailbox (their order is the group's).
 */
export function firstTexts(entries: OutboxEntry[]): OutboxEntry[] {
  const out: OutboxEntry[] = []
  for (const e of entries) {
    if (e.message.group != null) continue
    if (e.message.kind != null && e.message.kind !== 'text') break
    out.push(e)
  }
  return out
}

interface Letter {
  frames: Uint8Array<ArrayBuffer>[]
  acks: string[]
  /** Seq of the last outbox entry in it, if any. */
  through?: string
}

/** Outbox entries and owed acks packed into letters that each fit one envelope, in order; acks first. */
function packLetters(entries: OutboxEntry[], acks: string[]): Letter[] {
  const letters: Letter[] = []
  let current: Letter = { frames: [], acks: [] }
  let size = 0
  const room = MAX_LETTER_BYTES - 1024
  const push = (frame: Uint8Array<ArrayBuffer>) => {
    if (current.frames.length > 0 && (current.frames.length >= MAX_LETTER_FRAMES || size + frame.byteLength + 8 > room)) {
      letters.push(current)
      current = { frames: [], acks: [] }
      size = 0
    }
    current.frames.push(frame)
    size += frame.byteLength + 8
  }
  for (let i = 0; i < acks.length; i += 1024) {
    const ids = acks.slice(i, i + 1024)
    push(Frame.encode({ ack: { ids: ids.map((id) => fromHex(id)) } }))
    current.acks.push(...ids)
  }
  for (const entry of entries) {
    push(messageFrame(entry.message))
    current.through = entry.seq
  }
  if (current.frames.length > 0) letters.push(current)
  return letters
}
