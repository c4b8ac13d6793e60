import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { P2pNode } from '../../src/node/index.ts'
import type { PeerUpdate } from '../../src/store/index.ts'
import { cleanup, holds, tempDir, waitFor } from '../helpers/cli.ts'

const LOCAL = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }

describe('names: ours win over names strangers choose', () => {
  const dirs: string[] = []
  const nodes: P2pNode[] = []
  let alice: P2pNode
  let carol: P2pNode
  let dave: P2pNode
  let fakeCarol: P2pNode
  let fakeDave: P2pNode
  const id = (n: P2pNode) => n.libp2p.peerId.toString()

  before(async () => {
    const start = async (name: string) => {
      const dir = await tempDir()
      dirs.push(dir)
      const node = await P2pNode.start({ ...LOCAL, dataDir: dir, name })
      nodes.push(node)
      return node
    }
    alice = await start('alice')
    carol = await start('cee') // alice's contact, whom alice calls carol
    dave = await start('dave') // alice's contact, under its own name
    fakeCarol = await start('carol') // strangers taking those names
    fakeDave = await start('dave')
  })
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})))
    await cleanup(...dirs)
  })

  it('resolves a contact’s name to the contact while strangers use it, and after they leave', async () => {
    const aliceAddr = (await alice.id()).addrs[0]
    await alice.dial((await carol.id()).addrs[0])
    await alice.people.addContact(id(carol), { name: 'carol' })
    await alice.dial((await dave.id()).addrs[0])
    await alice.people.addContact(id(dave))
    await fakeCarol.dial(aliceAddr)
    await fakeDave.dial(aliceAddr)
    await waitFor(
      async () => {
        const names = (await alice.peers()).filter((p) => p.connected).map((p) => p.name)
        return names.filter((n) => n === 'carol').length === 2 && names.filter((n) => n === 'dave').length === 2
      },
      { what: 'alice to know both carols and both daves' }
    )
    const check = async () => {
      assert.equal(await alice.resolvePeer('carol', { dial: false }), id(carol))
      assert.equal(await alice.resolvePeer('CAROL', { dial: false }), id(carol))
      assert.equal(await alice.resolvePeer('dave', { dial: false }), id(dave))
      assert.equal(alice.displayName(id(carol)), 'carol')
      assert.match(alice.displayName(id(fakeCarol)), /^carol \(12D3KooW/)
      assert.equal(alice.displayName(id(dave)), 'dave')
      assert.match(alice.displayName(id(fakeDave)), /^dave \(12D3KooW/)
    }
    await check()
    assert.equal((await alice.send('carol', 'for the real carol')).status, 'delivered')
    assert.deepEqual(
      (await carol.history(id(alice))).map((m) => m.text),
      ['for the real carol']
    )
    await fakeCarol.stop()
    await fakeDave.stop()
    await waitFor(async () => (await alice.peers()).filter((p) => p.connected).length === 2, {
      what: 'the strangers to leave'
    })
    await check()
  })

  it('still says when peers of equal standing share a name', async () => {
    await alice.people.removeContact(id(dave))
    await assert.rejects(alice.resolvePeer('dave', { dial: false }), (err: Error & { code?: string }) => {
      return err.code === 'PEER_AMBIGUOUS'
    })
  })
})

/** A host that counts the TCP connections made to it. */
async function countingHost(): Promise<{ host: Libp2p; inbound: () => number }> {
  let inbound = 0
  const host = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: {
      denyInboundConnection: () => {
        inbound++
        return false
      }
    }
  })
  return { host, inbound: () => inbound }
}

async function newPeerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

describe('redials after a restart: no strangers, few peers per address', () => {
  let dir: string
  let node: P2pNode
  let third: Awaited<ReturnType<typeof countingHost>>
  let thirdAddr: string

  before(async () => {
    dir = await tempDir()
    node = await P2pNode.start({ ...LOCAL, dataDir: dir, name: 'node' })
  })
  after(async () => {
    await node.stop().catch(() => {})
    await third?.host.stop()
    await cleanup(dir)
  })

  /** Peers claiming the third party's address, then a restart; resolves with the connections the third party got. */
  async function claimAndRestart(update: PeerUpdate, count: number): Promise<void> {
    await third?.host.stop()
    third = await countingHost()
    thirdAddr = third.host.getMultiaddrs()[0].toString().replace(/\/p2p\/.*$/, '')
    for (let i = 0; i < count; i++) await node.store.peers.update(await newPeerId(), { ...update, addrs: [thirdAddr] })
    await node.stop()
    node = await P2pNode.start({ ...LOCAL, dataDir: dir })
  }

  it('does not redial strangers that only wrote to us', async () => {
    await claimAndRestart({ chatted: true, name: 'sybil' }, 20)
    // A peer we wrote to, at the same address: the one dial there that should happen.
    const wroteTo = await newPeerId()
    await node.store.peers.update(wroteTo, { chatted: true, wrote: true, addrs: [thirdAddr] })
    await node.stop()
    node = await P2pNode.start({ ...LOCAL, dataDir: dir })
    await waitFor(() => third.inbound() >= 1, { what: 'the redial of the peer we wrote to' })
    await holds(1500, async () => assert.equal(third.inbound(), 1, 'no stranger redialled'))
  })

  it('dials one address for at most two peers, however many claim it', async () => {
    await claimAndRestart({ contact: true, name: 'claimant' }, 20)
    await waitFor(() => third.inbound() >= 1, { what: 'a first redial' })
    await holds(2000, async () => assert.ok(third.inbound() <= 2, `${third.inbound()} connections`))
  })
})
