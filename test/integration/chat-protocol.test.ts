import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { P2pNode } from '../../src/node/index.ts'
import { MAX_FRAME_BYTES, PROTOCOL } from '../../src/protocols/chat/index.ts'
import { Frame } from '../../src/protocols/chat/pb/chat.ts'
import { cleanup, tempDir, waitFor } from '../helpers/cli.ts'

async function startNode(dir: string, name: string): Promise<P2pNode> {
  return P2pNode.start({ dataDir: dir, name, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
}

/** A bare libp2p node that speaks /chat/1.0 by hand: it can send anything at all. */
async function rawClient(): Promise<Libp2p> {
  return createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
}

function hello(name = 'raw') {
  return Frame.encode({ hello: { name, version: 'test' } })
}

function message(text: string, id: Uint8Array<ArrayBuffer> = new Uint8Array(randomBytes(16))) {
  return Frame.encode({ message: { id, timestamp: BigInt(Date.now()), text } })
}

describe('/chat/1.0 against bad peers', () => {
  let dir: string
  let node: P2pNode
  let addr: string
  let client: Libp2p

  before(async () => {
    dir = await tempDir()
    node = await startNode(dir, 'target')
    addr = (await node.id()).addrs[0]
    client = await rawClient()
  })

  after(async () => {
    await client.stop()
    await node.stop()
    await cleanup(dir)
  })

  async function open() {
    const stream = await client.dialProtocol(multiaddr(addr), PROTOCOL)
    return lpStream(stream, { maxDataLength: MAX_FRAME_BYTES * 2 })
  }

  /** The node must end the stream: a read on our side fails or ends within a bounded time. */
  async function expectReset(lp: Awaited<ReturnType<typeof open>>) {
    await assert.rejects(
      (async () => {
        for (;;) await lp.read({ signal: AbortSignal.timeout(5000) })
      })(),
      // a reset, not a clean end of stream nor our own timeout
      (err: Error) => !['AbortError', 'TimeoutError', 'UnexpectedEOFError'].includes(err.name)
    )
  }

  async function storedFromClient() {
    return node.store.history(client.peerId.toString(), { limit: 100 })
  }

  it('answers a greeting and acks a message only after storing it', async () => {
    const lp = await open()
    await lp.write(hello())
    const reply = Frame.decode(await lp.read())
    assert.equal(reply.hello?.name, 'target')
    const id = new Uint8Array(randomBytes(16))
    const hex = (ids: Uint8Array[] | undefined) => ids?.map((i) => Buffer.from(i).toString('hex'))
    await lp.write(message('stored first', id))
    const ack = Frame.decode(await lp.read())
    assert.deepEqual(hex(ack.ack?.ids), hex([id]))
    const stored = await storedFromClient()
    assert.equal(stored.at(-1)?.text, 'stored first')
    // a resend of the same id is acked again but stored once
    await lp.write(message('stored first', id))
    assert.deepEqual(hex(Frame.decode(await lp.read()).ack?.ids), hex([id]))
    assert.equal((await storedFromClient()).filter((m) => m.text === 'stored first').length, 1)
    lp.unwrap().abort(new Error('done'))
  })

  it('resets on bytes that are not a frame', async () => {
    const lp = await open()
    await lp.unwrap().send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
    await expectReset(lp)
  })

  it('resets on an oversize frame without reading it all', async () => {
    const lp = await open()
    await lp.write(hello())
    await lp.read()
    await lp.write(new Uint8Array(MAX_FRAME_BYTES + 1))
    await expectReset(lp)
  })

  it('resets on a frame that is not valid protobuf', async () => {
    const lp = await open()
    await lp.write(new Uint8Array([0x0a, 0xff, 0x01, 0x02]))
    await expectReset(lp)
  })

  it('resets on a message before the greeting', async () => {
    const lp = await open()
    await lp.write(message('too early'))
    await expectReset(lp)
    assert.ok(!(await storedFromClient()).some((m) => m.text === 'too early'))
  })

  it('resets on a message with a bad id or oversize text, storing nothing', async () => {
    for (const frame of [
      message('short id', new Uint8Array(3)),
      message('x'.repeat(64 * 1024 + 1)),
      Frame.encode({ ack: { ids: [] } }),
      Frame.encode({}),
      Frame.encode({
        message: { id: new Uint8Array(16), timestamp: BigInt(Date.now() + 2 * 365 * 24 * 3600_000), text: 'from the future' }
      }),
      Frame.encode({ hello: { name: 'n'.repeat(65), version: 'x' } })
    ]) {
      const lp = await open()
      await lp.write(hello())
      await lp.read()
      await lp.write(frame)
      await expectReset(lp)
    }
    const texts = (await storedFromClient()).map((m) => m.text)
    assert.ok(!texts.includes('short id') && !texts.includes('from the future'))
    assert.ok(!texts.some((t) => t.length > 64 * 1024))
  })

  it('resets on a length prefix that never ends, without reading on', async () => {
    const stream = await client.dialProtocol(multiaddr(addr), PROTOCOL)
    const lp = lpStream(stream)
    // 64 KiB of continuation bytes: libp2p's reader alone would take them in byte by byte until the greeting
    // timeout (10 s here, longer than expectReset waits), growing its buffer with each one
    stream.send(new Uint8Array(64 * 1024).fill(0xff))
    await expectReset(lp)
  })

  /** Open a TCP connection to `port`, send `bytes`, and resolve when the node closes it; reject after `ms`. */
  function garbage(port: number, bytes: Uint8Array, ms: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let connected = false
      const sock = connect(port, '127.0.0.1', () => {
        connected = true
        sock.write(bytes)
      })
      sock.setTimeout(ms, () => {
        sock.destroy()
        reject(new Error(`the node kept a connection that sent ${what} open for ${ms} ms`))
      })
      sock.on('data', () => {})
      sock.on('error', () => {})
      // Closed by the node, not refused before it even began.
      sock.on('close', () => (connected ? resolve() : reject(new Error(`no connection to send ${what} on`))))
    })
  }

  function tcpPort(of: string): number {
    return Number(multiaddr(of).getComponents().find((c) => c.name === 'tcp')?.value)
  }

  it('closes a TCP connection that sends garbage at once', async () => {
    // the node's handshake timeout is the default 10 s: closing within 5 s means the garbage was refused
    for (const [what, bytes] of [
      ['bytes that are not a length prefix', new Uint8Array(4096).map((_, i) => (i * 7919 + 13) % 256)],
      ['a length prefix that never ends', new Uint8Array(64 * 1024).fill(0xff)]
    ] as const) {
      await garbage(tcpPort(addr), bytes, 5000, what)
    }
  })

  it('drops a TCP connection that stalls mid-handshake when its time is up', async () => {
    const dir2 = await tempDir()
    const strict = await P2pNode.start({
      dataDir: dir2,
      name: 'strict',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      upgradeTimeout: 1500
    })
    try {
      const port = tcpPort((await strict.id()).addrs[0])
      for (const [what, bytes] of [
        ['nothing at all', new Uint8Array(0)],
        // 'G' reads as a length of 71, more than the request holds
        ['an HTTP request', new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
        ['a frame longer than what follows', Uint8Array.from([0x80, 0x04, 0x2f, 0x6d])]
      ] as const) {
        await garbage(port, bytes, 1500 + 5000, what)
      }
    } finally {
      await strict.stop()
      await cleanup(dir2)
    }
  })

  it('keeps serving well-behaved peers after all that', async () => {
    const dir2 = await tempDir()
    const other = await startNode(dir2, 'honest')
    try {
      await other.dial(addr)
      const res = await other.send(node.libp2p.peerId.toString(), 'still here?')
      assert.equal(res.status, 'delivered')
      await waitFor(async () => (await node.history('honest')).some((m) => m.text === 'still here?'), {
        what: 'message stored'
      })
    } finally {
      await other.stop()
      await cleanup(dir2)
    }
  })
})
