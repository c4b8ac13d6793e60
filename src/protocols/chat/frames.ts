import ansiRegex from 'ansi-regex'
import type { Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import { fromHex, onlyField, toHex } from '../util.ts'
import {
  ID_BYTES,
  MAX_CLOCK_SKEW_MS,
  MAX_FRAME_BYTES,
  MAX_IN_FLIGHT,
  MAX_NAME_BYTES,
  MAX_TEXT_BYTES
} from './constants.ts'
import { ProtocolViolationError } from './errors.ts'
import { type Ack, type ChatMessage, Frame, type Hello, type MailboxInfo } from './pb/chat.ts'
import { GROUP_ID_BYTES } from './constants.ts'

/** A checked incoming message, ids as hex. */
export interface WireMessage {
  id: string
  timestamp: number
  text: string
  replyTo?: string
  /** The newest of our timestamps the sender had when it wrote this (absent from 0.1 senders). */
  after?: number
  /** Encoded size on the wire, bytes (what the receiver buffers for it). */
  size: number
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text)
}

/** Every field of a Frame: a frame carries exactly one. */
const FRAME_FIELDS: ReadonlyArray<keyof Frame> = ['hello', 'message', 'ack', 'groupMessage', 'groupChange', 'refused', 'groupLeave']

/** Which single field a frame carries; more or fewer than one is a violation. */
function only<K extends keyof Frame>(frame: Frame, key: K): NonNullable<Frame[K]> {
  return onlyField(frame, key, FRAME_FIELDS, (m) => new ProtocolViolationError(m))
}

/** What the stream's opener may send after its greeting, checked. */
export type InboundItem =
  | { type: 'message'; message: WireMessage }
  | { type: 'group-message'; message: WireMessage & { group: string; groupVersion: number } }
  | { type: 'group-change'; id: string; state: Uint8Array; signature: Uint8Array; size: number }
  | { type: 'group-leave'; id: string; group: string; size: number }

/** The id an inbound item is acked (or refused) by. */
export function itemId(item: InboundItem): string {
  return item.type === 'message' || item.type === 'group-message' ? item.message.id : item.id
}

export function itemSize(item: InboundItem): number {
  return item.type === 'message' || item.type === 'group-message' ? item.message.size : item.size
}

export function readInbound(frame: Frame, now = Date.now()): InboundItem {
  if (frame.groupMessage != null) {
    const gm = only(frame, 'groupMessage')
    if (gm.group == null || gm.group.byteLength !== GROUP_ID_BYTES) {
      throw new ProtocolViolationError(`a group message carries its ${GROUP_ID_BYTES}-byte group id`)
    }
    const message = checkMessage(gm, now)
    return { type: 'group-message', message: { ...message, group: toHex(gm.group), groupVersion: Number(gm.groupVersion ?? 0n) } }
  }
  if (frame.groupChange != null) {
    const change = only(frame, 'groupChange')
    if (change.id.byteLength !== ID_BYTES) throw new ProtocolViolationError(`change id must be ${ID_BYTES} bytes`)
    return {
      type: 'group-change',
      id: toHex(change.id),
      state: change.state,
      signature: change.signature,
      size: change.state.byteLength + change.signature.byteLength + 64
    }
  }
  if (frame.groupLeave != null) {
    const leave = only(frame, 'groupLeave')
    if (leave.id.byteLength !== ID_BYTES || leave.group.byteLength !== GROUP_ID_BYTES) {
      throw new ProtocolViolationError('malformed group leave')
    }
    return { type: 'group-leave', id: toHex(leave.id), group: toHex(leave.group), size: 64 }
  }
  return { type: 'message', message: readMessage(frame, now) }
}

/** What the acceptor sends back: ids stored (ack) or not (refused, with why). */
export type Answer = { type: 'ack'; ids: string[] } | { type: 'refused'; ids: string[]; reason: string }

export function readAnswer(frame: Frame): Answer {
  if (frame.refused != null) {
    const refused = only(frame, 'refused')
    if (refused.ids.length > MAX_IN_FLIGHT) throw new ProtocolViolationError('too many ids in one refusal')
    if (Buffer.byteLength(refused.reason) > MAX_NAME_BYTES) throw new ProtocolViolationError('refusal reason too long')
    return { type: 'refused', ids: refused.ids.map(checkedId), reason: sanitizeName(refused.reason) }
  }
  return { type: 'ack', ids: readAck(frame) }
}

function checkedId(id: Uint8Array): string {
  if (id.byteLength !== ID_BYTES) throw new ProtocolViolationError(`acked id must be ${ID_BYTES} bytes`)
  return toHex(id)
}

export function readHello(frame: Frame): Hello {
  const hello = only(frame, 'hello')
  if (byteLength(hello.name) > MAX_NAME_BYTES) throw new ProtocolViolationError('name too long')
  if (byteLength(hello.version) > MAX_NAME_BYTES) throw new ProtocolViolationError('version too long')
  return { name: sanitizeName(hello.name), version: hello.version }
}

/** Most relay addresses one greeting may carry, and their longest: see `Reach` in chat.proto. */
export const MAX_REACH_ADDRS = 8
export const MAX_REACH_ADDR_BYTES = 256

/** The relay addresses beside a greeting (none from peers that send none). */
export function readReach(frame: Frame): string[] {
  const addrs = frame.reach?.relayAddrs ?? []
  if (addrs.length > MAX_REACH_ADDRS) throw new ProtocolViolationError('too many relay addresses')
  if (addrs.some((a) => byteLength(a) > MAX_REACH_ADDR_BYTES)) throw new ProtocolViolationError('relay address too long')
  return addrs
}

