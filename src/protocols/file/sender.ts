/** The sender's side of a fetch stream: the receiver's wants in, the chunks they name out. */
import type { FileHandle } from 'node:fs/promises'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { TransferRecord } from '../../store/index.ts'
import { isEOF } from '../util.ts'
import { chunkCount, chunkLength } from './chunks.ts'
import { MAX_CREDIT_CHUNKS, MAX_QUEUED_CHUNKS, MAX_QUEUED_RANGES, READ_AHEAD_CHUNKS } from './constants.ts'
import { FileProtocolError } from './errors.ts'
import { chunkFrame, fetchField, readFrame } from './frames.ts'
import { FetchFrame, type Stop } from './pb/file.ts'

/**
 * Read Want frames as they come and write the chunks they ask for, in order, at the stream's pace (the next chunk
 * is read from disk while one goes out). Returns the receiver's Stop, or undefined if it just closed the stream.
 * `onSent(bytes)` is called after each chunk is written to the stream.
 */
export async function serveChunks(
  record: TransferRecord,
  lp: LengthPrefixedStream,
  fh: FileHandle,
  frameTimeout: number,
  onSent: (bytes: number) => void
): Promise<Stop | undefined> {
  const n = chunkCount(record.size, record.chunkSize)
  const queue: number[] = []
  let wake = Promise.withResolvers<void>()
  let ended = false
  let outcome: Stop | undefined
  const reader = (async () => {
    try {
      for (;;) {
        let frame: FetchFrame
        try {
          // Between wants the receiver is writing to disk: a generous, but bounded, wait.
          frame = await readFrame(lp, FetchFrame, frameTimeout)
        } catch (err) {
          if (isEOF(err)) return
          throw err
        }
        if (frame.stop != null) {
          outcome = frame.stop
          return
        }
        const want = fetchField(frame, 'want')
        if (want.count < 1 || want.first + want.count > n) {
          throw new FileProtocolError(`asked for chunks ${want.first}+${want.count} of a file of ${n} chunks`)
        }
        if (queue.length + want.count > MAX_QUEUED_CHUNKS) throw new FileProtocolError('too many chunks asked for')
        for (let i = 0; i < want.count; i++) queue.push(want.first + i)
        wake.resolve()
      }
    } finally {
      ended = true
      wake.resolve()
    }
  })()
  const readChunk = async (index: number): Promise<Uint8Array<ArrayBuffer>> => {
    const length = chunkLength(record, index)
    // Its own memory (not a slice of Node's shared pool), not zeroed: it is filled from the file at once.
    const buf = Buffer.allocUnsafeSlow(length)
    const data = new Uint8Array(buf.buffer, buf.byteOffset, length)
    const { bytesRead } = await fh.read(data, 0, length, index * record.chunkSize)
    if (bytesRead !== length) throw new Error(`${record.path} is shorter than offered`)
    return data
  }
  let ahead: { index: number; data: Promise<Uint8Array<ArrayBuffer>> } | undefined
  const writer = (async () => {
    for (;;) {
      const index = queue.shift()
      if (index == null) {
        if (ended) return
        await wake.promise
        wake = Promise.withResolvers()
        continue
      }
      const length = chunkLength(record, index)
      // The next chunk is read from disk while this one goes out.
      const data = await (ahead?.index === index ? ahead.data : readChunk(index))
      ahead = queue.length > 0 ? { index: queue[0], data: readChunk(queue[0]) } : undefined
      ahead?.data.catch(() => {}) // awaited (and its error thrown) on its turn
      await lp.write(chunkFrame(index, data))
      onSent(length)
    }
  })()
  // Either side failing ends the other: a reset stream makes the reader throw, and so on.
  await Promise.all([reader, writer])
  return outcome
}

/**
 * The sender's side of a /chat/1.0/file/fetch/3 stream: the receiver queues the ranges it lacks (Want) and grants
 * credit (Credit, in chunks); chunks go out in the order asked for while there is credit, without waiting for the
 * receiver between them, the next few read from disk meanwhile. The stream's own drain is the other backpressure.
 * Returns the receiver's Stop, or undefined if it just closed the stream.
 */
