/** Thrown when a peer sends a frame that breaks the /chat/1.0 rules (wrong type, bad field, oversize). */
export class ProtocolViolationError extends Error {
  static readonly NAME = 'ProtocolViolationError'
  override name = ProtocolViolationError.NAME
}

/** Thrown when a peer does not greet, or does not ack in-flight messages, in time. */
export class ChatTimeoutError extends Error {
  static readonly NAME = 'ChatTimeoutError'
  override name = ChatTimeoutError.NAME
}

/** Thrown when a chat stream is wanted to a peer that has no open connection (connecting is the node's job). */
export { NotConnectedError } from '../peer-streams.ts'
