/** Thrown when a peer sends a frame that breaks the /chat/1.0/file rules (wrong type, bad field, oversize). */
export class FileProtocolError extends Error {
  static readonly NAME = 'FileProtocolError'
  override name = FileProtocolError.NAME
}

/** Thrown when a chunk or the whole file does not match the hash in the manifest. */
export class HashMismatchError extends Error {
  static readonly NAME = 'HashMismatchError'
  override name = HashMismatchError.NAME
}

/** Thrown when a suggested file name is unsafe (a `..` component, control characters, a device name). */
export class UnsafeFileNameError extends Error {
  static readonly NAME = 'UnsafeFileNameError'
  override name = UnsafeFileNameError.NAME
}

/** Thrown when a file's chunks would have to go through a relay: it waits for a direct connection. */
export { DirectPathNeededError } from '../peer-streams.ts'

/** Thrown when the peer ends a transfer (cancelled, file gone, bad request). */
export class TransferStoppedError extends Error {
  static readonly NAME = 'TransferStoppedError'
  override name = TransferStoppedError.NAME
  /** The peer's reason, as sent (a `Stop.Reason`). */
  reason?: string
}