export async function streamChunks(
  record: TransferRecord,
  lp: LengthPrefixedStream,
  fh: FileHandle,
  frameTimeout: number,
  onSent: (bytes: number) => void
): Promise<Stop | undefined> {
  const n = chunkCount(record.size, record.chunkSize)
  /** Ranges asked for: [next, end). */
  const ranges: Array<{ next: number; end: number }> = []
  let credit = 0
  let wake = Promise.withResolvers<void>()
  let ended = false
  let outcome: Stop | undefined
  const buffers = new SentBuffers(record.chunkSize)
  const reader = (async () => {
    try {
      for (;;) {
        let frame: FetchFrame
        try {
          frame = await readFrame(lp, FetchFrame, frameTimeout)
        } catch (err) {
          if (isEOF(err)) return
          throw err
        }
        if (frame.stop != null) {
          outcome = frame.stop
          return
        }
        if (frame.credit != null && frame.want == null) {
          const grant = fetchField(frame, 'credit')
          credit += grant.chunks
          if (credit > MAX_CREDIT_CHUNKS) throw new FileProtocolError(`granted ${credit} chunks of credit`)
          buffers.received(grant.received)
        } else {
          const want = fetchField(frame, 'want')
          if (want.count < 1 || want.first + want.count > n) {
            throw new FileProtocolError(`asked for chunks ${want.first}+${want.count} of a file of ${n} chunks`)
          }
          if (ranges.length >= MAX_QUEUED_RANGES) throw new FileProtocolError('too many ranges asked for')
          ranges.push({ next: want.first, end: want.first + want.count })
        }
        wake.resolve()
      }
    } finally {
      ended = true
      wake.resolve()
    }
  })()
  const readChunk = async (index: number): Promise<Uint8Array<ArrayBuffer>> => {
    const length = chunkLength(record, index)
    const data = buffers.take().subarray(0, length)
    const { bytesRead } = await fh.read(data, 0, length, index * record.chunkSize)
    if (bytesRead !== length) throw new Error(`${record.path} is shorter than offered`)
    return data
  }
  /** Chunks being read, in the order they go out. */
  const ahead: Array<{ index: number; data: Promise<Uint8Array<ArrayBuffer>> }> = []
  const fill = () => {
    while (ahead.length < READ_AHEAD_CHUNKS && ranges.length > 0) {
      const range = ranges[0]
      const index = range.next++
      if (range.next >= range.end) ranges.shift()
      const data = readChunk(index)
      data.catch(() => {}) // awaited (and its error thrown) on its turn
      ahead.push({ index, data })
    }
  }
  const writer = (async () => {
    for (;;) {
      // The receiver stopped (or closed): nothing more goes out.
      if (ended) return
      fill()
      if (ahead.length === 0 || credit === 0) {
        if (ended) return
        await wake.promise
        wake = Promise.withResolvers()
        continue
      }
      const { index, data } = ahead.shift() as (typeof ahead)[number]
      credit--
      const bytes = await data
      fill()
      buffers.sent(bytes)
      await lp.write(chunkFrame(index, bytes))
      onSent(bytes.byteLength)
    }
  })()
  await Promise.all([reader, writer])
  return outcome
}

/**
 * Chunk buffers of a fetch/3 sender, used again once the receiver says it has read the chunk they held: until then
 * the bytes may still wait in the muxer's or Noise's write buffer (those keep references, not copies). A chunk the
 * receiver has read was encrypted and sent, so its memory is ours again. Reading into a few recycled buffers
 * instead of a fresh 256 KiB one per chunk spares the collector: new external memory is what made V8 run a full
 * marking every few dozen MiB (a fifth of the sender's CPU).
 */
export class SentBuffers {
  private readonly size: number
  private readonly free: Array<Uint8Array<ArrayBuffer>> = []
  /** Buffers of chunks sent, oldest first, with their place in the stream's order of chunks. */
  private readonly inFlight: Array<{ seq: number; buf: Uint8Array<ArrayBuffer> }> = []
  private seq = 0

  constructor(size: number) {
    this.size = size
  }

  /** A buffer of the chunk size: a recycled one, else a new one (not zeroed: it is filled from the file). */
  take(): Uint8Array<ArrayBuffer> {
    const buf = this.free.pop()
    if (buf != null) return buf
    const fresh = Buffer.allocUnsafeSlow(this.size)
    return new Uint8Array(fresh.buffer, fresh.byteOffset, this.size)
  }

  /** `data` (a view of a buffer from take()) goes out now, as the next chunk on the stream. */
  sent(data: Uint8Array<ArrayBuffer>): void {
    this.inFlight.push({ seq: this.seq++, buf: new Uint8Array(data.buffer, 0, this.size) })
  }

  /** The receiver has read `count` chunks off the stream: their buffers are free. */
  received(count: number): void {
    while (this.inFlight.length > 0 && this.inFlight[0].seq < count) {
      this.free.push((this.inFlight.shift() as (typeof this.inFlight)[number]).buf)
    }
  }
}
