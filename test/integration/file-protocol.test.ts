import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { Blake3Hasher, blake3 } from '@napi-rs/blake-hash'
import { createLibp2p } from 'libp2p'
import { MemoryLevel } from 'memory-level'
import { P2pNode } from '../../src/node/index.ts'
import { peerStreams } from '../../src/node/paths.ts'
import type { PeerStreams } from '../../src/protocols/peer-streams.ts'
import {
  files,
  FETCH_PROTOCOL,
  type FileStore,
  MAX_CHUNK_SIZE,
  MAX_FETCH_FRAME_BYTES,
  CREDIT_CHUNKS,
  FETCH_PROTOCOL_V3,
  MAX_OFFER_FRAME_BYTES,
  OFFER_PROTOCOL,
  OFFER_PROTOCOL_V2,
  OFFER_PROTOCOL_V3,
  type TransferInfo
} from '../../src/protocols/file/index.ts'
import { FetchFrame, type Offer, OfferFrame, OfferReply, Stop } from '../../src/protocols/file/pb/file.ts'
import { TREE_CONTEXT } from '../../src/protocols/file/tree.ts'
import { type Db, Store, Transfers } from '../../src/store/index.ts'
import { cleanup, tempDir, waitFor } from '../helpers/cli.ts'

const CHUNK = MAX_CHUNK_SIZE
const exec = promisify(execFile)

async function startNode(dir: string, name: string): Promise<P2pNode> {
  return P2pNode.start({
    dataDir: dir,
    name,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    files: { retryDelay: 200, frameTimeout: 5000 }
  })
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** The hash tree root of offer version 3, computed here from its definition (README, tree.ts). */
function treeRootHex(data: Uint8Array, chunkSize = CHUNK): string {
  const header = Buffer.alloc(12)
  header.writeBigUInt64LE(BigInt(data.byteLength), 0)
  header.writeUInt32LE(chunkSize, 8)
  const root = Blake3Hasher.newDeriveKey(TREE_CONTEXT).update(header)
  for (let off = 0; off < data.byteLength; off += chunkSize) root.update(blake3(Buffer.from(data.subarray(off, off + chunkSize))))
  return root.digest('hex')
}

async function finished(node: P2pNode, id: string): Promise<TransferInfo> {
  return waitFor(
    async () => {
      const t = await node.files.get(id)
      return t != null && ['complete', 'failed', 'cancelled'].includes(t.status) ? t : undefined
    },
    { what: `transfer ${id} to finish` }
  )
}

/**
 * A receiver that is only the file protocol on a bare libp2p node and an in-memory store; `wrap` may replace the
 * store it uses (to make it fail, say). `close()` stops all three.
 */
async function bareReceiver(
  init: { downloadsDir: string; isBlocked?: () => boolean; retryDelay?: number },
  wrap: (transfers: Transfers) => FileStore = (t) => t
) {
  const store = await Store.open(new MemoryLevel<string, string>() as unknown as Db, new Uint8Array(32))
  const { isBlocked = () => false, ...fileInit } = init
  const ref: { streams?: PeerStreams } = {}
  const streams: PeerStreams = { open: (p, protocols, o) => (ref.streams as PeerStreams).open(p, protocols, o) }
  const peer = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The file service, started and stopped by libp2p; identify tells peers it speaks the file protocol.
    services: {
      identify: identify(),
      files: files({ store: wrap(new Transfers(store)), streams, isBlocked, trusts: () => true, ...fileInit })
    }
  })
  ref.streams = peerStreams(peer)
  return {
    peer,
    files: peer.services.files,
    close: async () => {
      await peer.stop()
      await store.close()
    }
  }
}

