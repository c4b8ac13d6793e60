import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeInvite, encodeInvite, isInvite } from '../../src/node/invite.ts'
import { isCircuit, peerIdOf, withoutPeerId } from '../../src/node/peer-ref.ts'
import { checkRelayAddr, pathOf, stunUrlOf } from '../../src/node/reach.ts'
import { relayAnnounce } from '../../src/node/relay-service.ts'
import { bindingResponse, isBindingRequest, startStunServer } from '../../src/node/stun.ts'
import { readHello, readReach } from '../../src/protocols/chat/frames.ts'
import { Frame } from '../../src/protocols/chat/pb/chat.ts'

const newId = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

function bindingRequest(): Buffer {
  const req = Buffer.alloc(20)
  req.writeUInt16BE(0x0001, 0)
  req.writeUInt16BE(0, 2)
  req.writeUInt32BE(0x2112a442, 4)
  randomBytes(12).copy(req, 8)
  return req
}

/** The address and port in a Binding success response's XOR-MAPPED-ADDRESS (IPv4). */
function mapped(res: Buffer): { address: string; port: number } {
  assert.equal(res.readUInt16BE(0), 0x0101)
  assert.equal(res.readUInt16BE(20), 0x0020)
  const port = res.readUInt16BE(26) ^ 0x2112
  const ip = [0, 1, 2, 3].map((i) => res[28 + i] ^ [0x21, 0x12, 0xa4, 0x42][i])
  return { address: ip.join('.'), port }
}

describe('circuit addresses: the peer is the last /p2p/ part', () => {
  const relay = '12D3KooWHPtfPUvVTarjW1uZ6b67cKDHJ6d8fFq9tWk2276QfPrN'
  const peer = '12D3KooWF1fehHqxkoYChFnsoNirCLho455zbnot7BgLjgLbSPKi'
  it('peerIdOf, withoutPeerId and isCircuit keep the relay part', () => {
    const ma = multiaddr(`/ip4/10.0.0.1/tcp/4001/p2p/${relay}/p2p-circuit/p2p/${peer}`)
    assert.equal(peerIdOf(ma), peer)
    assert.equal(withoutPeerId(ma).toString(), `/ip4/10.0.0.1/tcp/4001/p2p/${relay}/p2p-circuit`)
    assert.equal(isCircuit(ma), true)
    assert.equal(peerIdOf(multiaddr(`/ip4/10.0.0.1/tcp/4001/p2p/${relay}/p2p-circuit`)), undefined)
    assert.equal(peerIdOf(multiaddr(`/ip4/10.0.0.1/tcp/4001/p2p/${peer}`)), peer)
    assert.equal(isCircuit(multiaddr(`/ip4/10.0.0.1/tcp/4001/p2p/${peer}`)), false)
  })
  it('a relay address needs its peer id and TCP; its STUN server is the same host and port number', () => {
    assert.equal(checkRelayAddr(`/ip4/10.0.0.1/tcp/4001/p2p/${relay}`).peerId, relay)
    for (const bad of ['/ip4/10.0.0.1/tcp/4001', `/ip4/10.0.0.1/udp/4001/p2p/${relay}`, `/ip4/1.2.3.4/tcp/1/p2p/${relay}/p2p-circuit`]) {
      assert.throws(() => checkRelayAddr(bad), { code: 'INVALID_MULTIADDR' }, bad)
    }
    assert.equal(stunUrlOf(multiaddr('/ip4/203.0.113.5/tcp/4001')), 'stun:203.0.113.5:4001')
    assert.equal(stunUrlOf(multiaddr('/ip6/2001:db8::1/tcp/4001')), 'stun:[2001:db8::1]:4001')
    assert.equal(stunUrlOf(multiaddr('/dns4/relay.example.org/tcp/443')), 'stun:relay.example.org:443')
  })
  it('pathOf tells direct, relayed and webrtc apart', () => {
    const conn = (addr: string, limited = false) => ({
      remoteAddr: multiaddr(addr),
      limits: limited ? { bytes: 1n, seconds: 1 } : undefined
    })
    assert.equal(pathOf(conn('/ip4/10.0.0.2/tcp/5')), 'direct')
    assert.equal(pathOf(conn(`/ip4/10.0.0.1/tcp/4001/p2p/${relay}/p2p-circuit/p2p/${peer}`, true)), 'relayed')
    assert.equal(pathOf(conn(`/ip4/10.0.0.1/tcp/4001/p2p/${relay}/p2p-circuit/webrtc/p2p/${peer}`)), 'webrtc')
    assert.equal(pathOf(conn(`/webrtc/p2p/${peer}`)), 'webrtc')
  })
  it('a relay announces its listen addresses on a given IP and port; a wildcard IP or port 0 is left to libp2p', () => {
    assert.deepEqual(
      relayAnnounce(['/ip4/203.0.113.5/tcp/4001', '/ip4/0.0.0.0/tcp/4002', '/ip6/::/tcp/4003', '/ip4/127.0.0.1/tcp/0', '/ip4/10.0.0.1/tcp/0/ws']),
      ['/ip4/203.0.113.5/tcp/4001']
    )
  })
})

