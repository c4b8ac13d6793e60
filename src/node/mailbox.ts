import type { Libp2p, Logger, PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { MailboxApi, MailboxLimits, MailboxStatus } from '../api/mailbox.ts'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import type { ChatProtocol, PeerMailbox } from '../protocols/chat/index.ts'
import {
  type CollectedEnvelope,
  DEFAULT_MAX_OWNERS,
  DEFAULT_MAX_SENDERS,
  DEFAULT_PER_RECIPIENT,
  DEFAULT_PER_SENDER,
  DEFAULT_TTL_MS,
  MailboxRefusedError,
  type MailboxInit,
  type MailboxProtocol
} from '../protocols/mailbox/index.ts'
import { errorText } from '../protocols/util.ts'
import type { Store } from '../store/index.ts'
import { MailboxBook, type MailboxAddress } from '../store/mailbox-book.ts'
import { type HoldLimits, MailboxHold } from '../store/mailbox-hold.ts'
import { firstTexts, MAX_BACKOFF_MS, MailboxDeposits, reach } from './mailbox-deposits.ts'
import type { Policy } from './policy.ts'

export interface MailboxOptions {
  /** Serve as a mailbox for others (`--mailbox-service`), with these limits (tests shrink them). */
  service?: boolean | Partial<HoldLimits>
  /** How long a message waits for its peer to come online before a sealed copy goes to the peer's mailbox, ms. @default 5000 */
  depositDelay?: number
  /** How often outboxes are looked at for deposits, and our mailbox is collected from, ms. @default 30000 */
  interval?: number
  /** Protocol timeouts. */
  protocol?: MailboxInit
}

export interface MailboxDeps {
  libp2p: Libp2p
  /** The mailbox protocol: a libp2p service, which asks `hold` when it starts (node/services.ts). */
  protocol: MailboxProtocol
  privateKey: PrivateKey
  store: Store
  chat: ChatProtocol
  policy: Policy
  log: Logger
  resolvePeer: (ref: string) => Promise<string>
  displayName: (peerId: string) => string
  /** Peers whose mailbox we keep on disk (contacts, peers we chatted with); others' only in memory. */
  known: (peerId: string) => boolean
}

/** Most peers whose announced mailbox is kept in memory only (anyone can greet under new peer ids). */
const MAX_ANNOUNCED = 4096
/** Most message ids owed an ack per peer (the sender resends anything else anyway). */
const MAX_OWED = 4096
/** Most addresses we tell for our mailbox. */
const MAX_ADDRS = 8

/**
 * The mailbox, node side: which mailbox we use (told to peers over chat), the mailboxes peers told us, deposits of
 * sealed copies of waiting messages at a contact's mailbox when the contact stays away, collection of what waits at
 * ours (stored exactly once, in order, through the chat protocol's own checks), and the acks that go back the same
 * way (the deposits themselves: node/mailbox-deposits.ts). With `service`, the node is a mailbox for others too.
 */
export class NodeMailbox implements MailboxApi {
  private readonly deps: MailboxDeps
  private readonly options: MailboxOptions
  private mailboxHold: MailboxHold | undefined
  private readonly book: MailboxBook
  private readonly interval: number
  private own: MailboxAddress | undefined
  /** Mailboxes peers announced, for peers not (yet) kept on disk. */
  private readonly announced = new Map<string, MailboxAddress | null>()
  /** What goes to contacts' mailboxes (node/mailbox-deposits.ts), with the acks we owe for what we collected. */
  private readonly deposits: MailboxDeposits
  private collecting: Promise<number> | undefined
  private lastCollect: { at: number; count: number; error?: string } | undefined
  private ticker: NodeJS.Timeout | undefined
  private stopped = false
  /** Aborted on stop: deposits and collections under way end at once. */
  private readonly stopping = new AbortController()
  /** Collecting failed this many times in a row: the periodic tries back off (1, 2, 4, ... intervals, ≤ 10 min). */
  private collectFailures = 0
  private nextCollect = 0
  private readonly onConnect = (evt: CustomEvent<PeerId>) => {
    if (this.own != null && evt.detail.toString() === this.own.peerId) void this.collectNow()
  }

  constructor(deps: MailboxDeps, options: MailboxOptions = {}) {
    this.deps = deps
    this.options = options
    this.book = new MailboxBook(deps.store)
    this.interval = options.interval ?? 30_000
    this.deposits = new MailboxDeposits(deps, {
      book: this.book,
      protocol: () => this.protocol,
      mailboxOf: (peer) => this.mailboxOf(peer),
      signal: this.stopping.signal,
      interval: this.interval,
      depositDelay: options.depositDelay ?? 5000
    })
  }

  /** The mailbox protocol (a libp2p service). */
  get protocol(): MailboxProtocol {
    return this.deps.protocol
  }

  /** What this node holds for others, if it serves as a mailbox (once started). */
  get hold(): MailboxHold | undefined {
    return this.mailboxHold
  }

  /** Our mailbox, for the chat greeting. */
  ownMailbox(): PeerMailbox | undefined {
    return this.own
  }

  /**
   * Open the hold before libp2p starts: the protocol service registers its handler then, before libp2p listens,
   * so that no peer that connects early finds a node without its mailbox service.
   */
  async prepare(): Promise<void> {
    const { deps, options } = this
    if (options.service != null && options.service !== false) {
      const custom = options.service === true ? {} : options.service
      this.mailboxHold = await MailboxHold.open(deps.store, {
        ttlMs: DEFAULT_TTL_MS,
        perSender: DEFAULT_PER_SENDER,
        perRecipient: DEFAULT_PER_RECIPIENT,
        maxSenders: DEFAULT_MAX_SENDERS,
        maxOwners: DEFAULT_MAX_OWNERS,
        ...custom
      })
    }
    this.own = await this.book.own()
    for (const { mailbox: m } of await this.book.all()) deps.policy.services.add(m.peerId)
    if (this.own != null) deps.policy.services.add(this.own.peerId)
  }

  /** Listen to the node's events and start depositing and collecting (once libp2p runs). */
  async start(): Promise<void> {
    const { libp2p, chat } = this.deps
    libp2p.addEventListener('peer:connect', this.onConnect)
    chat.addEventListener('mailbox', (evt) => void this.learn(evt.detail.peer, evt.detail.mailbox))
    chat.addEventListener('presence', (evt) => {
      const { peer, here } = evt.detail
      // Here: the chat stream delivers (and acks) what waits, both ways. Gone: what waits may go to its mailbox.
      if (here) this.deposits.owed.delete(peer)
      else this.deposits.queued(peer)
    })
    this.ticker = setInterval(() => void this.tick(), this.interval)
    this.ticker.unref()
    void this.tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.stopping.abort(new Error('node stopping'))
    clearInterval(this.ticker)
    this.deps.libp2p.removeEventListener('peer:connect', this.onConnect)
    await Promise.allSettled([this.deposits.stop(), this.collecting])
  }

  // ---- API ---------------------------------------------------------------------------------------------------

  async mailbox(): Promise<MailboxStatus> {
    await this.keepKnown()
    const contacts = [] as MailboxStatus['contacts']
    for (const { peerId, mailbox } of await this.book.all()) {
      const waiting = firstTexts(await this.deps.store.outbox(peerId, { limit: 1000 }))
      const run = await this.book.run(peerId)
      const deposited =
        run == null || run.mailbox !== mailbox.peerId ? 0 : waiting.filter((e) => e.seq <= run.through).length
      contacts.push({ peerId, name: this.deps.displayName(peerId), mailbox: mailbox.peerId, waiting: waiting.length, deposited })
    }
    const own = this.own
    return {
      mailbox:
        own == null
          ? null
          : {
              peerId: own.peerId,
              name: this.deps.displayName(own.peerId),
              addrs: own.addrs,
              connected: this.deps.libp2p.getConnections(peerIdFromString(own.peerId)).length > 0,
              ...(this.lastCollect != null
                ? {
                    lastCollect: this.lastCollect.at,
                    collected: this.lastCollect.count,
                    ...(this.lastCollect.error != null ? { error: this.lastCollect.error } : {})
                  }
                : {})
            },
      service:
        this.hold == null
          ? null
          : { owners: this.hold.ownerCount, ttlMs: this.hold.ttlMs, limits: limitsOf(this.hold.limits) },
      contacts
    }
  }

  async setMailbox(ref: string): Promise<MailboxStatus> {
    const peerId = await this.deps.resolvePeer(ref)
    if (peerId === this.deps.libp2p.peerId.toString()) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'that is this node: a node cannot be its own mailbox', {
        hint: 'name an always-on node of yours that runs p2pnode start --mailbox-service'
      })
    }
    const known = await this.deps.libp2p.peerStore.get(peerIdFromString(peerId)).catch(() => undefined)
    const addrs = (known?.addresses ?? []).map((a) => a.multiaddr.toString()).slice(0, MAX_ADDRS)
    const previous = this.own
    this.deps.policy.services.add(peerId)
    this.own = { peerId, addrs }
    try {
      // Collecting registers us with the mailbox: proof that it serves us before we tell anyone to use it.
      await this.collectNow({ strict: true })
    } catch (err) {
      this.own = previous
      if (previous?.peerId !== peerId) this.deps.policy.services.delete(peerId)
      if (isP2pError(err)) throw err
      const refused = err instanceof MailboxRefusedError
      throw new P2pError(
        ErrorCode.MAILBOX_FAILED,
        `${peerId} cannot be your mailbox: ${refused ? err.message.replace(`${peerId} `, 'it ') : errorText(err)}`,
        {
          hint: refused
            ? 'run the mailbox node with p2pnode start --mailbox-service, or name another'
            : 'check that the mailbox node runs and can be reached (p2pnode dial <its multiaddr>)',
          cause: err
        }
      )
    }
    await this.book.setOwn(this.own)
    this.deps.chat.announceMailbox()
    return this.mailbox()
  }

  async removeMailbox(): Promise<MailboxStatus> {
    this.own = undefined
    await this.book.setOwn(undefined)
    this.deps.chat.announceMailbox()
    return this.mailbox()
  }

  // ---- what peers tell us ------------------------------------------------------------------------------------

  private async learn(peer: string, mailbox: PeerMailbox | null): Promise<void> {
    try {
      const address = mailbox == null ? undefined : { peerId: mailbox.peerId, addrs: mailbox.addrs }
      if (address != null) this.deps.policy.services.add(address.peerId)
      // Perhaps a new mailbox, or new addresses: worth trying at once.
      this.deposits.retryNow(peer)
      if (this.deps.known(peer)) {
        const before = await this.book.of(peer)
        if (JSON.stringify(before) !== JSON.stringify(address)) await this.book.setOf(peer, address)
        this.announced.delete(peer)
      } else {
        this.announced.delete(peer)
        this.announced.set(peer, address ?? null)
        if (this.announced.size > MAX_ANNOUNCED) this.announced.delete(this.announced.keys().next().value ?? peer)
      }
    } catch (err) {
      this.deps.log.error('could not save the mailbox of %s: %s', peer, errorText(err))
    }
  }

  /**
   * A friend's invite (node/refs.ts), with the mailbox it names if any: taken as if the friend had told us over chat,
   * through the same book (what it tells us there later replaces it). Returns the mailbox we now know for the
   * friend (an invite without one leaves what the friend told us before).
   */
  async fromInvite(peer: string, mailbox: PeerMailbox | undefined): Promise<string | undefined> {
    if (mailbox != null) await this.learn(peer, mailbox)
    return (await this.mailboxOf(peer).catch(() => undefined))?.peerId
  }

  /** Mailboxes heard from peers that have since become contacts or peers we chat with: kept on disk from now on. */
  private async keepKnown(): Promise<void> {
    for (const [peer, mailbox] of [...this.announced]) {
      if (!this.deps.known(peer)) continue
      this.announced.delete(peer)
      if (mailbox != null) await this.book.setOf(peer, mailbox)
    }
  }

  private async mailboxOf(peer: string): Promise<MailboxAddress | undefined> {
    const stored = await this.book.of(peer)
    if (stored != null) return stored
    const heard = this.announced.get(peer)
    if (heard != null && this.deps.known(peer)) {
      // We wrote to it since it told us: keep it from now on.
      await this.book.setOf(peer, heard)
      this.announced.delete(peer)
    }
    return heard ?? undefined
  }

  // ---- deposits ----------------------------------------------------------------------------------------------

  /** A message for `peer` waits in the outbox: if the peer stays away, a sealed copy goes to its mailbox. */
  queued(peer: string): void {
    this.deposits.queued(peer)
  }

  /** Every interval: deposits for every peer with something waiting (or acks owed), and a collection when due. */
  private async tick(): Promise<void> {
    if (this.stopped) return
    try {
      await this.keepKnown()
      for (const peer of new Set([...(await this.deps.store.peersWithOutbox()), ...this.deposits.owed.keys()])) {
        await this.deposits.depositFor(peer)
      }
    } catch (err) {
      this.deps.log.error('mailbox deposits failed: %s', errorText(err))
    }
    if (this.own != null && Date.now() >= this.nextCollect) await this.collectNow().catch(() => {})
  }

  // ---- collecting --------------------------------------------------------------------------------------------

  /** Collect what our mailbox holds now (one collection at a time). `strict`: errors are thrown, not logged. */
  async collectNow(options: { strict?: boolean } = {}): Promise<number> {
    if (this.collecting != null) {
      // Its own caller hears of its failure; this one gets 0 (a fire-and-forget call must not see a rejection).
      if (options.strict !== true) return this.collecting.catch(() => 0)
      await this.collecting.catch(() => 0)
    }
    const own = this.own
    if (own == null || this.stopped || this.deps.policy.visibility === 'hidden') return 0
    const run = (async () => {
      await reach(this.deps.libp2p, own)
      const count = await this.protocol.collect(own.peerId, (batch) => this.received(batch), {
        signal: this.stopping.signal
      })
      this.lastCollect = { at: Date.now(), count }
      this.collectFailures = 0
      this.nextCollect = 0
      if (count > 0) this.deps.log('collected %d envelopes from %s', count, own.peerId)
      for (const peer of this.deposits.owed.keys()) void this.deposits.depositFor(peer)
      return count
    })()
    this.collecting = run
    try {
      return await run
    } catch (err) {
      this.lastCollect = { at: Date.now(), count: 0, error: errorText(err) }
      if (options.strict === true) throw err
      const wait = Math.min(MAX_BACKOFF_MS, this.interval * 2 ** this.collectFailures++)
      this.nextCollect = Date.now() + wait
      this.deps.log.error('collecting from %s failed: %s; trying again in %d ms', own.peerId, errorText(err), wait)
      return 0
    } finally {
      if (this.collecting === run) this.collecting = undefined
    }
  }

  /** A collected batch: stored through the chat protocol (in order, once), acks owed noted; bad ones dropped. */
  private async received(batch: CollectedEnvelope[]): Promise<void> {
    for (const envelope of batch) {
      if (envelope.error != null) {
        this.deps.log.error('dropped an envelope from our mailbox: %s', errorText(envelope.error))
        continue
      }
      const { sender, frames } = envelope
      let result
      try {
        result = await this.deps.chat.acceptRelayed(sender, frames)
      } catch (err) {
        if ((err as Error).name !== 'ProtocolViolationError') throw err
        this.deps.log.error('dropped an envelope from %s: %s', sender, errorText(err))
        continue
      }
      if (result.refused) {
        this.deps.log('dropped an envelope from %s: the policy does not let it reach us', sender)
        continue
      }
      if (result.received.length === 0) continue
      let set = this.deposits.owed.get(sender)
      if (set == null) {
        set = new Set()
        this.deposits.owed.set(sender, set)
      }
      for (const id of result.received) if (set.size < MAX_OWED) set.add(id)
    }
  }
}

function limitsOf({ ttlMs, perSender, perRecipient, maxSenders, maxOwners }: HoldLimits): MailboxLimits {
  return { ttlMs, perSender, perRecipient, maxSenders, maxOwners }
}

