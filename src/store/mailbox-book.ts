import type { Parts, Sub } from './keys.ts'

/** A mailbox node: its peer id and the addresses to reach it at. */
export interface MailboxAddress {
  peerId: string
  addrs: string[]
}

/** Our run of envelopes at a contact's mailbox (see MailboxHold): where the next deposit continues. */
export interface DepositRun {
  /** The mailbox the run is at. */
  mailbox: string
  /** Id (hex) of our last envelope held there. */
  last: string
  /** Seq of the last outbox entry deposited (entries after it go next). */
  through: string
  /** When the run's first envelope was deposited, ms: the run is broken once that one expires. */
  started: number
  /** The mailbox's TTL, ms. */
  ttlMs: number
}

/** A contact's mailbox as kept. */
export interface MailboxPeerValue {
  peerId: string
  mailbox: MailboxAddress
  at: number
}

/** What the book needs of the store. */
export interface MailboxBookHost {
  readonly parts: Parts
  peerKey(peerId: string): string
  getSetting<T>(name: string): Promise<T | undefined>
  setSetting(name: string, value: unknown): Promise<void>
}

/**
 * What a node keeps about mailboxes, its own and its contacts' (client side; a mailbox node's holdings are in
 * MailboxHold). Keys never hold peer ids.
 *
 * - `meta` `setting:mailbox`  → MailboxAddress           our mailbox, told to contacts
 * - `mailbox-peers`  `H(peer)` → {peerId, mailbox}      the mailbox each contact told us
 * - `mailbox-runs`   `H(peer)` → DepositRun             our deposit run for that peer
 */
export class MailboxBook {
  private readonly store: MailboxBookHost
  private readonly peers: Sub<MailboxPeerValue>
  private readonly runs: Sub<DepositRun>

  constructor(store: MailboxBookHost) {
    this.store = store
    this.peers = store.parts.mailboxPeers
    this.runs = store.parts.mailboxRuns
  }

  async own(): Promise<MailboxAddress | undefined> {
    return (await this.store.getSetting<MailboxAddress | false>('mailbox')) || undefined
  }

  async setOwn(mailbox: MailboxAddress | undefined): Promise<void> {
    // false, not a deletion: settings are only ever put (LevelDB takes no null values).
    await this.store.setSetting('mailbox', mailbox ?? false)
  }

  async of(peer: string): Promise<MailboxAddress | undefined> {
    return (await this.peers.get(this.store.peerKey(peer)))?.mailbox
  }

  async setOf(peer: string, mailbox: MailboxAddress | undefined): Promise<void> {
    const key = this.store.peerKey(peer)
    if (mailbox == null) await this.peers.del(key)
    else await this.peers.put(key, { peerId: peer, mailbox, at: Date.now() })
  }

  /** Every contact's mailbox we know. */
  async all(): Promise<Array<{ peerId: string; mailbox: MailboxAddress }>> {
    return (await this.peers.values().all()).map(({ peerId, mailbox }) => ({ peerId, mailbox }))
  }

  async run(peer: string): Promise<DepositRun | undefined> {
    return this.runs.get(this.store.peerKey(peer))
  }

  async setRun(peer: string, run: DepositRun | undefined): Promise<void> {
    const key = this.store.peerKey(peer)
    if (run == null) await this.runs.del(key)
    else await this.runs.put(key, run)
  }
}
