/** The receiver's side of a fetch stream: wants out, chunks in, each verified, written and recorded. */
import type { Logger } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { TransferRecord } from '../../store/index.ts'
import type { ChunkWriter } from './chunk-writer.ts'
import { chunkLength } from './chunks.ts'
import { HASH_BYTES, MAX_CHUNK_RETRIES, MAX_QUEUED_RANGES } from './constants.ts'
import { FileProtocolError, HashMismatchError } from './errors.ts'
import { ChunkBuffers, decodeFetchFrame, fetchField, stopError } from './frames.ts'
import type { FileStore } from './index.ts'
import { FetchFrame } from './pb/file.ts'

export interface ReceiveContext {
  record: TransferRecord
  lp: LengthPrefixedStream
  /** The transfer's chunk hashes, 32 bytes each. */
  hashes: Uint8Array
  /** Indices still missing, as a stack: lowest index last. */
  missing: number[]
  /** 1 for each chunk on disk and recorded (filled in here). */
  done: Uint8Array
  sink: ChunkWriter
  store: Pick<FileStore, 'addVerified'>
  /** Chunks asked for and not yet written, at most. */
  window: number
  frameTimeout: number
  log: Logger
  /** A chunk of `bytes` is on disk and recorded. */
  onRecorded(bytes: number): void
}

/**
 * Ask for the missing chunks, a window at a time; each chunk that arrives goes to the sink (hashed, checked and
 * written, on the thread pool) and, once written, is recorded; meanwhile the next ones arrive. The window counts
 * chunks asked for and not yet written, so at most `window` chunks are ever buffered on our side or in flight.
 */
export async function receiveChunks(ctx: ReceiveContext): Promise<void> {
  const { record, lp, hashes, missing, done, sink, window } = ctx
  const { id } = record
  /** Indices asked for, in the order the sender sends them. */
  const expected: number[] = []
  /** Chunks being verified and written. */
  const jobs = new Set<Promise<void>>()
  /** Chunks written, being recorded. */
  const recording = new Set<Promise<void>>()
  const retries = new Map<number, number>()
  const buffers = new ChunkBuffers(window)
  let failure: unknown
  let left = missing.length
  const check = async (index: number, data: Uint8Array) => {
    const expectedHash = hashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES)
    const good =
      data.byteLength === chunkLength(record, index) &&
      (await sink.write(id, index, index * record.chunkSize, data, expectedHash))
    if (!good) {
      const tries = (retries.get(index) ?? 0) + 1
      retries.set(index, tries)
      const peer = record.peer
      ctx.log.error('chunk %d of %s from %s is corrupt (%d bytes, try %d)', index, id, peer, data.length, tries)
      if (tries >= MAX_CHUNK_RETRIES) {
        throw new HashMismatchError(`chunk ${index} failed verification ${tries} times: the sender's data is corrupt`)
      }
      missing.push(index) // asked for again next
      return
    }
    // On disk first, then recorded: a recorded chunk is always in the file, even after kill -9. Its place in the
    // window is free from now on (records are tiny, and group-committed).
    const recorded: Promise<void> = ctx.store
      .addVerified(id, index)
      .then(() => {
        done[index] = 1
        left--
        ctx.onRecorded(chunkLength(record, index))
      })
      .catch((err: unknown) => {
        failure ??= err
      })
      .finally(() => recording.delete(recorded))
    recording.add(recorded)
  }
  /**
   * Top the window up with runs of consecutive missing chunks (missing is a stack: lowest index last). Called
   * whenever a chunk is written, not only when the next one arrives, so that the sender never waits for us; but
   * while chunks are on their way, only once half the window is free (fewer, larger Wants: every frame we send
   * costs both sides a write). Each Want is one frame in one write: calls from here and there cannot interleave.
   */
  const topUp = () => {
    const free = window - expected.length - jobs.size
    if (expected.length > 0 && free < Math.min(Math.ceil(window / 2), missing.length)) return
    const wants: Uint8Array[] = []
    while (expected.length + jobs.size < window && missing.length > 0) {
      const first = missing.pop() ?? 0
      let count = 1
      while (expected.length + jobs.size + count < window && missing.at(-1) === first + count) {
        missing.pop()
        count++
      }
      for (let i = 0; i < count; i++) expected.push(first + i)
      wants.push(FetchFrame.encode({ want: { first, count } }))
    }
    if (wants.length > 0) {
      lp.writeV(wants).catch((err: unknown) => {
        failure ??= err
      })
    }
  }
  try {
    while (left > 0) {
      if (failure != null) throw failure
      topUp()
      if (expected.length === 0) {
        // Everything asked for has arrived; wait for checks, the disk and the records.
        await Promise.race([...jobs, ...recording])
        continue
      }
      const frame = decodeFetchFrame(await lp.read({ signal: AbortSignal.timeout(ctx.frameTimeout) }), (length) =>
        buffers.take(length)
      )
      if (frame.stop != null) throw stopError(frame.stop)
      const chunk = fetchField(frame, 'chunk')
      const index = expected.shift() ?? -1
      if (chunk.index !== index) throw new FileProtocolError(`got chunk ${chunk.index}, asked for ${index}`)
      const job: Promise<void> = check(index, chunk.data)
        .catch((err: unknown) => {
          failure ??= err
        })
        .finally(() => {
          // Hashed and written (or refused): the chunk's bytes are not needed any more.
          buffers.give(chunk.data)
          jobs.delete(job)
          if (failure == null) topUp()
        })
      jobs.add(job)
    }
  } finally {
    // Nothing of this run is still being written or recorded when the caller moves on (to discard, say).
    await Promise.allSettled(jobs)
    await Promise.allSettled(recording)
  }
  if (failure != null) throw failure
}

