/**
 * Dialling addresses the user typed, and who `peers` lists: an address the peer merely advertised is dialled for
 * real; an address that answers as another peer is refused and not stored (dial, contacts add, send); a failed
 * dial leaves no nameless peer behind; a libp2p program that is not p2pnode is never listed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { isP2pError } from '../../src/errors.ts'
import { tryPort } from '../../src/node/listen.ts'
import { P2pNode } from '../../src/node/index.ts'
import { cleanup, holds, tempDir, waitFor } from '../helpers/cli.ts'

const LOCAL = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, reconnectInterval: 300 }

/** Assert that `fn` rejects with P2pError `code` and a message matching `message`. */
async function rejectsWith(fn: () => Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(isP2pError(err), `a P2pError, not ${String(err)}`)
    assert.equal(err.code, code, err.message)
    assert.match(err.message, message)
    assert.ok(err.hint != null && err.hint !== '', 'with a hint')
    return true
  })
}

describe('dialling typed addresses; who peers lists', () => {
  const dirs: string[] = []
  let alice: P2pNode
  let carol: P2pNode
  let eve: P2pNode
  let raw: Libp2p
  let carolId: string
  let eveId: string
  let carolAddr: string
  let eveAddr: string

  before(async () => {
    for (let i = 0; i < 3; i++) dirs.push(await tempDir())
    alice = await P2pNode.start({ ...LOCAL, dataDir: dirs[0], name: 'alice' })
    carol = await P2pNode.start({ ...LOCAL, dataDir: dirs[1], name: 'carol' })
    eve = await P2pNode.start({ ...LOCAL, dataDir: dirs[2], name: 'eve' })
    carolId = carol.libp2p.peerId.toString()
    eveId = eve.libp2p.peerId.toString()
    carolAddr = (await carol.id()).addrs[0].replace(/\/p2p\/.*/, '')
    eveAddr = (await eve.id()).addrs[0].replace(/\/p2p\/.*/, '')
    raw = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
  })
  after(async () => {
    await raw.stop()
    await Promise.all([alice.stop(), carol.stop(), eve.stop()])
    await cleanup(...dirs)
  })

  it("an address that answers as another peer is refused by dial, and leaves no peer behind", async () => {
    await rejectsWith(
      () => alice.dial(`${eveAddr}/p2p/${carolId}`),
      'DIAL_FAILED',
      new RegExp(`is not ${carolId}'s address: the node there is ${eveId}`)
    )
    const peers = await alice.peers()
    assert.ok(!peers.some((p) => p.peerId === carolId), `no nameless carol: ${JSON.stringify(peers)}`)
    assert.ok(peers.every((p) => p.name !== ''), `nobody nameless: ${JSON.stringify(peers)}`)
  })

  it('contacts add and send refuse an address that answers as another peer, and store nothing', async () => {
    const wrong = `${eveAddr}/p2p/${carolId}`
    await rejectsWith(() => alice.people.addContact(wrong, { name: 'carol' }), 'DIAL_FAILED', /is not .*'s address/)
    await rejectsWith(() => alice.send(wrong, 'hello?'), 'DIAL_FAILED', /is not .*'s address/)
    const record = await alice.store.peers.get(carolId)
    assert.ok(record == null || !record.addrs.includes(eveAddr), `eve's address is not carol's: ${JSON.stringify(record)}`)
    assert.equal(record?.contact ?? false, false, 'no contact was added')
    assert.deepEqual(await alice.store.history(carolId), [], 'no message was stored')
  })

  it('contacts add with the right address dials it and keeps it (the control)', async () => {
    const added = await alice.people.addContact(`${carolAddr}/p2p/${carolId}`, { name: 'carol' })
    assert.equal(added.peerId, carolId)
    assert.ok((await alice.store.peers.get(carolId))?.addrs.includes(carolAddr))
    await waitFor(async () => (await alice.peers()).some((p) => p.peerId === carolId && p.connected), {
      what: 'alice connected to carol'
    })
  })

  it('dial of an address the connected peer merely advertised dials it for real', async () => {
    // carol "advertises" an address where nothing listens (as a peer on another host advertises its loopback).
    const port = await tryPort(0, '127.0.0.1')
    assert.ok(port != null)
    const dead = multiaddr(`/ip4/127.0.0.1/tcp/${port}`)
    await alice.libp2p.peerStore.merge(carol.libp2p.peerId, { multiaddrs: [dead] })
    assert.ok((await alice.peers()).some((p) => p.peerId === carolId && p.connected), 'connected to carol')
    await rejectsWith(() => alice.dial(`${dead.toString()}/p2p/${carolId}`), 'DIAL_FAILED', /could not reach/)
    // The address carol is really at works, whether or not a connection is open already.
    assert.equal((await alice.dial(`${carolAddr}/p2p/${carolId}`)).peerId, carolId)
  })

  it('a libp2p program that is not p2pnode is never listed in peers', async () => {
    const rawId = raw.peerId.toString()
    const conn = await raw.dial(multiaddr(`${(await alice.id()).addrs[0]}`))
    // alice has identified it (it is in her peer store) ...
    await waitFor(
      async () => (await alice.libp2p.peerStore.get(raw.peerId).catch(() => undefined))?.protocols.length,
      { what: 'alice to identify the raw libp2p peer' }
    )
    await holds(1000, async () => {
      const peers = await alice.peers()
      assert.ok(!peers.some((p) => p.peerId === rawId), `the stranger is not listed: ${JSON.stringify(peers)}`)
      assert.ok(peers.some((p) => p.peerId === carolId && p.name === 'carol'), 'carol is (the control)')
    })
    await conn.close()
    assert.equal((await alice.store.peers.get(rawId))?.name, undefined)
    assert.ok(!(await alice.peers()).some((p) => p.peerId === rawId), 'nor after it left')
  })
})
