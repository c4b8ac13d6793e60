/** The mailbox part of the local API (implemented by node/mailbox.ts). */

export interface MailboxLimits {
  ttlMs: number
  perSender: { envelopes: number; bytes: number }
  perRecipient: { envelopes: number; bytes: number }
  maxSenders: number
  maxOwners: number
}

export interface MailboxStatus {
  /** The mailbox we use (told to our contacts), or null. */
  mailbox: {
    peerId: string
    name: string
    addrs: string[]
    connected: boolean
    /** When we last collected from it (ms), how many envelopes that brought, and why it failed if it did. */
    lastCollect?: number
    collected?: number
    error?: string
  } | null
  /** What this node holds as a mailbox for others (`start --mailbox-service`), or null. */
  service: { owners: number; ttlMs: number; limits: MailboxLimits } | null
  /**
   * The mailboxes our contacts told us; `waiting`: our texts for the contact not yet acknowledged (up to its first
   * file, which needs a direct connection), `deposited`: how many of them are at its mailbox.
   */
  contacts: Array<{ peerId: string; name: string; mailbox: string; waiting: number; deposited: number }>
}

export interface MailboxApi {
  mailbox(): Promise<MailboxStatus>
  /** Use `peer` (a node running `--mailbox-service`) as our mailbox: registers with it, then tells contacts. */
  setMailbox(peer: string): Promise<MailboxStatus>
  /** Use no mailbox (contacts are told). */
  removeMailbox(): Promise<MailboxStatus>
}
