import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { cleanup, NodeProcess, tempDir } from '../helpers/cli.ts'

describe('p2pnode CLI and a libp2p program that is not p2pnode', () => {
  let dir: string
  let node: NodeProcess
  let other: Libp2p

  before(async () => {
    dir = await tempDir()
    node = await NodeProcess.start(dir, ['--name', 'me', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'])
    other = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
  })
  after(async () => {
    await node.stop()
    await other.stop()
    await cleanup(dir)
  })

  it('dial and send say it is not p2pnode, with a hint, exit 4, and store nothing', async () => {
    const dial = await node.run(['dial', other.getMultiaddrs()[0].toString()])
    assert.equal(dial.code, 4, dial.stderr)
    assert.match(dial.stderr, /is not a p2pnode node: it does not speak \/chat\/1\.0/)
    assert.match(dial.stderr, /hint: .*p2pnode dial/)
    const send = await node.run(['send', other.peerId.toString(), 'hello?'])
    assert.equal(send.code, 4, send.stderr)
    assert.match(send.stderr, /not a p2pnode node/)
    const history = await node.json<unknown[]>(['history', other.peerId.toString()])
    assert.deepEqual(history, [])
  })
})
