/**
 * The WebRTC transport is loaded when first used (src/node/lazy-webrtc.ts): a started node answers the signaling
 * protocol without having loaded @libp2p/webrtc, and the first signaling stream loads it; the real transport then
 * holds the protocol. Real libp2p nodes over TCP on loopback. (The WebRTC path
 * itself, through a relay and two NATs, is test/nat/nat.test.ts.)
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { LazyWebRTC, type LazyWebRTCComponents, SIGNALING_PROTOCOL } from '../../src/node/lazy-webrtc.ts'

describe('WebRTC loaded on first use', () => {
  let lazy: LazyWebRTC | undefined
  let node: Libp2p
  let other: Libp2p

  before(async () => {
    node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [
        tcp(),
        circuitRelayTransport(),
        (components: LazyWebRTCComponents) => (lazy = new LazyWebRTC(components, {}))
      ],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    other = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
  })

  after(async () => {
    await other?.stop()
    await node?.stop()
  })

  it('a started node answers the signaling protocol without loading @libp2p/webrtc', () => {
    assert.ok(lazy != null)
    assert.equal(lazy.loaded, false)
    assert.ok(node.getProtocols().includes(SIGNALING_PROTOCOL))
    // It claims the addresses the real transport would dial, and only those.
    const target = `/ip4/127.0.0.1/tcp/1/p2p/${other.peerId.toString()}/p2p-circuit`
    assert.deepEqual(
      lazy.dialFilter([multiaddr(`${target}/webrtc/p2p/${node.peerId.toString()}`), multiaddr(target)]).map(String),
      [`${target}/webrtc/p2p/${node.peerId.toString()}`]
    )
    assert.equal(lazy.loaded, false)
  })

  it('the first signaling stream loads it, and the real transport then holds the protocol', async () => {
    assert.ok(lazy != null)
    const ours = node.getProtocols()
    const stream = await other.dialProtocol(node.getMultiaddrs()[0], SIGNALING_PROTOCOL, { runOnLimitedConnection: true })
    // The real handler waits for an SDP offer; none comes. What is checked is who answered.
    for (let i = 0; i < 200 && !lazy.loaded; i++) await new Promise((resolve) => setTimeout(resolve, 25))
    assert.equal(lazy.loaded, true)
    // Still answered after the swap: a second stream finds a handler (a protocol nobody handles fails to open).
    const second = await other.dialProtocol(node.getMultiaddrs()[0], SIGNALING_PROTOCOL, { runOnLimitedConnection: true })
    assert.equal(second.protocol, SIGNALING_PROTOCOL)
    second.abort(new Error('test done'))
    assert.deepEqual(node.getProtocols().sort(), ours.sort(), 'the protocols the node says it speaks are unchanged')
    stream.abort(new Error('test done'))
  })

  it('stops cleanly once loaded, leaving no signaling handler', async () => {
    await node.stop()
    assert.equal(node.getProtocols().includes(SIGNALING_PROTOCOL), false)
  })
})
