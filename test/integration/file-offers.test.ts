/**
 * What an offer may cost before anyone accepts it (issue 8 item 16): strangers' offers wait, waiting offers keep no
 * chunk hashes and pin no memory, and the number waiting is bounded.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { P2pNode } from '../../src/node/index.ts'
import {
  FETCH_PROTOCOL,
  HASHES_PER_FRAME,
  MAX_FETCH_FRAME_BYTES,
  MAX_OFFER_FRAME_BYTES,
  MAX_WAITING_PER_PEER,
  MIN_CHUNK_SIZE,
  OFFER_PROTOCOL,
  type TransferInfo
} from '../../src/protocols/file/index.ts'
import { FetchFrame, OfferFrame, OfferReply } from '../../src/protocols/file/pb/file.ts'
import { Transfers } from '../../src/store/index.ts'
import { cleanup, holds, tempDir, waitFor } from '../helpers/cli.ts'

const GiB = 1024 ** 3

function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest()
}

async function settled(node: P2pNode, id: string, statuses: string[]): Promise<TransferInfo> {
  return waitFor(
    async () => {
      const t = await node.files.get(id)
      return t != null && statuses.includes(t.status) ? t : undefined
    },
    { what: `transfer ${id} to be ${statuses.join(' or ')}` }
  )
}

describe('offers before they are accepted', () => {
  let dirs: string[]
  let alice: P2pNode
  let bob: P2pNode
  let bobAddr: string
  let stranger: Libp2p

  before(async () => {
    dirs = [await tempDir(), await tempDir(), await tempDir()]
    const start = (dir: string, name: string) =>
      P2pNode.start({
        dataDir: dir,
        name,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        mdns: false,
        // The default frame timeout: 32 MiB of hashes go through one stream on a busy machine.
        files: { retryDelay: 200 }
      })
    alice = await start(dirs[0], 'alice')
    bob = await start(dirs[1], 'bob')
    bobAddr = (await bob.id()).addrs[0]
    await alice.dial(bobAddr)
    // A bare libp2p node speaking version 1 of the offer by hand, as a 0.1 node (or anyone) can.
    stranger = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  })

  after(async () => {
    await stranger.stop()
    await alice.stop()
    await bob.stop()
    await cleanup(...dirs)
  })

  /** Open a version-1 offer of `size` bytes in `chunkSize` chunks and write the offer frame. */
  async function openOffer(size: number, chunkSize: number, name = 'x.bin') {
    const stream = await stranger.dialProtocol(multiaddr(bobAddr), OFFER_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
    const id = new Uint8Array(randomBytes(16))
    await lp.write(
      OfferFrame.encode({
        offer: {
          id,
          name,
          size: BigInt(size),
          mime: 'application/octet-stream',
          chunkSize,
          sha256: new Uint8Array(32),
          timestamp: BigInt(Date.now()),
          listSha256: new Uint8Array(0),
          after: 0n,
          root: new Uint8Array(0)
        }
      })
    )
    return { stream, lp, id: Buffer.from(id).toString('hex'), chunks: Math.ceil(size / chunkSize) }
  }

  it("waits for accept when a stranger offers, however small; accepted, it comes with its hashes (offer 2)", async () => {
    const data = randomBytes(3 * 256 * 1024 + 9)
    const src = join(dirs[2], 'hello.bin')
    await writeFile(src, data)
    // alice and bob never wrote to each other, and neither is the other's contact.
    const sent = await alice.fileApi.sendFile(bob.libp2p.peerId.toString(), src)
    const waiting = await settled(bob, sent.id, ['waiting', 'transferring', 'complete'])
    assert.equal(waiting.status, 'waiting', 'not fetched without asking')
    assert.equal((await new Transfers(bob.store).hashes(sent.id)).byteLength, 0, 'no chunk hashes kept')
    const told = await settled(alice, sent.id, ['waiting'])
    assert.match(told.waitReason ?? '', /only from their contacts and people they wrote to/, 'the sender is told why')
    await bob.fileApi.accept(sent.id)
    const got = await settled(bob, sent.id, ['complete', 'failed'])
    assert.equal(got.status, 'complete', got.error)
    assert.deepEqual(await readFile(got.path), data)
    assert.equal((await new Transfers(bob.store).hashes(sent.id)).byteLength, 4 * 32, 'hashes fetched on accept')
    assert.equal((await settled(alice, sent.id, ['complete'])).status, 'complete')
  })

  it('fetches at once from a peer we wrote to', async () => {
    await bob.send(alice.libp2p.peerId.toString(), 'send me the photo')
    const src = join(dirs[2], 'photo.bin')
    await writeFile(src, randomBytes(1000))
    const sent = await alice.fileApi.sendFile(bob.libp2p.peerId.toString(), src)
    assert.equal((await settled(bob, sent.id, ['complete', 'failed', 'waiting'])).status, 'complete')
  })

  it('keeps no chunk hashes for a waiting 64 GiB offer: the record alone is stored', async () => {
    const { stream, lp, id, chunks } = await openOffer(64 * GiB, MIN_CHUNK_SIZE)
    const frame = new Uint8Array(HASHES_PER_FRAME * 32)
    for (let sent = 0; sent < chunks; sent += HASHES_PER_FRAME) {
      await lp.write(OfferFrame.encode({ hashes: { sha256: frame } }))
    }
    const reply = OfferFrame.decode(await lp.read({ signal: AbortSignal.timeout(30_000) })).reply
    await stream.close()
    assert.equal(reply?.status, OfferReply.Status.WAITING)
    assert.equal((await bob.files.get(id))?.status, 'waiting')
    assert.equal((await new Transfers(bob.store).hashes(id)).byteLength, 0, 'not 32 MiB of hashes')
  })

  it('holds no hash list in memory for offers held open mid-list', async () => {
    // Three offers of 64 GiB in 64 KiB chunks (1,048,576 hashes, 32 MiB each), each stopped after one frame.
    const before = process.memoryUsage().arrayBuffers
    const held = []
    for (let i = 0; i < 3; i++) {
      const o = await openOffer(64 * GiB, MIN_CHUNK_SIZE)
      await o.lp.write(OfferFrame.encode({ hashes: { sha256: new Uint8Array(HASHES_PER_FRAME * 32) } }))
      held.push(o)
    }
    try {
      await holds(1000, async () => {
        const grown = process.memoryUsage().arrayBuffers - before
        assert.ok(grown < 16 * 1024 * 1024, `array buffers grew by ${(grown / 2 ** 20).toFixed(1)} MiB`)
      })
    } finally {
      for (const o of held) o.stream.abort(new Error('done'))
    }
  })

  it(`refuses a peer's offers beyond ${MAX_WAITING_PER_PEER} waiting, and keeps nothing of them`, async () => {
    const before = (await bob.files.list()).length
    // What of the stranger's already waits (the 64 GiB offer above, unless that test failed) counts against the cap.
    const strangerId = stranger.peerId.toString()
    const waitingBefore = (await bob.files.list()).filter((f) => f.peer === strangerId && f.status === 'waiting').length
    const replies: OfferReply[] = []
    for (let i = 0; i < MAX_WAITING_PER_PEER + 2; i++) {
      const { stream, lp } = await openOffer(100, MIN_CHUNK_SIZE, `f${i}.txt`)
      await lp.write(OfferFrame.encode({ hashes: { sha256: new Uint8Array(32) } }))
      const reply = OfferFrame.decode(await lp.read({ signal: AbortSignal.timeout(5000) })).reply
      await stream.close()
      assert.ok(reply != null)
      replies.push(reply)
    }
    const waiting = replies.filter((r) => r.status === OfferReply.Status.WAITING).length
    assert.equal(waiting, MAX_WAITING_PER_PEER - waitingBefore)
    const refused = replies.filter((r) => r.status === OfferReply.Status.REFUSED)
    assert.equal(refused.length, MAX_WAITING_PER_PEER + 2 - waiting)
    assert.ok(refused.length >= 2)
    assert.match(refused[0].reason, /too many files from you wait/)
    assert.equal((await bob.files.list()).length, before + waiting, 'no record of the refused ones')
  })

  it('a version-1 offer accepted after waiting is fetched and checked as a whole', async () => {
    const strangerId = stranger.peerId.toString()
    // Make room: cancel the stranger's waiting offers.
    for (const t of await bob.files.list()) {
      if (t.peer === strangerId && t.status === 'waiting') await bob.files.cancel(t.id)
    }
    const data = randomBytes(2 * MIN_CHUNK_SIZE + 3)
    const stream = await stranger.dialProtocol(multiaddr(bobAddr), OFFER_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
    const id = new Uint8Array(randomBytes(16))
    const hashes = [0, 1, 2].map((i) => sha256(data.subarray(i * MIN_CHUNK_SIZE, (i + 1) * MIN_CHUNK_SIZE)))
    await lp.write(
      OfferFrame.encode({
        offer: {
          id,
          name: 'legacy.bin',
          size: BigInt(data.byteLength),
          mime: 'application/octet-stream',
          chunkSize: MIN_CHUNK_SIZE,
          sha256: new Uint8Array(sha256(data)),
          timestamp: BigInt(Date.now()),
          listSha256: new Uint8Array(0),
          after: 0n,
          root: new Uint8Array(0)
        }
      })
    )
    await lp.write(OfferFrame.encode({ hashes: { sha256: new Uint8Array(Buffer.concat(hashes)) } }))
    assert.equal(OfferFrame.decode(await lp.read()).reply?.status, OfferReply.Status.WAITING)
    await stream.close()
    await stranger.handle(
      FETCH_PROTOCOL,
      async (s: Stream) => {
        const f: LengthPrefixedStream = lpStream(s, { maxDataLength: MAX_FETCH_FRAME_BYTES })
        const fetch = FetchFrame.decode(await f.read()).fetch
        assert.equal(fetch?.hashes, false, 'a version-1 sender is not asked for the list')
        for (;;) {
          const frame = FetchFrame.decode(await f.read({ signal: AbortSignal.timeout(5000) }))
          if (frame.stop != null) return void (await s.close())
          for (let i = frame.want?.first ?? 0; i < (frame.want?.first ?? 0) + (frame.want?.count ?? 0); i++) {
            const chunk = new Uint8Array(data.subarray(i * MIN_CHUNK_SIZE, (i + 1) * MIN_CHUNK_SIZE))
            await f.write(FetchFrame.encode({ chunk: { index: i, data: chunk } }))
          }
        }
      },
      { force: true }
    )
    const hex = Buffer.from(id).toString('hex')
    await bob.fileApi.accept(hex)
    const got = await settled(bob, hex, ['complete', 'failed'])
    assert.equal(got.status, 'complete', got.error)
    assert.deepEqual(await readFile(got.path), data)
  })
})
