/** The sender's side of a fetch stream: the receiver's wants in, the chunks they name out. */
import type { FileHandle } from 'node:fs/promises'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { TransferRecord } from '../../store/index.ts'
import { isEOF } from '../util.ts'
import { chunkCount, chunkLength } from './chunks.ts'
import { MAX_QUEUED_CHUNKS } from './constants.ts'
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
