/** Chunk arithmetic and whole-file hashing, through one reused buffer. */
import { createHash } from 'node:crypto'
import { open, stat } from 'node:fs/promises'
import type { TransferRecord } from '../../store/index.ts'
import { HASH_BYTES } from './constants.ts'

/** Read size when hashing a whole file: large reads, few calls. */
const HASH_READ_BYTES = 1024 * 1024

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize)
}

export function chunkLength(record: Pick<TransferRecord, 'size' | 'chunkSize'>, index: number): number {
  return Math.min(record.chunkSize, record.size - index * record.chunkSize)
}

/**
 * A file's bytes in order, read into one reused buffer: each piece is valid only until the next is asked for.
 * (A read stream allocates a new buffer per read, which for a file of several GiB means a lot of garbage and a
 * high peak RSS before the collector catches up.)
 */
async function* readPieces(path: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r')
  const buf = Buffer.allocUnsafeSlow(HASH_READ_BYTES)
  try {
    for (let pos = 0; ; ) {
      options.signal?.throwIfAborted()
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos)
      if (bytesRead === 0) return
      pos += bytesRead
      yield buf.subarray(0, bytesRead)
    }
  } finally {
    await fh.close()
  }
}

/** SHA-256 of a file, read in large pieces (never the whole file in memory). */
export async function hashFile(
  path: string,
  chunkSize: number,
  options: { signal?: AbortSignal } = {}
): Promise<{ sha256: string; hashes: Uint8Array }> {
  const st = await stat(path)
  const n = chunkCount(st.size, chunkSize)
  const hashes = new Uint8Array(n * HASH_BYTES)
  const whole = createHash('sha256')
  let chunk = createHash('sha256')
  let inChunk = 0
  let index = 0
  for await (const piece of readPieces(path, options)) {
    whole.update(piece)
    let off = 0
    while (off < piece.byteLength) {
      const take = Math.min(chunkSize - inChunk, piece.byteLength - off)
      chunk.update(piece.subarray(off, off + take))
      inChunk += take
      off += take
      if (inChunk === chunkSize) {
        if (index >= n) throw new Error(`${path} changed while it was read`)
        hashes.set(chunk.digest(), index++ * HASH_BYTES)
        chunk = createHash('sha256')
        inChunk = 0
      }
    }
  }
  if (inChunk > 0 && index < n) hashes.set(chunk.digest(), index++ * HASH_BYTES)
  if (index !== n) throw new Error(`${path} changed while it was read`)
  return { sha256: whole.digest('hex'), hashes }
}

/** SHA-256 of a file (hex). */
export async function hashWhole(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const piece of readPieces(path)) hash.update(piece)
  return hash.digest('hex')
}
