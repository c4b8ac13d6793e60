/**
 * The protocol services on real libp2p nodes (TCP, Noise, Yamux, identify) and nothing else of p2pnode: no node
 * hands connections to them, so what they do on connect comes from their registrar topologies alone.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { MemoryLevel } from 'memory-level'
import { peerStreams } from '../../src/node/paths.ts'
import { chat, type ChatProtocol } from '../../src/protocols/chat/index.ts'
import type { PeerStreams } from '../../src/protocols/peer-streams.ts'
import { type Db, Store } from '../../src/store/index.ts'
import { waitFor } from '../helpers/cli.ts'

interface ChatNode {
  libp2p: Libp2p<{ chat: ChatProtocol }>
  store: Store
}

async function chatNode(name: string): Promise<ChatNode> {
  const store = await Store.open(new MemoryLevel<string, string>() as unknown as Db, new Uint8Array(32).fill(3))
  const ref: { streams?: PeerStreams } = {}
  const streams: PeerStreams = { open: (p, protocols, o) => (ref.streams as PeerStreams).open(p, protocols, o) }
  const libp2p = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), chat: chat({ store, streams, name }) }
  })
  ref.streams = peerStreams(libp2p)
  return { libp2p, store }
}

describe('chat as a libp2p service on real nodes', () => {
  let alice: ChatNode
  let bob: ChatNode

  before(async () => {
    alice = await chatNode('alice')
    bob = await chatNode('bob')
  })
  after(async () => {
    for (const n of [alice, bob]) {
      await n.libp2p.stop()
      await n.store.close()
    }
  })

  it('sends a message queued while offline once the topology reports the connection (identify done)', async () => {
    const bobId = bob.libp2p.peerId.toString()
    const aliceId = alice.libp2p.peerId.toString()
    const queued = await alice.libp2p.services.chat.send(bobId, 'queued before we met')
    assert.equal((await alice.store.getMessage(bobId, queued.id))?.status, 'pending')
    const identified = new Promise<void>((resolve) =>
      alice.libp2p.addEventListener('peer:identify', () => resolve(), { once: true })
    )
    await alice.libp2p.dial(bob.libp2p.getMultiaddrs()[0])
    await identified
    await waitFor(async () => (await bob.store.history(aliceId)).some((m) => m.text === 'queued before we met'), {
      what: 'bob has it'
    })
    await waitFor(async () => (await alice.store.getMessage(bobId, queued.id))?.status === 'delivered', {
      what: 'alice has the ack'
    })
    assert.ok(alice.libp2p.services.chat.greeted(bobId) && bob.libp2p.services.chat.greeted(aliceId), 'both present')
  })
})
