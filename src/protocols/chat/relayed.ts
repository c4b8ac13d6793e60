import type { StoredMessage } from '../../store/index.ts'
import { MAX_IN_FLIGHT } from './constants.ts'
import { ProtocolViolationError } from './errors.ts'
import { decodeFrame, readAck, readMessage, type WireMessage } from './frames.ts'
import type { ChatStore, OutboxEntry } from './index.ts'

/** What came of frames that arrived another way than a chat stream (see ChatProtocol.acceptRelayed). */
export interface RelayedResult {
  refused: boolean
  /** Ids of the messages in them, stored now or before: what the sender should hear acked. */
  received: string[]
  /** Ids of our messages they acked (now marked delivered). */
  delivered: string[]
}

/**
 * Check frames from `peer` by the chat stream's rules (a message frame or an ack frame each, nothing else), then
 * store the messages in one batch (the store skips duplicates by id, whichever path brought the first copy) and
 * mark what the acks name delivered. Nothing is stored if any frame is bad.
 */
export async function acceptRelayed(
  store: ChatStore,
  peer: string,
  self: string,
  frames: Uint8Array[]
): Promise<{ stored: StoredMessage[]; received: string[]; delivered: string[] }> {
  const messages: WireMessage[] = []
  const acked: string[] = []
  if (frames.length > MAX_IN_FLIGHT) throw new ProtocolViolationError('too many frames')
  for (const bytes of frames) {
    const frame = decodeFrame(bytes)
    if (frame.ack != null && frame.message == null) acked.push(...readAck(frame))
    else messages.push(readMessage(frame))
  }
  const stored =
    messages.length > 0 ? await store.addIncoming(messages.map((m) => ({ ...m, peer, to: self }))) : []
  const entries: OutboxEntry[] = []
  for (const id of new Set(acked)) {
    const entry = await store.outboxEntry(peer, id)
    // Only texts are acked this way: a file entry leaves the outbox when its offer is answered.
    if (entry != null && entry.message.kind !== 'file' && entry.message.kind !== 'voice') entries.push(entry)
  }
  if (entries.length > 0) await store.markDelivered(peer, entries)
  return { stored, received: messages.map((m) => m.id), delivered: entries.map((e) => e.message.id) }
}