describe('/chat/1.0/file between two nodes', () => {
  let dirs: string[]
  let alice: P2pNode
  let bob: P2pNode
  let bobId: string

  before(async () => {
    dirs = [await tempDir(), await tempDir(), await tempDir()]
    alice = await startNode(dirs[0], 'alice')
    bob = await startNode(dirs[1], 'bob')
    bobId = bob.libp2p.peerId.toString()
    // Bob keeps alice as a contact: her files are fetched without asking.
    await bob.people.addContact(alice.libp2p.peerId.toString())
    await alice.dial((await bob.id()).addrs[0])
  })

  after(async () => {
    await alice.stop()
    await bob.stop()
    await cleanup(...dirs)
  })

  for (const [label, size] of [
    ['0 bytes', 0],
    ['1 byte', 1],
    ['exactly one chunk', CHUNK],
    ['one chunk + 1', CHUNK + 1],
    ['several chunks', 5 * CHUNK + 123]
  ] as const) {
    it(`delivers ${label} byte-identical, verified, and shows it in the history`, async () => {
      const data = randomBytes(size)
      const src = join(dirs[2], `file-${size}.bin`)
      await writeFile(src, data)
      const sent = await alice.fileApi.sendFile(bobId, src)
      // Offer version 3 between two nodes of this version: the file is known by its tree root, not its SHA-256.
      assert.equal(sent.root, treeRootHex(data))
      assert.equal(sent.sha256, '')
      assert.equal(sent.size, size)
      const got = await finished(bob, sent.id)
      assert.equal(got.status, 'complete', got.error)
      assert.equal(got.direction, 'in')
      assert.equal(got.received, size)
      assert.equal(got.root, sent.root)
      assert.equal(sha256(await readFile(got.path)), sha256(data))
      assert.equal(got.path, join(dirs[1], 'downloads', got.name))
      const mine = await finished(alice, sent.id)
      assert.equal(mine.status, 'complete')
      const history = await bob.history(alice.libp2p.peerId.toString(), { limit: 1 })
      assert.equal(history[0].kind, 'file')
      assert.deepEqual(history[0].file, {
        name: `file-${size}.bin`,
        size,
        sha256: '',
        root: treeRootHex(data),
        mime: 'application/octet-stream',
        status: 'complete'
      })
    })
  }

  it('never overwrites: a second file of the same name gets a suffix', async () => {
    const src = join(dirs[2], 'same.txt')
    await writeFile(src, 'one')
    const a = await finished(bob, (await alice.fileApi.sendFile(bobId, src)).id)
    await writeFile(src, 'two')
    const b = await finished(bob, (await alice.fileApi.sendFile(bobId, src)).id)
    assert.equal(a.path, join(dirs[1], 'downloads', 'same.txt'))
    assert.equal(b.path, join(dirs[1], 'downloads', 'same (1).txt'))
    assert.equal(await readFile(a.path, 'utf8'), 'one')
    assert.equal(await readFile(b.path, 'utf8'), 'two')
    assert.equal(a.mime, 'text/plain')
  })

  it('keeps text messages and file entries in one history, in order', async () => {
    const src = join(dirs[2], 'between.txt')
    await writeFile(src, 'x')
    await alice.send(bobId, 'before the file')
    await finished(bob, (await alice.fileApi.sendFile(bobId, src)).id)
    await alice.send(bobId, 'after the file')
    const h = await alice.history(bobId, { limit: 3 })
    assert.deepEqual(
      h.map((e) => e.kind ?? e.text),
      ['before the file', 'file', 'after the file']
    )
    assert.equal(h[0].kind, undefined, 'text entries keep their shape')
    assert.equal(h[1].status, 'delivered')
  })

  it('holds a file over the auto-accept limit until accepted', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const carol = await P2pNode.start({
      dataDir: dir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      files: { autoAcceptMax: 10 }
    })
    try {
      // A contact: only the size makes it wait.
      await carol.people.addContact(alice.libp2p.peerId.toString())
      await alice.dial((await carol.id()).addrs[0])
      const src = join(dirs[2], 'big.bin')
      await writeFile(src, randomBytes(11))
      const sent = await alice.fileApi.sendFile(carol.libp2p.peerId.toString(), src)
      await waitFor(async () => (await carol.files.get(sent.id))?.status === 'waiting', { what: 'waiting' })
      await waitFor(async () => (await alice.files.get(sent.id))?.status === 'waiting', { what: 'sender waiting' })
      await carol.fileApi.accept(sent.id)
      assert.equal((await finished(carol, sent.id)).status, 'complete')
      assert.equal((await finished(alice, sent.id)).status, 'complete')
    } finally {
      await carol.stop()
    }
  })

  for (const side of ['receiver', 'sender'] as const) {
    it(`stops a transfer cancelled by the ${side} midway, on both sides, and deletes the partial file`, async () => {
      const src = join(dirs[2], `cancel-${side}.bin`)
      const fh = await open(src, 'w')
      const block = randomBytes(1024 * 1024)
      for (let i = 0; i < 96; i++) await fh.write(block, 0, block.byteLength, i * block.byteLength)
      await fh.close()
      const sent = await alice.fileApi.sendFile(bobId, src)
      await waitFor(async () => ((await bob.files.get(sent.id))?.received ?? 0) > 0, { interval: 5, what: 'bytes' })
      const cancelled = await (side === 'receiver' ? bob : alice).files.cancel(sent.id)
      assert.equal(cancelled?.status, 'cancelled', 'cancelled before it completed')
      assert.equal((await finished(alice, sent.id)).status, 'cancelled')
      assert.equal((await finished(bob, sent.id)).status, 'cancelled')
      await waitFor(async () => !(await readdir(join(dirs[1], 'downloads'))).some((f) => f.endsWith('.part')), {
        what: 'the partial file to be deleted'
      })
    })
  }

  it('refuses offers from a blocked peer', async () => {
    // A receiver whose isBlocked says yes to everyone (the node wires it to its block list).
    const { peer, files, close } = await bareReceiver({
      downloadsDir: join(dirs[2], 'blocked-downloads'),
      isBlocked: () => true
    })
    try {
      await alice.libp2p.dial(peer.getMultiaddrs()[0])
      const src = join(dirs[2], 'to-blocked.txt')
      await writeFile(src, 'hi')
      const sent = await alice.fileApi.sendFile(peer.peerId.toString(), src)
      const t = await finished(alice, sent.id)
      assert.equal(t.status, 'failed')
      assert.match(t.error ?? '', /refused by the peer: blocked/)
      assert.deepEqual(await files.list(), [], 'nothing recorded on the receiver')
      await assert.rejects(stat(join(dirs[2], 'blocked-downloads')))
    } finally {
      await close()
    }
  })

  it('a crash between naming a received file and recording it leaves one file under its name, no copy', async () => {
    // The first attempt to record the file complete dies, as a kill -9 right after the file got its name would.
    let crashed = false
    const downloadsDir = join(dirs[2], 'crash-downloads')
    const { peer, files, close } = await bareReceiver({ downloadsDir, retryDelay: 100 }, (transfers) =>
      Object.assign(Object.create(transfers) as Transfers, {
        update: async (id: string, patch: Parameters<Transfers['update']>[1]) => {
          if (patch.status === 'complete' && !crashed) {
            crashed = true
            throw new Error('crashed before recording')
          }
          return transfers.update(id, patch)
        }
      })
    )
    try {
      await alice.libp2p.dial(peer.getMultiaddrs()[0])
      const data = randomBytes(2 * CHUNK + 5)
      const src = join(dirs[2], 'crash.bin')
      await writeFile(src, data)
      const sent = await alice.fileApi.sendFile(peer.peerId.toString(), src)
      const got = await waitFor(
        async () => {
          const t = await files.get(sent.id)
          return t?.status === 'complete' ? t : undefined
        },
        { what: 'the transfer to complete after the crash' }
      )
      assert.ok(crashed, 'the crash happened')
      assert.equal(got.path, join(downloadsDir, 'crash.bin'))
      assert.deepEqual(await readdir(downloadsDir), ['crash.bin'], 'no copy, no temp file left')
      assert.equal(sha256(await readFile(got.path)), sha256(data))
    } finally {
      await close()
    }
  })

  it('cancels a waiting offer on the receiver and tells the connected sender at once', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const dave = await P2pNode.start({
      dataDir: dir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      files: { autoAcceptMax: 0 }
    })
    try {
      await alice.dial((await dave.id()).addrs[0])
      const src = join(dirs[2], 'nope.bin')
      await writeFile(src, 'x')
      const sent = await alice.fileApi.sendFile(dave.libp2p.peerId.toString(), src)
      await waitFor(async () => (await dave.files.get(sent.id))?.status === 'waiting', { what: 'waiting' })
      assert.equal((await dave.fileApi.cancel(sent.id)).status, 'cancelled')
      // Connected: the sender is told at once, without waiting for its next offer.
      assert.equal((await finished(alice, sent.id)).status, 'cancelled')
      alice.files.onConnect(dave.libp2p.peerId.toString())
      assert.equal((await alice.files.get(sent.id))?.status, 'cancelled', 'and it stays cancelled')
      assert.deepEqual(await readdir(join(dir, 'downloads')).catch(() => []), [])
    } finally {
      await dave.stop()
    }
  })
})

