import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { P2pNode } from '../../src/node/index.ts'
import { VERSION } from '../../src/node/version.ts'
import { PROTOCOL } from '../../src/protocols/chat/index.ts'
import { Frame } from '../../src/protocols/chat/pb/chat.ts'
import { cleanup, holds, tempDir, waitFor } from '../helpers/cli.ts'

const LOCAL = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }

type PeerEvent = { peerId: string; name: string; connected: boolean }

/** Every `peer` event a node fires, in order. */
function recordPeerEvents(node: P2pNode): PeerEvent[] {
  const events: PeerEvent[] = []
  node.addEventListener('peer', (evt) => events.push(evt.detail))
  return events
}

/** Open /chat/1.0 streams between two nodes (either direction). */
function chatStreams(node: P2pNode, peer: string): number {
  return node.libp2p
    .getConnections(peerIdFromString(peer))
    .flatMap((c) => c.streams)
    .filter((s) => s.protocol === PROTOCOL && s.status === 'open').length
}

/** A plain libp2p node (not p2pnode) on loopback. */
async function plainNode(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}

describe('presence follows the connection, not the chat stream', () => {
  const dirs: string[] = []
  let alice: P2pNode
  let bob: P2pNode
  let aliceId: string
  let bobId: string
  let aliceEvents: PeerEvent[]
  let bobEvents: PeerEvent[]

  before(async () => {
    dirs.push(await tempDir(), await tempDir())
    // Chat streams close after 300 ms without a frame (10 minutes by default).
    const chat = { idleTimeout: 300 }
    alice = await P2pNode.start({ ...LOCAL, dataDir: dirs[0], name: 'alice', chat })
    bob = await P2pNode.start({ ...LOCAL, dataDir: dirs[1], name: 'bob', chat })
    aliceId = alice.libp2p.peerId.toString()
    bobId = bob.libp2p.peerId.toString()
    aliceEvents = recordPeerEvents(alice)
    bobEvents = recordPeerEvents(bob)
  })
  after(async () => {
    await alice.stop()
    await bob.stop()
    await cleanup(...dirs)
  })

  const here = async (node: P2pNode, peer: string) => (await node.peers()).find((p) => p.peerId === peer)?.connected

  it('shows both peers here, once, after their greeting', async () => {
    await alice.dial((await bob.id()).addrs[0])
    await alice.people.addContact(bobId)
    await waitFor(async () => (await here(alice, bobId)) === true && (await here(bob, aliceId)) === true, {
      what: 'both to see each other'
    })
    assert.deepEqual(aliceEvents, [{ peerId: bobId, name: 'bob', connected: true }])
    assert.deepEqual(bobEvents, [{ peerId: aliceId, name: 'alice', connected: true }])
  })

  it('keeps them here when the idle chat streams close, with no event', async () => {
    await waitFor(() => chatStreams(alice, bobId) === 0 && chatStreams(bob, aliceId) === 0, {
      what: 'the idle chat streams to close'
    })
    assert.equal(alice.libp2p.getConnections(peerIdFromString(bobId)).length > 0, true, 'still connected')
    assert.equal(await here(alice, bobId), true, 'bob in alice’s peers')
    assert.equal(await here(bob, aliceId), true, 'alice in bob’s peers')
    assert.equal((await alice.people.contacts()).contacts.find((c) => c.peerId === bobId)?.connected, true)
    assert.equal(aliceEvents.length, 1, 'no "left" for an idle stream')
    assert.equal(bobEvents.length, 1)
    assert.equal((await alice.send(bobId, 'after a quiet spell')).status, 'delivered')
    assert.equal(aliceEvents.length, 1, 'no second "is here" for a new stream')
  })

  it('fires one "left" when the connection goes', async () => {
    await bob.libp2p.hangUp(peerIdFromString(aliceId))
    await waitFor(() => aliceEvents.length === 2 && bobEvents.length === 2, { what: 'both to see the other leave' })
    assert.deepEqual(aliceEvents[1], { peerId: bobId, name: 'bob', connected: false })
    assert.deepEqual(bobEvents[1], { peerId: aliceId, name: 'alice', connected: false })
    assert.equal(await here(alice, bobId), false)
  })

  it('tells identify p2pnode/<version>, without the Node version', async () => {
    await alice.dial((await bob.id()).addrs[0])
    const agent = await waitFor(async () => {
      const peer = await bob.libp2p.peerStore.get(peerIdFromString(aliceId))
      const v = peer.metadata.get('AgentVersion')
      return v != null ? new TextDecoder().decode(v) : undefined
    })
    assert.equal(agent, `p2pnode/${VERSION}`)
    assert.doesNotMatch(agent, /js-libp2p|(^|\s)node\//)
  })
})

describe('retries back off and stop for peers that are not p2pnode', () => {
  const dirs: string[] = []
  let node: P2pNode
  const plain: Libp2p[] = []
  // Short timings so that the whole give-up sequence fits in a second.
  const chat = { helloTimeout: 200, retryDelay: 50, maxRetryDelay: 400 }

  before(async () => {
    dirs.push(await tempDir())
    node = await P2pNode.start({ ...LOCAL, dataDir: dirs[0], name: 'node', chat, reconnectInterval: 100 })
  })
  after(async () => {
    await Promise.all(plain.map((p) => p.stop()))
    await node.stop().catch(() => {})
    await cleanup(...dirs)
  })

  const notP2pnode = (err: Error & { code?: string; hint?: string }) =>
    err.code === 'PEER_NOT_P2PNODE' && /p2pnode dial/.test(err.hint ?? '')

  it('gives up on a program that registers /chat/1.0 and never greets, and remembers it', async () => {
    const silent = await plainNode()
    plain.push(silent)
    const held: Stream[] = []
    await silent.handle(PROTOCOL, (stream) => void held.push(stream))
    const silentId = silent.peerId.toString()
    await assert.rejects(node.dial(silent.getMultiaddrs()[0].toString()), notP2pnode)
    assert.equal(held.length, 3, 'three chat streams, each given the greeting timeout')
    // Over a bounded window with everything in place to retry (connected, a reconnect pass every 100 ms),
    // no further stream is opened.
    await assert.rejects(node.send(silentId, 'hello?'), notP2pnode)
    await holds(1500, async () => assert.equal(held.length, 3))
    assert.match((await node.store.peers.get(silentId))?.notP2pnode ?? '', /never greeted/)
    assert.deepEqual(await node.history(silentId), [], 'nothing stored in vain')
  })

  it('stops at once for a libp2p peer without /chat/1.0, even with a message waiting', async () => {
    const other = await plainNode()
    plain.push(other)
    const otherId = other.peerId.toString()
    await assert.rejects(node.dial(other.getMultiaddrs()[0].toString()), notP2pnode)
    // A message that was waiting before we knew (stored through the protocol directly).
    await node.chat.send(otherId, 'queued before we knew')
    const conn = node.libp2p.getConnections(peerIdFromString(otherId))[0]
    let opened = 0
    const newStream = conn.newStream.bind(conn)
    conn.newStream = (...args) => {
      opened++
      return newStream(...args)
    }
    await holds(1500, async () => assert.equal(opened, 0, 'no renegotiation of /chat/1.0'))
    assert.match((await node.store.peers.get(otherId))?.notP2pnode ?? '', /does not speak \/chat\/1\.0/)
  })

  it('remembers the verdict across a restart', async () => {
    const silentId = plain[0].peerId.toString()
    await node.stop()
    node = await P2pNode.start({ ...LOCAL, dataDir: dirs[0], chat, reconnectInterval: 100 })
    assert.match(node.chat.notP2pnode(silentId) ?? '', /never greeted/)
    await assert.rejects(node.send(silentId, 'hello?'), notP2pnode)
  })
})

describe('a peer that blocked us', () => {
  const dirs: string[] = []
  let alice: P2pNode
  let bob: P2pNode

  before(async () => {
    dirs.push(await tempDir(), await tempDir())
    alice = await P2pNode.start({ ...LOCAL, dataDir: dirs[0], name: 'alice', reconnectInterval: 100 })
    bob = await P2pNode.start({ ...LOCAL, dataDir: dirs[1], name: 'bob' })
  })
  after(async () => {
    await alice.stop()
    await bob.stop()
    await cleanup(...dirs)
  })

  it('is redialled with back-off, not at every reconnect pass', async () => {
    const bobId = bob.libp2p.peerId.toString()
    await alice.dial((await bob.id()).addrs[0])
    await bob.people.setPeerState(alice.libp2p.peerId.toString(), { blocked: true })
    await waitFor(() => !alice.chat.isConnected(bobId), { what: 'alice to be cut off' })
    let dials = 0
    const dial = alice.libp2p.dial.bind(alice.libp2p)
    alice.libp2p.dial = (...args) => {
      dials++
      return dial(...args)
    }
    assert.equal((await alice.send(bobId, 'waiting')).status, 'pending')
    await waitFor(() => dials >= 1, { what: 'a first redial' })
    // A reconnect pass every 100 ms for 3 s: 30 chances. The back-off (1 s, 2 s, 4 s, ...) allows 3 at most.
    await holds(3000, async () => assert.ok(dials <= 3, `${dials} dials`))
  })
})

describe('a message written but not acked', () => {
  const dirs: string[] = []
  let node: P2pNode
  let peer: Libp2p

  before(async () => {
    dirs.push(await tempDir())
    // The ack timeout resets the stream after 200 ms; the resend waits 1.5 s (the back-off).
    const chat = { ackTimeout: 200, retryDelay: 1500 }
    node = await P2pNode.start({ ...LOCAL, dataDir: dirs[0], name: 'node', chat })
    peer = await plainNode()
  })
  after(async () => {
    await peer.stop()
    await node.stop()
    await cleanup(...dirs)
  })

  it('stays sent between an ack timeout and the resend, and the node says when it was written', async () => {
    // A peer that greets and takes messages, but never acks them.
    const streams: Stream[] = []
    const received: string[] = []
    await peer.handle(PROTOCOL, async (stream) => {
      streams.push(stream)
      const lp = lpStream(stream)
      try {
        Frame.decode((await lp.read()).subarray())
        await lp.write(Frame.encode({ hello: { name: 'no-acks', version: 'test' } }))
        for (;;) received.push(Frame.decode((await lp.read()).subarray()).message?.text ?? '')
      } catch {
        // the node reset the stream
      }
    })
    const peerId = peer.peerId.toString()
    await node.dial(peer.getMultiaddrs()[0].toString())
    const sent: string[] = []
    node.addEventListener('sent', (evt) => sent.push(...evt.detail.ids))
    const { id } = await node.send(peerId, 'are you there?', { waitMs: 0 })
    const status = async () => (await node.history(peerId)).find((m) => m.id === id)?.status
    await waitFor(() => received.length === 1 && streams[0].status !== 'open', { what: 'the ack timeout reset' })
    assert.equal(streams.length, 1, 'not resent yet (back-off)')
    assert.equal(await status(), 'sent')
    assert.deepEqual(sent, [id])
    await waitFor(() => received.length === 2, { what: 'the resend' })
    assert.equal(await status(), 'sent')
    assert.deepEqual(sent, [id, id])
  })
})

describe('a back-off does not outlive its connection', () => {
  const dirs: string[] = []
  let node: P2pNode
  let peer: Libp2p

  before(async () => {
    dirs.push(await tempDir())
    // After a failure the chat stream waits a minute before it is reopened on the same connection.
    node = await P2pNode.start({ ...LOCAL, dataDir: dirs[0], chat: { ackTimeout: 200, retryDelay: 60_000 } })
    peer = await plainNode()
  })
  after(async () => {
    await peer.stop()
    await node.stop()
    await cleanup(...dirs)
  })

  it('sends again at once on a new connection', async () => {
    const received: string[] = []
    let ack = false
    await peer.handle(PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try {
        Frame.decode((await lp.read()).subarray())
        await lp.write(Frame.encode({ hello: { name: 'flaky', version: 'test' } }))
        for (;;) {
          const m = Frame.decode((await lp.read()).subarray()).message
          received.push(m?.text ?? '')
          if (ack && m != null) await lp.write(Frame.encode({ ack: { ids: [m.id] } }))
        }
      } catch {
        // the node reset the stream
      }
    })
    const peerId = peer.peerId.toString()
    const addr = peer.getMultiaddrs()[0].toString()
    await node.dial(addr)
    const { id } = await node.send(peerId, 'once more', { waitMs: 0 })
    await waitFor(() => received.length === 1 && node.chat.liveStatus(peerId, id) === 'sent', { what: 'the send' })
    // The ack never comes: the stream is reset and its reopening is a minute away. Then the connection goes.
    await waitFor(() => peer.getConnections()[0]?.streams.every((s) => s.protocol !== PROTOCOL), {
      what: 'the ack timeout reset'
    })
    await node.libp2p.hangUp(peer.peerId)
    await waitFor(() => peer.getConnections().length === 0, { what: 'the peer to see the connection close' })
    ack = true
    // The peer comes back by itself (not our dial, which would look again whatever the back-off).
    await peer.dial(multiaddr((await node.id()).addrs[0]))
    await waitFor(async () => (await node.history(peerId)).find((m) => m.id === id)?.status === 'delivered', {
      timeout: 10_000,
      what: 'delivery on the new connection, well before the minute'
    })
    assert.equal(received.length, 2)
  })
})