/**
 * Version 3 (/chat/1.0/file/fetch/3): ask for every missing chunk as ranges (at most MAX_QUEUED_RANGES / 2 queued;
 * more as those complete) and grant `window` chunks of credit; each chunk that arrives is checked against its leaf
 * and written, and once written gives its credit back (in grants of a quarter of the window). The sender streams
 * without waiting for us while we keep up; at most `window` chunks are ever in flight or buffered here.
 */
export async function receiveStream(ctx: ReceiveContext): Promise<void> {
  const { record, lp, hashes, missing, done, sink, window } = ctx
  const { id } = record
  /** Ranges asked for, in the order the sender sends them: [next, end). */
  const asked: Array<{ next: number; end: number }> = []
  const jobs = new Set<Promise<void>>()
  const recording = new Set<Promise<void>>()
  const retries = new Map<number, number>()
  const buffers = new ChunkBuffers(window)
  const grantEvery = Math.max(1, Math.floor(window / 4))
  let failure: unknown
  let left = missing.length
  let freed = 0
  /** Chunk frames read off the stream (told to the sender, which then reuses their buffers). */
  let read = 0
  const send = (frames: Uint8Array[]) => {
    if (frames.length === 0) return
    lp.writeV(frames).catch((err: unknown) => {
      failure ??= err
    })
  }
  /** Queue runs of consecutive missing chunks as Want ranges (missing is a stack: lowest index last). */
  const ask = () => {
    const wants: Uint8Array[] = []
    while (asked.length < MAX_QUEUED_RANGES / 2 && missing.length > 0) {
      const first = missing.pop() ?? 0
      let count = 1
      while (missing.at(-1) === first + count) {
        missing.pop()
        count++
      }
      asked.push({ next: first, end: first + count })
      wants.push(FetchFrame.encode({ want: { first, count } }))
    }
    send(wants)
  }
  const giveBack = () => {
    if (++freed < grantEvery || failure != null) return
    send([FetchFrame.encode({ credit: { chunks: freed, received: read } })])
    freed = 0
  }
  const check = async (index: number, data: Uint8Array) => {
    const leaf = hashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES)
    const good =
      data.byteLength === chunkLength(record, index) &&
      (await sink.write(id, index, index * record.chunkSize, data, leaf, 'blake3'))
    if (!good) {
      const tries = (retries.get(index) ?? 0) + 1
      retries.set(index, tries)
      ctx.log.error('chunk %d of %s from %s is corrupt (%d bytes, try %d)', index, id, record.peer, data.length, tries)
      if (tries >= MAX_CHUNK_RETRIES) {
        throw new HashMismatchError(`chunk ${index} failed verification ${tries} times: the sender's data is corrupt`)
      }
      missing.push(index) // asked for again, at the end of the queue
      ask()
      return
    }
    const recorded: Promise<void> = ctx.store
      .addVerified(id, index)
      .then(() => {
        done[index] = 1
        left--
        ctx.onRecorded(chunkLength(record, index))
      })
      .catch((err: unknown) => {
        failure ??= err
      })
      .finally(() => recording.delete(recorded))
    recording.add(recorded)
  }
  try {
    ask()
    if (left > 0) send([FetchFrame.encode({ credit: { chunks: window, received: 0 } })])
    while (left > 0) {
      if (failure != null) throw failure
      if (asked.length === 0) {
        // Everything asked for has arrived; wait for checks, the disk and the records.
        if (jobs.size + recording.size === 0) throw new FileProtocolError('nothing asked for, yet chunks missing')
        await Promise.race([...jobs, ...recording])
        continue
      }
      const frame = decodeFetchFrame(await lp.read({ signal: AbortSignal.timeout(ctx.frameTimeout) }), (length) =>
        buffers.take(length)
      )
      if (frame.stop != null) throw stopError(frame.stop)
      const chunk = fetchField(frame, 'chunk')
      read++
      const range = asked[0]
      const index = range.next++
      if (range.next >= range.end) {
        asked.shift()
        ask()
      }
      if (chunk.index !== index) throw new FileProtocolError(`got chunk ${chunk.index}, asked for ${index}`)
      const job: Promise<void> = check(index, chunk.data)
        .catch((err: unknown) => {
          failure ??= err
        })
        .finally(() => {
          buffers.give(chunk.data)
          jobs.delete(job)
          giveBack()
        })
      jobs.add(job)
    }
  } finally {
    await Promise.allSettled(jobs)
    await Promise.allSettled(recording)
  }
  if (failure != null) throw failure
}
