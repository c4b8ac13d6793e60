/** Frame helpers of the file protocol: reading and checking frames, and the chunk frame without copies. */
import type { LengthPrefixedStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { onlyField } from '../util.ts'
import { MAX_REASON_BYTES } from './constants.ts'
import { FileProtocolError, TransferStoppedError } from './errors.ts'
import { FetchFrame, type OfferFrame, Stop } from './pb/file.ts'

/** A peer's text, cut to what we keep of it. */
export function clip(text: string, max = MAX_REASON_BYTES): string {
  return Buffer.from(text).subarray(0, max).toString()
}

/** The next frame, decoded, within `timeout` ms; a frame that does not decode is a FileProtocolError. */
export async function readFrame<T>(
  lp: LengthPrefixedStream,
  codec: { decode(buf: Uint8Array | Uint8ArrayList): T },
  timeout: number
): Promise<T> {
  const bytes = await lp.read({ signal: AbortSignal.timeout(timeout) })
  try {
    return codec.decode(bytes)
  } catch (err) {
    throw new FileProtocolError(`malformed frame of ${bytes.byteLength} bytes (${(err as Error).message})`)
  }
}

const OFFER_KEYS: ReadonlyArray<keyof OfferFrame> = ['offer', 'hashes', 'reply']
const FETCH_KEYS: ReadonlyArray<keyof FetchFrame> = ['fetch', 'want', 'chunk', 'stop', 'hashes', 'credit']

/** The one field an offer-stream frame carries, checked to be `key`. */
export function offerField<K extends keyof OfferFrame>(frame: OfferFrame, key: K): NonNullable<OfferFrame[K]> {
  return onlyField(frame, key, OFFER_KEYS, (m) => new FileProtocolError(m))
}

/** The one field a fetch-stream frame carries, checked to be `key`. */
export function fetchField<K extends keyof FetchFrame>(frame: FetchFrame, key: K): NonNullable<FetchFrame[K]> {
  return onlyField(frame, key, FETCH_KEYS, (m) => new FileProtocolError(m))
}

/** The error a receiver throws for the sender's Stop. */
export function stopError(stop: Stop): TransferStoppedError {
  const texts: Record<Stop.Reason, string> = {
    [Stop.Reason.CANCELLED]: 'cancelled by the sender',
    [Stop.Reason.UNAVAILABLE]: 'the sender no longer has the file',
    [Stop.Reason.BAD_REQUEST]: 'the sender does not know this transfer',
    [Stop.Reason.COMPLETE]: 'the sender says it is complete',
    [Stop.Reason.FAILED]: 'the sender gave up'
  }
  const err = new TransferStoppedError(`${texts[stop.reason]}${stop.detail !== '' ? `: ${clip(stop.detail)}` : ''}`)
  err.reason = stop.reason
  return err
}

/** Bytes of an unsigned varint. */
function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

/** Write an unsigned varint at `off`; returns the offset after it. */
function putVarint(n: number, buf: Uint8Array, off: number): number {
  while (n >= 0x80) {
    buf[off++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  buf[off++] = n
  return off
}

/**
 * `FetchFrame{chunk{index, data}}` exactly as protons encodes it, but as a list that points at `data` instead of
 * a copy of it: a chunk goes to the stream without being copied first.
 */
export function chunkFrame(index: number, data: Uint8Array<ArrayBuffer>): Uint8ArrayList {
  if (data.byteLength === 0) return new Uint8ArrayList(FetchFrame.encode({ chunk: { index, data } }))
  // proto3 leaves a zero index out.
  const inner = (index === 0 ? 0 : 1 + varintLength(index)) + 1 + varintLength(data.byteLength)
  const innerLength = inner + data.byteLength
  const header = new Uint8Array(1 + varintLength(innerLength) + inner)
  header[0] = 0x1a // field 3 (chunk), length-delimited
  let off = putVarint(innerLength, header, 1)
  if (index !== 0) {
    header[off++] = 0x08 // field 1 (index), varint
    off = putVarint(index, header, off)
  }
  header[off++] = 0x12 // field 2 (data), length-delimited
  putVarint(data.byteLength, header, off)
  return new Uint8ArrayList(header, data)
}

/** Read an unsigned varint of at most 5 bytes at `off` in a list: [value, offset after it], or undefined. */
function getVarint(list: Uint8ArrayList, off: number): [number, number] | undefined {
  let value = 0
  for (let shift = 0; shift < 35 && off < list.byteLength; shift += 7) {
    const b = list.get(off++)
    value += (b & 0x7f) * 2 ** shift
    if (b < 0x80) return [value, off]
  }
  return undefined
}

/**
 * The counterpart of chunkFrame() for the receiver: a fetch-stream frame laid out exactly as chunkFrame writes it
 * becomes `{index, data}` with the data copied once, straight from the stream's buffers (protons would first join
 * them into one array and hand out a view of it). Any other frame is decoded by protons.
 */
export function decodeFetchFrame(
  bytes: Uint8ArrayList,
  alloc: (length: number) => Uint8Array<ArrayBuffer> = (length) => new Uint8Array(length)
): FetchFrame {
  const fast = (): FetchFrame | undefined => {
    if (bytes.byteLength < 4 || bytes.get(0) !== 0x1a) return undefined
    const inner = getVarint(bytes, 1)
    if (inner == null || inner[1] + inner[0] !== bytes.byteLength) return undefined
    let off = inner[1]
    let index = 0
    if (bytes.get(off) === 0x08) {
      const i = getVarint(bytes, off + 1)
      if (i == null) return undefined
      ;[index, off] = i
    }
    if (off >= bytes.byteLength || bytes.get(off) !== 0x12) return undefined
    const len = getVarint(bytes, off + 1)
    if (len == null || len[1] + len[0] !== bytes.byteLength) return undefined
    const data = alloc(len[0])
    let at = 0
    for (const buf of bytes.sublist(len[1])) {
      data.set(buf, at)
      at += buf.byteLength
    }
    return { chunk: { index, data } }
  }
  try {
    return fast() ?? FetchFrame.decode(bytes)
  } catch (err) {
    throw new FileProtocolError(`malformed frame of ${bytes.byteLength} bytes (${(err as Error).message})`)
  }
}

/**
 * Chunk-sized buffers handed back once a chunk is written, for the next chunk frames: a transfer reuses a window's
 * worth of buffers instead of allocating (and the GC collecting) one per chunk. Buffers are not zeroed: each is
 * filled whole before use.
 */
export class ChunkBuffers {
  private readonly free: Array<Uint8Array<ArrayBuffer>> = []

  constructor(private readonly max: number) {}

  /** A buffer of `length` bytes: a recycled one if it has that length, else a new one. */
  take(length: number): Uint8Array<ArrayBuffer> {
    const buf = this.free.pop()
    if (buf?.byteLength === length) return buf
    const fresh = Buffer.allocUnsafeSlow(length)
    return new Uint8Array(fresh.buffer, fresh.byteOffset, length)
  }

  /** Hand `buf` back; nothing may use it afterwards. */
  give(buf: Uint8Array<ArrayBuffer>): void {
    if (this.free.length < this.max) this.free.push(buf)
  }
}