describe('a peer taken for another program that greets after all', () => {
  const dirs: string[] = []
  let node: P2pNode
  let peer: Libp2p

  before(async () => {
    dirs.push(await tempDir())
    // No reconnect pass within the test: only the greeting itself can release what waits.
    node = await P2pNode.start({ ...LOCAL, dataDir: dirs[0], name: 'node', reconnectInterval: 600_000 })
    peer = await plainNode()
  })
  after(async () => {
    await peer.stop()
    await node.stop()
    await cleanup(...dirs)
  })

  it('is cleared of the verdict, and what waited for it goes at once', async () => {
    const peerId = peer.peerId.toString()
    const received: string[] = []
    // The peer speaks /chat/1.0 as p2pnode does: greets back and acks what it gets.
    await peer.handle(PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try {
        Frame.decode((await lp.read()).subarray())
        await lp.write(Frame.encode({ hello: { name: 'late', version: 'test' } }))
        for (;;) {
          const m = Frame.decode((await lp.read()).subarray()).message
          if (m == null) continue
          received.push(m.text)
          await lp.write(Frame.encode({ ack: { ids: [m.id] } }))
        }
      } catch {
        // closed
      }
    })
    node.chat.setForeign(peerId, 'it does not speak /chat/1.0')
    const waiting = await node.chat.send(peerId, 'waited for it')
    await peer.dial(multiaddr((await node.id()).addrs[0]))
    await waitFor(() => node.chat.isConnected(peerId), { what: 'the connection' })
    assert.deepEqual(received, [], 'nothing sent while taken for another program')
    // Then it greets us on a stream of its own.
    const lp = lpStream(await peer.dialProtocol(node.libp2p.peerId, PROTOCOL))
    await lp.write(Frame.encode({ hello: { name: 'late', version: 'test' } }))
    await lp.read()
    await waitFor(() => received.length === 1, { what: 'the waiting message to go' })
    assert.equal(received[0], 'waited for it')
    assert.equal(node.chat.notP2pnode(peerId), undefined)
    await waitFor(async () => (await node.history(peerId)).find((m) => m.id === waiting.id)?.status === 'delivered', {
      what: 'its delivery'
    })
    await waitFor(async () => (await node.store.peers.get(peerId))?.notP2pnode === undefined, {
      what: 'the verdict to be cleared on disk'
    })
  })
})