describe('/chat/1.0/file onto a full disk', () => {
  const skip = process.platform !== 'linux' || process.getuid?.() !== 0 ? 'needs root (mounts a small tmpfs)' : false

  it('fails the transfer on both sides at once, and leaves nothing on the receiver', { skip }, async () => {
    const dirs = [await tempDir(), await tempDir(), await tempDir()]
    const downloads = join(dirs[1], 'downloads')
    await mkdir(downloads)
    // A 1 MiB file system as the downloads dir: a 3 MiB file cannot fit.
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', downloads])
    const alice = await startNode(dirs[0], 'alice')
    const bob = await P2pNode.start({
      dataDir: dirs[1],
      name: 'bob',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      // Long enough that only being told, not a timeout, ends the sender's wait within the test.
      files: { retryDelay: 200, frameTimeout: 120_000 }
    })
    try {
      await bob.people.addContact(alice.libp2p.peerId.toString())
      await alice.dial((await bob.id()).addrs[0])
      const src = join(dirs[2], 'too-big.bin')
      await writeFile(src, randomBytes(3 * 1024 * 1024))
      const sent = await alice.fileApi.sendFile(bob.libp2p.peerId.toString(), src)
      const there = await finished(bob, sent.id)
      assert.equal(there.status, 'failed')
      assert.equal(there.error, 'disk full')
      // The sender is told at once, on the same connection (no reconnect, no re-offer).
      const here = await finished(alice, sent.id)
      assert.equal(here.status, 'failed')
      assert.equal(here.error, 'the receiver gave up: its disk is full')
      assert.equal(alice.libp2p.getConnections().length, 1, 'still the first connection')
      assert.deepEqual(await readdir(downloads), [], 'no partial file left')
    } finally {
      await alice.stop()
      await bob.stop()
      await exec('umount', [downloads])
      await cleanup(...dirs)
    }
  })
})

