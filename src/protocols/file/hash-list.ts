/**
 * The chunk hash list on the wire: written by the sender (after a version-1 offer, or on a fetch stream when the
 * receiver asks for it) and read by the receiver one frame at a time, so that what a peer merely declares costs
 * nothing until the receiver decides to keep it.
 */
import { createHash } from 'node:crypto'
import type { LengthPrefixedStream } from '@libp2p/utils'
import { HASH_BYTES, HASHES_PER_FRAME } from './constants.ts'
import { FileProtocolError, HashMismatchError } from './errors.ts'
import { fetchField, offerField, readFrame, stopError } from './frames.ts'
import { FetchFrame, OfferFrame } from './pb/file.ts'
import { treeRoot } from './tree.ts'

/** SHA-256 of the concatenated chunk hashes: what a version-2 offer carries instead of the list. */
export function listDigest(hashes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(hashes).digest())
}

/** The list as frames of at most HASHES_PER_FRAME hashes: OfferFrame.hashes or FetchFrame.hashes. */
export function hashFrames(hashes: Uint8Array<ArrayBuffer>, on: 'offer' | 'fetch'): Uint8Array[] {
  const frames: Uint8Array[] = []
  const step = HASHES_PER_FRAME * HASH_BYTES
  for (let off = 0; off < hashes.byteLength; off += step) {
    const sha256 = hashes.subarray(off, off + step)
    frames.push(on === 'offer' ? OfferFrame.encode({ hashes: { sha256 } }) : FetchFrame.encode({ hashes: { sha256 } }))
  }
  return frames
}

/**
 * Read the hashes of `chunks` chunks that follow a version-1 offer. With `keep` false (an offer that waits for the
 * user) they are checked for size and dropped as they come: a peer that declares 64 GiB in 64 KiB chunks holds one
 * frame of our memory, not a 32 MiB list. Returns the list when kept.
 */
export async function readOfferedHashes(
  lp: LengthPrefixedStream,
  chunks: number,
  keep: boolean,
  timeout: number
): Promise<Uint8Array | undefined> {
  return readList(lp, chunks, keep, async () => offerField(await readFrame(lp, OfferFrame, timeout), 'hashes'))
}

/**
 * Read the hash list a sender writes on a fetch stream (asked for with Fetch.hashes) and check it against the
 * digest its offer carried. Throws the sender's Stop as a TransferStoppedError.
 */
export async function readFetchedHashes(
  lp: LengthPrefixedStream,
  chunks: number,
  digest: Uint8Array,
  timeout: number
): Promise<Uint8Array> {
  const list =
    (await readList(lp, chunks, true, async () => {
      const frame = await readFrame(lp, FetchFrame, timeout)
      if (frame.stop != null) throw stopError(frame.stop)
      return fetchField(frame, 'hashes')
    })) ?? new Uint8Array(0)
  if (Buffer.compare(listDigest(list), digest) !== 0) {
    throw new FileProtocolError('the chunk hashes do not match the digest in the offer')
  }
  return list
}

/**
 * Version 3: read the leaves a sender writes on a fetch stream and check them against the root its offer carried
 * (for the file's size and chunk size). Leaves that do not match are a HashMismatchError: the transfer fails.
 */
export async function readFetchedLeaves(
  lp: LengthPrefixedStream,
  file: { size: number; chunkSize: number },
  root: Uint8Array,
  timeout: number
): Promise<Uint8Array> {
  const chunks = Math.ceil(file.size / file.chunkSize)
  const list =
    chunks === 0
      ? new Uint8Array(0)
      : ((await readList(lp, chunks, true, async () => {
          const frame = await readFrame(lp, FetchFrame, timeout)
          if (frame.stop != null) throw stopError(frame.stop)
          return fetchField(frame, 'hashes')
        })) ?? new Uint8Array(0))
  checkLeaves(list, file, root)
  return list
}

/** Leaves that do not add up to `root` for this size and chunk size: a HashMismatchError. */
export function checkLeaves(leaves: Uint8Array, file: { size: number; chunkSize: number }, root: Uint8Array): void {
  if (Buffer.compare(treeRoot(leaves, file.size, file.chunkSize), root) !== 0) {
    throw new HashMismatchError('the chunk hashes do not add up to the root in the offer (wrong root)')
  }
}

async function readList(
  lp: LengthPrefixedStream,
  chunks: number,
  keep: boolean,
  next: () => Promise<{ sha256: Uint8Array }>
): Promise<Uint8Array | undefined> {
  const total = chunks * HASH_BYTES
  const list = keep ? new Uint8Array(total) : undefined
  let have = 0
  while (have < total) {
    const part = (await next()).sha256
    if (part.byteLength === 0 || part.byteLength % HASH_BYTES !== 0 || have + part.byteLength > total) {
      throw new FileProtocolError('chunk hashes do not match the file size')
    }
    list?.set(part, have)
    have += part.byteLength
  }
  return list
}