describe('invites', () => {
  it('round-trip: peer id, name and shareable addresses, circuit ones last', async () => {
    const peerId = await newId()
    const relay = await newId()
    const circuit = `/ip4/203.0.113.5/tcp/4001/p2p/${relay}/p2p-circuit`
    const { invite, addrs } = encodeInvite({
      peerId,
      name: 'alice',
      addrs: [multiaddr(`${circuit}/p2p/${peerId}`), multiaddr(`/ip4/127.0.0.1/tcp/9/p2p/${peerId}`), multiaddr('/ip4/192.168.1.5/tcp/9')]
    })
    assert.equal(isInvite(invite), true)
    assert.match(invite, /^p2pnode-invite:[A-Za-z0-9_-]+$/)
    assert.deepEqual(addrs, ['/ip4/192.168.1.5/tcp/9', circuit])
    assert.deepEqual(decodeInvite(`  ${invite}\n`), { peerId, name: 'alice', addrs })
  })
  it('refuses what is no invite, with a reason; drops addresses of other peers', async () => {
    const bad = (s: string, why: RegExp) => assert.throws(() => decodeInvite(s), { code: 'INVALID_ARGUMENT', message: why })
    const enc = (o: unknown) => `p2pnode-invite:${Buffer.from(JSON.stringify(o)).toString('base64url')}`
    bad('p2pnode-invite:', /characters/)
    bad('p2pnode-invite:a b', /characters/)
    bad(`p2pnode-invite:${'A'.repeat(9000)}`, /too long/)
    bad(enc({ v: 2 }), /version/)
    bad(enc({ v: 1, id: 'nope', addrs: ['/ip4/1.2.3.4/tcp/1'] }), /peer id/)
    const id = await newId()
    bad(enc({ v: 1, id, addrs: [] }), /no addresses/)
    bad(enc({ v: 1, id, addrs: ['not an address', 7] }), /none of its addresses/)
    const other = await newId()
    const ok = decodeInvite(
      enc({ v: 1, id, name: 'x\u001b[31m', addrs: [`/ip4/1.2.3.4/tcp/1/p2p/${other}`, `/ip4/1.2.3.4/tcp/2/p2p/${id}`] })
    )
    assert.deepEqual(ok, { peerId: id, name: 'x', addrs: ['/ip4/1.2.3.4/tcp/2'] })
  })
})

describe('invites with a mailbox', () => {
  const enc = (o: unknown) => `p2pnode-invite:${Buffer.from(JSON.stringify(o)).toString('base64url')}`
  const jsonOf = (invite: string) => JSON.parse(Buffer.from(invite.slice('p2pnode-invite:'.length), 'base64url').toString()) as Record<string, unknown>

  it('carries our mailbox (shareable addresses, without /p2p/, at most 8), still as version 1', async () => {
    const [peerId, box] = [await newId(), await newId()]
    const boxAddrs = ['/ip4/127.0.0.1/tcp/7', `/ip4/203.0.113.9/tcp/4001/p2p/${box}`, 'not an address',
      ...Array.from({ length: 12 }, (_, i) => `/ip4/198.51.100.${i + 1}/tcp/4001`)]
    const made = encodeInvite({ peerId, name: 'alice', addrs: [multiaddr('/ip4/192.168.1.5/tcp/9')], mailbox: { peerId: box, addrs: boxAddrs } })
    const expected = ['/ip4/203.0.113.9/tcp/4001', ...Array.from({ length: 7 }, (_, i) => `/ip4/198.51.100.${i + 1}/tcp/4001`)]
    assert.deepEqual(made.mailbox, { peerId: box, addrs: expected })
    assert.equal(jsonOf(made.invite).v, 1, 'older decoders take it: they check v and ignore the field')
    assert.deepEqual(jsonOf(made.invite).mailbox, { id: box, addrs: expected })
    assert.deepEqual(decodeInvite(made.invite), { peerId, name: 'alice', addrs: ['/ip4/192.168.1.5/tcp/9'], mailbox: { peerId: box, addrs: expected } })
    // A mailbox known only on loopback (tests, the same machine) is given as it is, like our own addresses.
    const local = encodeInvite({ peerId, name: 'a', addrs: [multiaddr('/ip4/127.0.0.1/tcp/9')], mailbox: { peerId: box, addrs: ['/ip4/127.0.0.1/tcp/7'] } })
    assert.deepEqual(decodeInvite(local.invite).mailbox, { peerId: box, addrs: ['/ip4/127.0.0.1/tcp/7'] })
  })

  it('without a mailbox, or one with no address to give, has no mailbox field', async () => {
    const [peerId, box] = [await newId(), await newId()]
    const addrs = [multiaddr('/ip4/192.168.1.5/tcp/9')]
    for (const mailbox of [undefined, { peerId: box, addrs: [] }, { peerId: box, addrs: ['nonsense'] }]) {
      const made = encodeInvite({ peerId, name: 'alice', addrs, mailbox })
      assert.equal(made.mailbox, undefined)
      assert.equal('mailbox' in jsonOf(made.invite), false)
      assert.equal('mailbox' in decodeInvite(made.invite), false)
    }
  })

  it('a malformed mailbox field is ignored; the rest of the invite is still usable', async () => {
    const [id, box, other] = [await newId(), await newId(), await newId()]
    const base = { v: 1, id, name: 'alice', addrs: ['/ip4/1.2.3.4/tcp/2'] }
    const usable = { peerId: id, name: 'alice', addrs: ['/ip4/1.2.3.4/tcp/2'] }
    const ignored = [
      'a string',
      7,
      null,
      [box],
      {},
      { id: 'not a peer id', addrs: ['/ip4/1.2.3.5/tcp/1'] },
      { id: 'A'.repeat(200), addrs: ['/ip4/1.2.3.5/tcp/1'] },
      { id: box, addrs: '/ip4/1.2.3.5/tcp/1' },
      { id: box, addrs: [] },
      { id: box, addrs: ['nonsense', 7, { a: 1 }, `/ip4/1.2.3.5/tcp/1/p2p/${other}`, `/dns4/${'a'.repeat(600)}/tcp/1`] },
      // The inviter cannot be its own mailbox.
      { id, addrs: ['/ip4/1.2.3.5/tcp/1'] }
    ]
    for (const mailbox of ignored) assert.deepEqual(decodeInvite(enc({ ...base, mailbox })), usable, JSON.stringify(mailbox).slice(0, 80))
    // Good addresses beside bad ones are kept; an address naming the mailbox itself loses its /p2p/ part.
    const mixed = decodeInvite(enc({ ...base, mailbox: { id: box, addrs: ['nonsense', `/ip4/1.2.3.5/tcp/1/p2p/${box}`, `/ip4/1.2.3.6/tcp/1/p2p/${other}`] } }))
    assert.deepEqual(mixed.mailbox, { peerId: box, addrs: ['/ip4/1.2.3.5/tcp/1'] })
    // At most 8 looked at.
    const many = Array.from({ length: 20 }, (_, i) => `/ip4/1.2.3.${i + 1}/tcp/1`)
    assert.equal(decodeInvite(enc({ ...base, mailbox: { id: box, addrs: many } })).mailbox?.addrs.length, 8)
  })
})

