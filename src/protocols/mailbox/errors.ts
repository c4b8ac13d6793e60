/** Thrown when a peer sends a mailbox frame that breaks the protocol's rules (wrong kind, bad field, oversize). */
export class MailboxProtocolError extends Error {
  static readonly NAME = 'MailboxProtocolError'
  override name = MailboxProtocolError.NAME
}

/** Thrown when an envelope cannot be opened: malformed, not for us, a signature that does not verify, or forged. */
export class EnvelopeError extends Error {
  static readonly NAME = 'EnvelopeError'
  override name = EnvelopeError.NAME
}

/** Thrown when a mailbox refuses a deposit or a collect (the status and its reason say why). */
export class MailboxRefusedError extends Error {
  static readonly NAME = 'MailboxRefusedError'
  override name = MailboxRefusedError.NAME
  /** The mailbox's answer: QUOTA, GAP, REFUSED, INVALID (or NOT_MAILBOX: the peer runs no mailbox service). */
  readonly status: string

  constructor(status: string, message: string) {
    super(message)
    this.status = status
  }
}

/** Thrown when a mailbox or its client does not send its next frame in time. */
export class MailboxTimeoutError extends Error {
  static readonly NAME = 'MailboxTimeoutError'
  override name = MailboxTimeoutError.NAME
}