export function readMessage(frame: Frame, now = Date.now()): WireMessage {
  const msg: ChatMessage = only(frame, 'message')
  if (msg.group != null || msg.groupVersion != null) throw new ProtocolViolationError('a group field in a one-to-one message')
  return checkMessage(msg, now)
}

function checkMessage(msg: ChatMessage, now: number): WireMessage {
  if (msg.id.byteLength !== ID_BYTES) throw new ProtocolViolationError(`message id must be ${ID_BYTES} bytes`)
  if (msg.replyTo != null && msg.replyTo.byteLength !== ID_BYTES) {
    throw new ProtocolViolationError(`reply-to id must be ${ID_BYTES} bytes`)
  }
  const textBytes = Buffer.byteLength(msg.text)
  if (textBytes > MAX_TEXT_BYTES) throw new ProtocolViolationError('text too long')
  const timestamp = Number(msg.timestamp)
  if (timestamp > now + MAX_CLOCK_SKEW_MS) throw new ProtocolViolationError('timestamp too far in the future')
  return {
    id: toHex(msg.id),
    timestamp,
    text: msg.text,
    // id + text + timestamp and protobuf/length overhead: an upper bound of the encoded frame
    size: msg.id.byteLength * 2 + textBytes + 32,
    ...(msg.replyTo != null ? { replyTo: toHex(msg.replyTo) } : {}),
    ...(msg.after != null && msg.after > 0n ? { after: Number(msg.after) } : {})
  }
}

/** A peer's mailbox as it told us: its peer id and addresses, or null for none. */
export interface PeerMailbox {
  peerId: string
  addrs: string[]
}

/** Most addresses a mailbox announcement may carry, and their longest. */
const MAX_MAILBOX_ADDRS = 8
const MAX_ADDR_BYTES = 256

/** Check a mailbox announcement (a Frame's `mailbox` field): null when it says "none". */
export function readMailboxInfo(info: MailboxInfo): PeerMailbox | null {
  if (info.peer === '') return null
  if (info.peer.length > 128 || !/^[1-9A-HJ-NP-Za-km-z]+$/.test(info.peer)) {
    throw new ProtocolViolationError('the mailbox is not a peer id')
  }
  if (info.addrs.length > MAX_MAILBOX_ADDRS) throw new ProtocolViolationError('too many mailbox addresses')
  for (const a of info.addrs) {
    if (byteLength(a) > MAX_ADDR_BYTES || !a.startsWith('/')) throw new ProtocolViolationError('a bad mailbox address')
  }
  return { peerId: info.peer, addrs: info.addrs }
}

/** A frame that carries only a mailbox announcement (an update, sent by the opener after the greeting). */
export function isMailboxUpdate(frame: Frame): boolean {
  return frame.mailbox != null && FRAME_FIELDS.every((k) => frame[k] == null)
}

/** One of our stored messages as the frame that carries it (on a chat stream or in a mailbox envelope). */
export function messageFrame(m: { id: string; timestamp: number; text: string; replyTo?: string; after?: number }): Uint8Array<ArrayBuffer> {
  return Frame.encode({
    message: {
      id: fromHex(m.id),
      timestamp: BigInt(m.timestamp),
      text: m.text,
      ...(m.replyTo != null ? { replyTo: fromHex(m.replyTo) } : {}),
      ...(m.after != null ? { after: BigInt(m.after) } : {})
    }
  })
}

export function readAck(frame: Frame): string[] {
  const ack: Ack = only(frame, 'ack')
  if (ack.ids.length > MAX_IN_FLIGHT) throw new ProtocolViolationError('too many ids in one ack')
  return ack.ids.map((id) => {
    if (id.byteLength !== ID_BYTES) throw new ProtocolViolationError(`acked id must be ${ID_BYTES} bytes`)
    return toHex(id)
  })
}

/** Display names are shown in terminals: no control characters, trimmed. */
/** Terminal escape sequences (CSI, OSC, ...), each matched whole: `\x1b[31m` is one sequence, not ESC + `[31m`. */
const ESCAPE_SEQUENCE = ansiRegex()

export function sanitizeName(name: string): string {
  // Escape sequences and control characters are stripped on purpose (names are printed in terminals): the
  // sequence whole, so that `bob\x1b[31m RED` is `bob RED`, not `bob[31m RED`. Runs of spaces left become one.
  return name.replace(ESCAPE_SEQUENCE, '').replace(/[\p{Cc}\p{Cf}]/gu, '').replace(/\s+/gu, ' ').trim()
}

// ---- stream helpers -------------------------------------------------------------------------------------------

const DECODE_LIMITS = {
  limits: {
    ack: { ids: MAX_IN_FLIGHT },
    refused: { ids: MAX_IN_FLIGHT },
    mailbox: { addrs: MAX_MAILBOX_ADDRS },
    reach: { relayAddrs: MAX_REACH_ADDRS }
  }
}

/** Read one frame; anything that does not decode is a protocol violation. */
export async function readFrame(lp: LengthPrefixedStream, options: { signal?: AbortSignal } = {}): Promise<Frame> {
  return decodeFrame(await lp.read(options))
}

/** Decode one frame's bytes; anything that does not decode is a protocol violation. */
export function decodeFrame(bytes: Uint8Array | Uint8ArrayList): Frame {
  try {
    return Frame.decode(bytes, DECODE_LIMITS)
  } catch (err) {
    throw new ProtocolViolationError(`malformed frame of ${bytes.byteLength} bytes (${(err as Error).message})`)
  }
}

/** Length-prefixed frames on a chat stream, bounded to the largest legal frame. */
export function openFrames(stream: Stream): LengthPrefixedStream {
  return lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
}
