import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Uint8ArrayList } from 'uint8arraylist'
import { ChunkWriter } from '../../src/protocols/file/chunk-writer.ts'
import { FileProtocolError } from '../../src/protocols/file/errors.ts'
import { ChunkBuffers, chunkFrame, decodeFetchFrame } from '../../src/protocols/file/frames.ts'
import { FetchFrame, Stop } from '../../src/protocols/file/pb/file.ts'
import { SentBuffers } from '../../src/protocols/file/sender.ts'
import { openStore, type Store, Transfers } from '../../src/store/index.ts'
import { cleanup, tempDir } from '../helpers/cli.ts'

function sha256(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

/** A frame as the stream delivers it: split into pieces at arbitrary places. */
function pieces(frame: Uint8Array, size: number): Uint8ArrayList {
  const list = new Uint8ArrayList()
  for (let off = 0; off < frame.byteLength; off += size) list.append(frame.slice(off, off + size))
  return list
}

describe('decodeFetchFrame', () => {
  it('reads back what chunkFrame writes, whatever the pieces, into memory of its own', () => {
    for (const [index, size] of [
      [0, 1],
      [1, 300],
      [127, 128],
      [128, 65536],
      [262143, 262144]
    ]) {
      const data = new Uint8Array(randomBytes(size))
      const frame = chunkFrame(index, data).subarray()
      assert.deepEqual(FetchFrame.decode(frame), { chunk: { index, data } }, 'chunkFrame is what protons writes')
      for (const piece of [7, 1000, 65519]) {
        const decoded = decodeFetchFrame(pieces(frame, piece))
        assert.equal(decoded.chunk?.index, index)
        assert.deepEqual(decoded.chunk?.data, data)
        const own = decoded.chunk?.data as Uint8Array
        assert.equal(own.byteOffset, 0)
        assert.equal(own.buffer.byteLength, size, 'its own buffer, exactly the chunk')
      }
    }
  })

  it('decodes every other frame with protons', () => {
    const stop = FetchFrame.encode({ stop: { reason: Stop.Reason.COMPLETE, detail: 'done' } })
    assert.deepEqual(decodeFetchFrame(pieces(stop, 3)).stop, { reason: Stop.Reason.COMPLETE, detail: 'done' })
    const empty = FetchFrame.encode({ chunk: { index: 5, data: new Uint8Array(0) } })
    assert.deepEqual(decodeFetchFrame(pieces(empty, 2)).chunk, { index: 5, data: new Uint8Array(0) })
  })

  it('decodes into recycled buffers, every byte overwritten', () => {
    const buffers = new ChunkBuffers(2)
    const first = new Uint8Array(randomBytes(1000))
    const a = decodeFetchFrame(pieces(chunkFrame(1, first).subarray(), 300), (n) => buffers.take(n)).chunk?.data
    assert.deepEqual(a, first)
    buffers.give(a as Uint8Array<ArrayBuffer>)
    const second = new Uint8Array(1000).fill(7)
    const b = decodeFetchFrame(pieces(chunkFrame(2, second).subarray(), 300), (n) => buffers.take(n)).chunk?.data
    assert.equal(b, a, 'the same buffer again')
    assert.deepEqual(b, second)
    buffers.give(b as Uint8Array<ArrayBuffer>)
    assert.equal(buffers.take(10).byteLength, 10, 'a buffer of another length is not handed out')
    const kept = [buffers.take(5), buffers.take(5), buffers.take(5)]
    for (const buf of kept) buffers.give(buf)
    assert.deepEqual(
      [buffers.take(5), buffers.take(5), buffers.take(5)].map((buf) => kept.includes(buf)),
      [true, true, false],
      'at most 2 kept'
    )
  })

  it('rejects a malformed frame as a protocol error', () => {
    const frame = chunkFrame(3, new Uint8Array(100)).subarray()
    // The chunk claims more bytes than the frame has.
    assert.throws(() => decodeFetchFrame(pieces(frame.subarray(0, 50), 10)), FileProtocolError)
    assert.throws(() => decodeFetchFrame(new Uint8ArrayList(new Uint8Array([0x1a, 0xff, 0xff, 0xff, 0xff]))))
  })
})

describe('ChunkWriter', () => {
  let dir: string
  const sink = new ChunkWriter()
  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    await sink.closeAll()
    await cleanup(dir)
  })

  it('writes good chunks at their place and hashes the whole file when they come in order', async () => {
    const chunks = [randomBytes(1000), randomBytes(1000), randomBytes(500)].map((b) => new Uint8Array(b))
    const path = join(dir, 'in-order.part')
    await sink.open('a', path, 3, true)
    for (const [i, c] of chunks.entries()) {
      // A view into a larger buffer, as chunks may be.
      const view = new Uint8Array(c.byteLength + 10).subarray(5, 5 + c.byteLength)
      view.set(c)
      assert.equal(await sink.write('a', i, i * 1000, view, sha256(c)), true)
    }
    const whole = Buffer.concat(chunks)
    assert.equal(await sink.close('a'), createHash('sha256').update(whole).digest('hex'))
    assert.deepEqual(await readFile(path), whole)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
  })

  it('writes nothing for a chunk that does not match its hash, and gives no whole-file hash', async () => {
    const good = new Uint8Array(randomBytes(100))
    const path = join(dir, 'corrupt.part')
    await sink.open('b', path, 2, true)
    assert.equal(await sink.write('b', 0, 0, new Uint8Array(randomBytes(100)), sha256(good)), false)
    assert.equal((await stat(path)).size, 0, 'nothing written')
    assert.equal(await sink.write('b', 1, 100, good, sha256(good)), true)
    assert.equal(await sink.write('b', 0, 0, good, sha256(good)), true)
    assert.equal(await sink.close('b'), undefined, 'chunks out of order: the caller hashes the file itself')
  })

  it('rejects with the file system error code, and goes on working', async () => {
    const locked = join(dir, 'locked')
    await mkdir(locked, { mode: 0o500 })
    await chmod(locked, 0o500)
    const isRoot = process.getuid?.() === 0
    await assert.rejects(sink.open('c', join(locked, 'sub', 'x.part'), 1, true), { code: 'ENOENT' })
    if (!isRoot) await assert.rejects(sink.open('c', join(locked, 'x.part'), 1, true), { code: 'EACCES' })
    await assert.rejects(sink.write('c', 0, 0, new Uint8Array(1), new Uint8Array(32)), /not open/)
    const data = new Uint8Array([1, 2, 3])
    await sink.open('d', join(dir, 'after.part'), 1, false)
    assert.equal(await sink.write('d', 0, 0, data, sha256(data)), true)
    assert.equal(await sink.close('d'), undefined, 'no whole-file hash asked for')
  })
})