/** A bare libp2p node that speaks the file protocols by hand: it can lie about anything. */
describe('/chat/1.0/file against bad peers', () => {
  let dir: string
  let node: P2pNode
  let addr: string
  let raw: Libp2p
  let rawId: string

  before(async () => {
    dir = await tempDir()
    node = await startNode(dir, 'target')
    addr = (await node.id()).addrs[0]
    raw = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    rawId = raw.peerId.toString()
    // A contact: its files are fetched without asking (a stranger's would wait).
    await node.people.addContact(rawId)
  })

  after(async () => {
    await raw.stop()
    await node.stop()
    await cleanup(dir)
  })

  /** Offer `data` under `name` with the given hashes; returns the node's reply. */
  async function offer(
    id: Uint8Array<ArrayBuffer>,
    name: string,
    data: Uint8Array,
    lie: { total?: boolean } = {}
  ): Promise<OfferReply> {
    const stream = await raw.dialProtocol(multiaddr(addr), OFFER_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
    const hashes: Uint8Array[] = []
    for (let off = 0; off < data.byteLength; off += CHUNK) {
      hashes.push(
        createHash('sha256')
          .update(data.subarray(off, off + CHUNK))
          .digest()
      )
    }
    const total = createHash('sha256')
      .update(lie.total ? Buffer.from('something else') : data)
      .digest()
    await lp.write(
      OfferFrame.encode({
        offer: {
          id,
          name,
          size: BigInt(data.byteLength),
          mime: 'application/octet-stream',
          chunkSize: CHUNK,
          sha256: new Uint8Array(total),
          timestamp: BigInt(Date.now()),
          listSha256: new Uint8Array(0),
          after: 0n,
          root: new Uint8Array(0)
        }
      })
    )
    if (hashes.length > 0)
      await lp.write(OfferFrame.encode({ hashes: { sha256: new Uint8Array(Buffer.concat(hashes)) } }))
    const reply = OfferFrame.decode(await lp.read({ signal: AbortSignal.timeout(5000) })).reply
    assert.ok(reply != null)
    return reply
  }

  /** Serve the node's fetch of `data`, corrupting the chunks `corrupt` says to; returns what happened. */
  function serve(data: Uint8Array, corrupt: (index: number, attempt: number) => boolean) {
    const wanted: number[] = []
    const { promise, resolve } = Promise.withResolvers<{ wanted: number[]; stop?: Stop }>()
    void raw.handle(
      FETCH_PROTOCOL,
      async (stream: Stream) => {
        const lp: LengthPrefixedStream = lpStream(stream, { maxDataLength: MAX_FETCH_FRAME_BYTES })
        const attempts = new Map<number, number>()
        try {
          FetchFrame.decode(await lp.read())
          for (;;) {
            const frame = FetchFrame.decode(await lp.read({ signal: AbortSignal.timeout(5000) }))
            if (frame.stop != null) return resolve({ wanted, stop: frame.stop })
            const want = frame.want
            assert.ok(want != null)
            for (let i = want.first; i < want.first + want.count; i++) {
              wanted.push(i)
              const n = (attempts.get(i) ?? 0) + 1
              attempts.set(i, n)
              const chunk = Buffer.from(data.subarray(i * CHUNK, (i + 1) * CHUNK))
              if (corrupt(i, n)) chunk[0] ^= 0xff
              await lp.write(FetchFrame.encode({ chunk: { index: i, data: chunk } }))
            }
          }
        } catch {
          resolve({ wanted })
        }
      },
      { force: true }
    )
    return promise
  }

  function downloads(): Promise<string[]> {
    return readdir(join(dir, 'downloads')).catch(() => [])
  }

  it('refetches a corrupted chunk and completes with the right bytes', async () => {
    const data = randomBytes(3 * CHUNK)
    const served = serve(data, (i, attempt) => i === 1 && attempt === 1)
    const id = new Uint8Array(randomBytes(16))
    assert.equal((await offer(id, 'ok.bin', data)).status, OfferReply.Status.ACCEPTED)
    const t = await finished(node, Buffer.from(id).toString('hex'))
    assert.equal(t.status, 'complete', t.error)
    assert.equal(sha256(await readFile(t.path)), sha256(data))
    const { wanted, stop } = await served
    assert.deepEqual(wanted, [0, 1, 2, 1], 'chunk 1 asked for twice, the others once')
    assert.equal(stop?.reason, Stop.Reason.COMPLETE)
  })

  it('fails a transfer whose chunks stay corrupt, leaving nothing behind', async () => {
    const data = randomBytes(2 * CHUNK)
    const served = serve(data, (i) => i === 0)
    const id = new Uint8Array(randomBytes(16))
    await offer(id, 'bad-chunks.bin', data)
    const t = await finished(node, Buffer.from(id).toString('hex'))
    assert.equal(t.status, 'failed')
    assert.match(t.error ?? '', /chunk 0 failed verification/)
    assert.equal(t.path, '')
    await served
    assert.ok(!(await downloads()).some((f) => f.includes('bad-chunks') || f.endsWith('.part')))
  })

  it('fails a file whose whole-file hash is wrong and presents nothing', async () => {
    const data = randomBytes(CHUNK + 7)
    const served = serve(data, () => false)
    const id = new Uint8Array(randomBytes(16))
    await offer(id, 'liar.bin', data, { total: true })
    const t = await finished(node, Buffer.from(id).toString('hex'))
    assert.equal(t.status, 'failed')
    assert.match(t.error ?? '', /whole-file hash mismatch/)
    assert.equal((await served).stop?.reason, Stop.Reason.FAILED)
    assert.ok(!(await downloads()).some((f) => f.includes('liar') || f.endsWith('.part')))
  })

  it('refuses a path-traversal name and writes nothing anywhere', async () => {
    for (const name of ['../../escape.txt', 'a/../../escape.txt', 'ok\u0007.txt', 'NUL', 'con.txt']) {
      const id = new Uint8Array(randomBytes(16))
      const reply = await offer(id, name, Buffer.from('pwned'))
      assert.equal(reply.status, OfferReply.Status.REFUSED, name)
      assert.match(reply.reason, /unsafe file name/)
      const t = await node.files.get(Buffer.from(id).toString('hex'))
      assert.equal(t?.status, 'failed', 'reported in the receiver’s list')
    }
    await assert.rejects(stat(join(dir, '..', 'escape.txt')))
    await assert.rejects(stat(join(dir, 'escape.txt')))
    assert.ok(!(await downloads()).some((f) => f.includes('escape') || f.includes('pwned')))
  })

  /** Offer version 3 of `data` by hand: the root (or a wrong one); returns the node's reply. */
  async function offerV3(id: Uint8Array<ArrayBuffer>, name: string, data: Uint8Array, root = treeRootHex(data)) {
    const stream = await raw.dialProtocol(multiaddr(addr), OFFER_PROTOCOL_V3)
    const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
    await lp.write(
      OfferFrame.encode({
        offer: {
          id,
          name,
          size: BigInt(data.byteLength),
          mime: 'application/octet-stream',
          chunkSize: CHUNK,
          sha256: new Uint8Array(0),
          timestamp: BigInt(Date.now()),
          listSha256: new Uint8Array(0),
          after: 0n,
          root: new Uint8Array(Buffer.from(root, 'hex'))
        }
      })
    )
    const reply = OfferFrame.decode(await lp.read({ signal: AbortSignal.timeout(5000) })).reply
    assert.ok(reply != null)
    return reply
  }

  /**
   * Serve the node's fetch/3 of `data` (leaves first, then chunks within the credit it grants), corrupting the
   * chunks `corrupt` says to; returns the chunks asked for, the most credit outstanding and the receiver's Stop.
   */
  function serveV3(data: Uint8Array, corrupt: (index: number, attempt: number) => boolean) {
    const wanted: number[] = []
    let most = 0
    const { promise, resolve } = Promise.withResolvers<{ wanted: number[]; most: number; stop?: Stop }>()
    void raw.handle(
      FETCH_PROTOCOL_V3,
      async (stream: Stream) => {
        const lp: LengthPrefixedStream = lpStream(stream, { maxDataLength: MAX_FETCH_FRAME_BYTES })
        const attempts = new Map<number, number>()
        const queue: number[] = []
        let credit = 0
        try {
          const fetch = FetchFrame.decode(await lp.read()).fetch
          assert.equal(fetch?.hashes, data.byteLength > 0, 'the leaves are asked for')
          if (fetch?.hashes === true) {
            const leaves = []
            for (let off = 0; off < data.byteLength; off += CHUNK) leaves.push(blake3(Buffer.from(data.subarray(off, off + CHUNK))))
            await lp.write(FetchFrame.encode({ hashes: { sha256: new Uint8Array(Buffer.concat(leaves)) } }))
          }
          for (;;) {
            const frame = FetchFrame.decode(await lp.read({ signal: AbortSignal.timeout(5000) }))
            if (frame.stop != null) return resolve({ wanted, most, stop: frame.stop })
            if (frame.credit != null) credit += frame.credit.chunks
            if (frame.want != null) for (let i = 0; i < frame.want.count; i++) queue.push(frame.want.first + i)
            most = Math.max(most, credit)
            while (credit > 0 && queue.length > 0) {
              const i = queue.shift() as number
              credit--
              wanted.push(i)
              const n = (attempts.get(i) ?? 0) + 1
              attempts.set(i, n)
              const chunk = Buffer.from(data.subarray(i * CHUNK, (i + 1) * CHUNK))
              if (corrupt(i, n)) chunk[0] ^= 0xff
              await lp.write(FetchFrame.encode({ chunk: { index: i, data: chunk } }))
            }
          }
        } catch {
          resolve({ wanted, most })
        }
      },
      { force: true }
    )
    return promise
  }

  it('offer version 3: refetches a corrupted chunk within the credit, and completes with the right bytes', async () => {
    const data = randomBytes(40 * CHUNK + 3)
    const served = serveV3(data, (i, attempt) => i === 1 && attempt === 1)
    const id = new Uint8Array(randomBytes(16))
    assert.equal((await offerV3(id, 'v3.bin', data)).status, OfferReply.Status.ACCEPTED)
    const t = await finished(node, Buffer.from(id).toString('hex'))
    assert.equal(t.status, 'complete', t.error)
    assert.equal(t.root, treeRootHex(data))
    assert.equal(sha256(await readFile(t.path)), sha256(data))
    const { wanted, most, stop } = await served
    assert.deepEqual(
      wanted,
      [...Array.from({ length: 41 }, (_, i) => i), 1],
      'every chunk asked for once, in order, and chunk 1 again'
    )
    assert.ok(most <= CREDIT_CHUNKS, `credit outstanding stayed within the window (${most})`)
    assert.equal(stop?.reason, Stop.Reason.COMPLETE)
  })

  it('offer version 3: fails a transfer whose chunks stay corrupt, leaving nothing behind', async () => {
    const data = randomBytes(2 * CHUNK)
    const served = serveV3(data, (i) => i === 0)
    const id = new Uint8Array(randomBytes(16))
    await offerV3(id, 'v3-bad-chunks.bin', data)
    const t = await finished(node, Buffer.from(id).toString('hex'))
    assert.equal(t.status, 'failed')
    assert.match(t.error ?? '', /chunk 0 failed verification/)
    assert.equal((await served).stop?.reason, Stop.Reason.FAILED)
    assert.ok(!(await downloads()).some((f) => f.includes('v3-bad-chunks') || f.endsWith('.part')))
  })

  for (const size of [0, CHUNK + 7]) {
    it(`offer version 3: fails a file of ${size} bytes offered under a wrong root, and presents nothing`, async () => {
      const data = randomBytes(size)
      const served = serveV3(data, () => false)
      const id = new Uint8Array(randomBytes(16))
      await offerV3(id, `v3-liar-${size}.bin`, data, treeRootHex(randomBytes(size + 1)))
      const t = await finished(node, Buffer.from(id).toString('hex'))
      assert.equal(t.status, 'failed')
      assert.match(t.error ?? '', /do not add up to the root/)
      assert.equal((await served).stop?.reason, Stop.Reason.FAILED)
      assert.ok(!(await downloads()).some((f) => f.includes('v3-liar') || f.endsWith('.part')))
    })
  }

  it('sends to a receiver of offer version 2 (the release before): the file hashed its way, SHA-256 and list', async () => {
    const data = randomBytes(3 * CHUNK + 5)
    const src = join(dir, 'to-v2.bin')
    await writeFile(src, data)
    const got = Promise.withResolvers<Offer>()
    await raw.handle(
      OFFER_PROTOCOL_V2,
      async (stream: Stream) => {
        const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
        const offer = OfferFrame.decode(await lp.read()).offer
        await lp.write(OfferFrame.encode({ reply: { status: OfferReply.Status.WAITING, reason: '' } }))
        await stream.close()
        if (offer != null) got.resolve(offer)
      },
      { force: true }
    )
    const t = await node.fileApi.sendFile(rawId, src)
    const offer = await got.promise
    assert.equal(Buffer.from(offer.sha256).toString('hex'), sha256(data), 'the whole-file SHA-256')
    const list = [0, 1, 2, 3].map((i) => createHash('sha256').update(data.subarray(i * CHUNK, (i + 1) * CHUNK)).digest())
    assert.equal(Buffer.from(offer.listSha256).toString('hex'), sha256(Buffer.concat(list)), 'the SHA-256 list digest')
    assert.equal(offer.root.byteLength, 0)
    const mine = await waitFor(async () => {
      const r = await node.files.get(t.id)
      return r?.status === 'waiting' ? r : undefined
    })
    assert.equal(mine.sha256, sha256(data))
    assert.equal(mine.root, undefined)
    await raw.unhandle(OFFER_PROTOCOL_V2)
  })

  it('strips directories from a name', async () => {
    const data = Buffer.from('hello')
    const served = serve(data, () => false)
    const id = new Uint8Array(randomBytes(16))
    await offer(id, '/etc/some/dir/passwd', data)
    const t = await finished(node, Buffer.from(id).toString('hex'))
    assert.equal(t.path, join(dir, 'downloads', 'passwd'))
    await served
  })

  it('strips bidi controls and other invisible characters from a name: what is listed is what is saved', async () => {
    for (const [suggested, saved] of [
      ['\u202egnp.exe', 'gnp.exe'],
      ['report\u2066\u200b.pdf\u2069', 'report.pdf'],
      ['👩\u200d💻 notes.txt', '👩\u200d💻 notes.txt']
    ]) {
      const data = Buffer.from(suggested)
      const served = serve(data, () => false)
      const id = new Uint8Array(randomBytes(16))
      await offer(id, suggested, data)
      const t = await finished(node, Buffer.from(id).toString('hex'))
      assert.equal(t.status, 'complete', t.error)
      assert.equal(t.name, saved)
      assert.equal(t.path, join(dir, 'downloads', saved))
      const entry = (await node.history(rawId, { limit: 1 }))[0]
      assert.equal(entry.file?.name, saved, 'the conversation shows the saved name')
      await served
    }
  })

  it('resets a receiver that asks for chunks outside the file, and keeps serving', async () => {
    const src = join(dir, 'served.bin')
    await writeFile(src, randomBytes(CHUNK + 1))
    // Take the offer (say "later"), then fetch by hand.
    await raw.handle(OFFER_PROTOCOL, async (stream: Stream) => {
      const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
      await lp.read()
      await lp.read()
      await lp.write(OfferFrame.encode({ reply: { status: OfferReply.Status.WAITING, reason: '' } }))
      await stream.close()
    })
    const t = await node.fileApi.sendFile(rawId, src)
    await waitFor(async () => (await node.files.get(t.id))?.status === 'waiting', { what: 'offer answered' })
    const stream = await raw.dialProtocol(multiaddr(addr), FETCH_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_FETCH_FRAME_BYTES })
    await lp.write(FetchFrame.encode({ fetch: { id: new Uint8Array(Buffer.from(t.id, 'hex')), have: 0n, hashes: false } }))
    await lp.write(FetchFrame.encode({ want: { first: 1, count: 5 } }))
    await assert.rejects(
      async () => {
        for (;;) await lp.read({ signal: AbortSignal.timeout(5000) })
      },
      (err: Error) => err.name !== 'AbortError' && err.name !== 'TimeoutError'
    )
    // The node still serves a proper request.
    const again = lpStream(await raw.dialProtocol(multiaddr(addr), FETCH_PROTOCOL), {
      maxDataLength: MAX_FETCH_FRAME_BYTES
    })
    await again.write(FetchFrame.encode({ fetch: { id: new Uint8Array(Buffer.from(t.id, 'hex')), have: 0n, hashes: false } }))
    await again.write(FetchFrame.encode({ want: { first: 1, count: 1 } }))
    const frame = FetchFrame.decode(await again.read({ signal: AbortSignal.timeout(5000) }))
    assert.equal(frame.chunk?.index, 1, JSON.stringify(frame.stop))
    const chunk = frame.chunk
    assert.equal(chunk?.data.byteLength, 1)
  })
})
