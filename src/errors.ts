/**
 * Error codes are a contract: scripts match on them (`--json` output, API responses, exit codes).
 * They are listed in README.md and never renamed.
 */
export const ErrorCode = {
  /** Thrown when a second node opens a data dir that a running node holds. */
  LEVEL_LOCKED: 'LEVEL_LOCKED',
  /** Thrown when the data dir cannot be created or is not a directory. */
  DATA_DIR_INVALID: 'DATA_DIR_INVALID',
  /** Thrown by CLI commands when no node is running on the data dir. */
  NO_NODE: 'NO_NODE',
  /** Thrown when a peer name or id matches no known peer. */
  PEER_NOT_FOUND: 'PEER_NOT_FOUND',
  /** Thrown when a display name matches more than one peer. */
  PEER_AMBIGUOUS: 'PEER_AMBIGUOUS',
  /** Thrown when a string is not a valid multiaddr. */
  INVALID_MULTIADDR: 'INVALID_MULTIADDR',
  /** Thrown when a dial fails or times out. */
  DIAL_FAILED: 'DIAL_FAILED',
  /** Thrown when a message text is empty or larger than the protocol allows. */
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  /** Thrown when a request argument is missing or malformed. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** Thrown when a stored record fails its integrity check (edited outside p2pnode). */
  RECORD_TAMPERED: 'RECORD_TAMPERED',
  /** Thrown when an action needs a peer that is blocked (unblock it first). */
  PEER_BLOCKED: 'PEER_BLOCKED',
  /** Thrown when a peer proved not to be a p2pnode node (another libp2p program): nothing can be sent to it. */
  PEER_NOT_P2PNODE: 'PEER_NOT_P2PNODE',
  /** Thrown when a transfer id matches no transfer. */
  TRANSFER_NOT_FOUND: 'TRANSFER_NOT_FOUND',
  /** Thrown when a file to send does not exist, is not a regular file, cannot be read or is too large. */
  FILE_NOT_READABLE: 'FILE_NOT_READABLE',
  /** Thrown when a file transfer ends failed or cancelled (send-file), or cannot be accepted or cancelled. */
  TRANSFER_FAILED: 'TRANSFER_FAILED',
  /**
   * Thrown when the data dir's store is damaged, or its parts (identity.key, store.secret, db/) do not belong
   * together: the node refuses to start on it. `details` names the file and the problem; `p2pnode doctor` says more.
   */
  STORE_DAMAGED: 'STORE_DAMAGED',
  /** Thrown when the node already serves as many of something as it allows (event streams open at once). */
  BUSY: 'BUSY',
  /** Thrown by the web server when a request carries neither its session cookie nor its token (HTTP 401). */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** Thrown by the web server for a Host that is not its address, or a foreign Origin on a change (HTTP 403). */
  FORBIDDEN: 'FORBIDDEN',
  /** Thrown by `p2pnode web` when the node runs without its web app (`--no-web`). */
  WEB_OFF: 'WEB_OFF',
  /** Thrown by `mailbox set` when the peer cannot be our mailbox: it runs no mailbox service, refuses us, or is unreachable. */
  MAILBOX_FAILED: 'MAILBOX_FAILED',
  /** Thrown when a group name or id matches none of our groups. */
  GROUP_NOT_FOUND: 'GROUP_NOT_FOUND',
  /** Thrown when someone other than a group's admin tries to change its membership or name. */
  NOT_GROUP_ADMIN: 'NOT_GROUP_ADMIN',
  /** Thrown when a group would have more than 256 members. */
  GROUP_FULL: 'GROUP_FULL',
  /** Thrown when something unexpected fails inside the node. */
  INTERNAL: 'INTERNAL'
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** One error class for every expected failure; told apart by `code`. */
export class P2pError extends Error {
  override name = 'P2pError'
  readonly code: ErrorCode
  /** What the user can type or do instead, if there is something. */
  readonly hint?: string
  /** Extra machine-readable detail (e.g. candidate peers for PEER_AMBIGUOUS). */
  readonly details?: unknown

  constructor(code: ErrorCode, message: string, options: { hint?: string; details?: unknown; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.code = code
    this.hint = options.hint
    this.details = options.details
  }
}

export function isP2pError(err: unknown): err is P2pError {
  return err instanceof P2pError
}