describe('verified-chunk records', () => {
  let dir: string
  let store: Store
  before(async () => {
    dir = await tempDir()
    store = await openStore(join(dir, 'db'), new Uint8Array(32).fill(1))
  })
  after(async () => {
    await store.close()
    await cleanup(dir)
  })

  it('records every chunk of concurrent calls (group commit), in index order, and clears them', async () => {
    const transfers = new Transfers(store)
    const id = randomBytes(16).toString('hex')
    const other = randomBytes(16).toString('hex')
    const order = Array.from({ length: 300 }, (_, i) => (i * 7919) % 300)
    await Promise.all([...order.map((i) => transfers.addVerified(id, i)), transfers.addVerified(other, 1)])
    assert.deepEqual(
      await transfers.verified(id),
      Array.from({ length: 300 }, (_, i) => i)
    )
    assert.deepEqual(await transfers.verified(other), [1])
    // A clear waits for records still being written, so nothing of the transfer survives it.
    const late = transfers.addVerified(id, 300)
    await transfers.clearVerified(id)
    await late
    assert.deepEqual(await transfers.verified(id), [])
    assert.deepEqual(await transfers.verified(other), [1])
  })
})

describe('SentBuffers (fetch/3 sender)', () => {
  it('hands a buffer out again only once the receiver has read the chunk it held', () => {
    const buffers = new SentBuffers(8)
    const a = buffers.take()
    const b = buffers.take()
    buffers.sent(a.subarray(0, 8))
    buffers.sent(b.subarray(0, 3)) // a short last chunk: its whole buffer comes back
    const c = buffers.take()
    assert.ok(c !== a && c !== b, 'nothing comes back before the receiver says so')
    buffers.received(1)
    assert.equal(buffers.take().buffer, a.buffer, 'the first chunk read: its buffer is free')
    assert.ok(![a.buffer, b.buffer].includes(buffers.take().buffer), 'the second is still in flight')
    buffers.received(5) // more than was sent: nothing else to free
    const d = buffers.take()
    assert.equal(d.buffer, b.buffer)
    assert.equal(d.byteLength, 8)
  })
})
