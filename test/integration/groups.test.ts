/**
 * Groups between real nodes (in-process P2pNode, real libp2p on loopback, real LevelDB): four members sending at
 * once, removal, and a raw libp2p client that forges changes and posts without being a member.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { GroupInfo, HistoryEntry } from '../../src/api/types.ts'
import { P2pNode } from '../../src/node/index.ts'
import { MAX_FRAME_BYTES, PROTOCOL, signState } from '../../src/protocols/chat/index.ts'
import { Frame } from '../../src/protocols/chat/pb/chat.ts'
import { cleanup, tempDir, waitFor } from '../helpers/cli.ts'

const NAMES = ['alice', 'bob', 'carol', 'dave']
const PER_SENDER = 15

describe('groups', () => {
  const dirs: string[] = []
  const nodes: P2pNode[] = []
  let group: GroupInfo
  const [alice, bob, carol, dave] = [0, 1, 2, 3].map((i) => () => nodes[i])

  before(async () => {
    for (const name of NAMES) {
      const dir = await tempDir()
      dirs.push(dir)
      nodes.push(await P2pNode.start({ dataDir: dir, name, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }))
    }
    // Members reach each other as any two peers do (mDNS on a LAN; here by address).
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) await nodes[i].dial((await nodes[j].id()).addrs[0])
    }
  })
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await cleanup(...dirs)
  })

  const nameOf = (n: P2pNode) => NAMES[nodes.indexOf(n)]
  const history = (n: P2pNode, limit = 1000) => n.history(`#${group.id}`, { limit })
  const texts = (h: HistoryEntry[]) => h.filter((m) => m.kind !== 'system').map((m) => m.text)

  it('four members send at once: everyone has every message once, each sender in order, delivered to all', async () => {
    group = await alice().groups.createGroup('team', NAMES.slice(1))
    assert.equal(group.members.length, 4)
    assert.equal(group.admin, (await alice().id()).peerId)
    for (const n of nodes) {
      await waitFor(async () => (await n.groups.groups()).some((g) => g.id === group.id && g.members.length === 4), {
        what: `${nameOf(n)} in the group`
      })
    }
    const [info] = await bob().groups.groups()
    assert.deepEqual(Object.keys(info).sort(), ['admin', 'id', 'members', 'name', 'unread'])
    assert.deepEqual(
      info.members.map((m) => m.name).sort(),
      [...NAMES].sort()
    )
    // Everyone at once, each its own messages in a row.
    await Promise.all(
      nodes.map(async (n, i) => {
        for (let k = 0; k < PER_SENDER; k++) await n.send('team', `${NAMES[i]} ${k}`, { waitMs: 0 })
      })
    )
    const all = NAMES.length * PER_SENDER
    for (const n of nodes) {
      const h = await waitFor(
        async () => {
          const got = await history(n)
          return texts(got).length >= all ? got : undefined
        },
        { what: `${nameOf(n)} has all ${all}`, timeout: 60_000 }
      )
      const t = texts(h)
      assert.equal(t.length, all, `${nameOf(n)}: exactly once`)
      assert.equal(new Set(h.map((m) => m.id)).size, h.length, 'no id twice')
      for (const sender of NAMES) {
        const mine = t.filter((x) => x.startsWith(`${sender} `)).map((x) => Number(x.split(' ')[1]))
        assert.deepEqual(mine, [...Array(PER_SENDER).keys()], `${nameOf(n)} sees ${sender}'s in order`)
      }
      const named = h.filter((m) => m.kind !== 'system').every((m) => NAMES.includes(m.fromName ?? ''))
      assert.ok(named, 'each message says who sent it')
    }
    for (const n of nodes) {
      await waitFor(
        async () => {
          const own = (await history(n)).filter((m) => m.direction === 'out' && m.kind !== 'system')
          return own.length === PER_SENDER && own.every((m) => m.status === 'delivered' && m.delivered === 3 && m.recipients === 3)
        },
        { what: `${nameOf(n)}'s messages delivered to all 3`, timeout: 60_000 }
      )
    }
    // Search in the group; a name that is also a peer's is ambiguous.
    const hits = await bob().people.search('carol', { peer: 'team', limit: 100 })
    assert.equal(hits.length, PER_SENDER)
    assert.ok(hits.every((h) => h.group === group.id && h.text.startsWith('carol ')))
    assert.deepEqual(await bob().people.search('carol', { peer: 'alice' }), [], 'not in the one-to-one conversation')
  })

  it('a removed member gets nothing after its removal and cannot post', async () => {
    const carolId = (await carol().id()).peerId
    await alice().groups.removeMember('team', 'carol')
    for (const n of [alice(), bob(), dave()]) {
      await waitFor(async () => (await n.groups.groups())[0]?.members.length === 3, { what: `${nameOf(n)} sees carol gone` })
    }
    await waitFor(async () => (await carol().groups.groups()).length === 0, { what: 'carol knows' })
    const before = (await history(carol())).length
    await bob().send('team', 'after carol left', { waitMs: 5000 })
    await dave().send('team', 'dave after carol', { waitMs: 5000 })
    await waitFor(async () => texts(await history(alice())).includes('dave after carol'), { what: 'alice has it' })
    const seen = await history(carol())
    assert.equal(seen.length, before, 'carol got nothing more')
    assert.ok(!texts(seen).includes('after carol left'))
    await assert.rejects(carol().send(`#${group.id}`, 'let me in'), /no longer in team/)
    const bobSide = await history(bob())
    assert.ok(bobSide.some((m) => m.kind === 'system' && m.system?.type === 'removed' && m.system.peers?.includes(carolId)))
    assert.ok(!texts(bobSide).includes('let me in'))
  })

  describe('a raw libp2p client', () => {
    let client: Libp2p
    before(async () => {
      client = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    })
    after(() => client.stop())

    async function open(node: P2pNode) {
      const stream = await client.dialProtocol(multiaddr((await node.id()).addrs[0]), PROTOCOL)
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES * 2 })
      await lp.write(Frame.encode({ hello: { name: 'mallory', version: 'test' } }))
      await lp.read()
      return lp
    }
    const id16 = () => new Uint8Array(randomBytes(16))
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

    it('refuses a change signed by a non-admin, and a replayed old version; stores neither', async () => {
      const bobGroup = bob().store.groups.get(group.id)
      assert.ok(bobGroup != null)
      const lp = await open(bob())
      // Mallory signs "alice's group" with herself added: not alice's key.
      const key = await generateKeyPair('Ed25519')
      const forged = await signState(key, {
        id: group.id,
        nonce: bobGroup.nonce,
        admin: bobGroup.admin,
        version: bobGroup.version + 1,
        name: 'pwned',
        members: [...bobGroup.members, client.peerId.toString()],
        timestamp: Date.now()
      })
      const change = id16()
      await lp.write(
        Frame.encode({ groupChange: { id: change, state: new Uint8Array(forged.state), signature: new Uint8Array(forged.signature) } })
      )
      const answer = Frame.decode(await lp.read())
      assert.deepEqual(answer.refused?.ids.map(hex), [hex(change)])
      assert.equal(answer.refused?.reason, 'forged')
      // A real state of alice's, but an old version (1, before carol's removal).
      const old = await alice().store.groups.history(group.id, { limit: 1000 })
      const v1 = old.find((m) => m.system?.version === 1 && m.signed != null)
      assert.ok(v1?.signed != null)
      const replay = id16()
      await lp.write(
        Frame.encode({
          groupChange: { id: replay, state: Buffer.from(v1.signed.state, 'base64'), signature: Buffer.from(v1.signed.signature, 'base64') }
        })
      )
      const answer2 = Frame.decode(await lp.read())
      assert.equal(answer2.refused?.reason, 'stale')
      const now = bob().store.groups.get(group.id)
      assert.equal(now?.version, bobGroup.version)
      assert.deepEqual(now?.members, bobGroup.members)
      assert.equal(now?.name, 'team')
      const h = await history(bob())
      assert.ok(!h.some((m) => m.id === hex(change) || m.id === hex(replay)), 'never stored')
      lp.unwrap().abort(new Error('done'))
    })

    it('refuses a message from a non-member and one for a group it is not in; a malformed group frame resets only that stream', async () => {
      const lp = await open(bob())
      const msg = id16()
      await lp.write(
        Frame.encode({ groupMessage: { id: msg, timestamp: BigInt(Date.now()), text: 'let me in', group: Buffer.from(group.id, 'hex') } })
      )
      const a = Frame.decode(await lp.read())
      assert.equal(a.refused?.reason, 'not-member')
      const other = id16()
      await lp.write(Frame.encode({ groupMessage: { id: other, timestamp: BigInt(Date.now()), text: 'elsewhere', group: id16() } }))
      assert.equal(Frame.decode(await lp.read()).refused?.reason, 'no-group')
      assert.ok(!texts(await history(bob())).includes('let me in'), 'never stored')
      // A group message without its group id: a violation, that stream is reset.
      await lp.write(Frame.encode({ groupMessage: { id: id16(), timestamp: BigInt(Date.now()), text: 'x' } }))
      await assert.rejects(
        (async () => {
          for (;;) await lp.read({ signal: AbortSignal.timeout(5000) })
        })(),
        (err: Error) => !['AbortError', 'TimeoutError'].includes(err.name)
      )
      // The node goes on.
      const res = await dave().send('team', 'still here', { waitMs: 5000 })
      assert.equal(res.delivered, 2)
    })
  })
})