describe('chat greeting with relay addresses (Frame field 10)', () => {
  it('a hello frame carrying reach is still a plain hello; its addresses are bounded', () => {
    const addrs = ['/ip4/1.2.3.4/tcp/1/p2p/12D3KooWHPtfPUvVTarjW1uZ6b67cKDHJ6d8fFq9tWk2276QfPrN/p2p-circuit']
    const frame = Frame.decode(Frame.encode({ hello: { name: 'bob', version: 'p2pnode/0.1.0' }, reach: { relayAddrs: addrs } }))
    assert.equal(readHello(frame).name, 'bob')
    assert.deepEqual(readReach(frame), addrs)
    assert.deepEqual(readReach(Frame.decode(Frame.encode({ hello: { name: 'bob', version: 'v' } }))), [])
    assert.throws(() => readReach({ reach: { relayAddrs: Array(9).fill('/p2p-circuit') } }), { name: 'ProtocolViolationError' })
    assert.throws(() => readReach({ reach: { relayAddrs: ['x'.repeat(300)] } }), { name: 'ProtocolViolationError' })
  })
})

describe('STUN binding responder (RFC 5389)', () => {
  it('answers a Binding request with the sender address, and ignores anything else', () => {
    const req = bindingRequest()
    assert.equal(isBindingRequest(req), true)
    const res = bindingResponse(req, { address: '192.0.2.7', port: 54321, family: 'IPv4' })
    assert.deepEqual(mapped(res), { address: '192.0.2.7', port: 54321 })
    assert.deepEqual(res.subarray(8, 20), req.subarray(8, 20), 'same transaction id')
    const notStun = Buffer.from(req)
    notStun.writeUInt32BE(0xdeadbeef, 4)
    assert.equal(isBindingRequest(notStun), false)
    assert.equal(isBindingRequest(Buffer.alloc(10)), false)
    const response = Buffer.from(req)
    response.writeUInt16BE(0x0101, 0)
    assert.equal(isBindingRequest(response), false)
    assert.equal(isBindingRequest(Buffer.concat([req, Buffer.alloc(3)])), false, 'length must match the header')
  })
  it('over UDP: one answer per request, with the port it came from', async () => {
    const server = await startStunServer({ host: '127.0.0.1', port: 0, log: logger('p2pnode:test') })
    const client = createSocket('udp4')
    try {
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()))
      const answer = new Promise<Buffer>((resolve) => client.once('message', (m) => resolve(m)))
      client.send(bindingRequest(), server.port, '127.0.0.1')
      const res = await answer
      assert.deepEqual(mapped(res), { address: '127.0.0.1', port: client.address().port })
    } finally {
      client.close()
      await server.close()
    }
  })
})
