import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Answer } from 'dns-packet'
import dnsPacket from 'dns-packet'
import {
  MAX_PACKET_BYTES,
  packetBytes,
  readResponse,
  sameSubnet,
  serviceAnswer
} from '../../src/node/mdns-records.ts'

const SERVICE = '_p2pnode._udp.local'
const newId = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
/** Through the wire format and back, as a receiver sees it. */
const roundTrip = (answers: Answer[], additionals: Answer[] = []) =>
  dnsPacket.decode(dnsPacket.encode({ type: 'response', answers, additionals }))

describe('mDNS records', () => {
  it('answers with PTR, SRV, one TXT and A records, within one unfragmented packet however many addresses', async () => {
    const id = await newId()
    const addrs = Array.from({ length: 40 }, (_, i) =>
      multiaddr(`/ip4/192.168.${i}.${100 + i}/tcp/40123/p2p/${id}`)
    )
    const answer = serviceAnswer({ peerId: id, addrs }, SERVICE)
    assert.ok(packetBytes(answer) <= MAX_PACKET_BYTES, `${packetBytes(answer)} bytes`)
    assert.deepEqual(
      answer.answers.map((r) => r.type),
      ['PTR']
    )
    const types = answer.additionals.map((r) => r.type)
    assert.equal(types.filter((t) => t === 'SRV').length, 1)
    assert.equal(types.filter((t) => t === 'TXT').length, 1, 'one TXT record for all addresses')
    const txt = answer.additionals.find((r) => r.type === 'TXT') as { data: string[] }
    assert.ok(txt.data.length >= 5 && txt.data.length < 40, `as many addresses as fit: ${txt.data.length}`)
    assert.equal(types.filter((t) => t === 'A').length, txt.data.length, 'an A record per address kept')
    // What is kept reads back whole.
    const [found] = readResponse(roundTrip(answer.answers, answer.additionals), SERVICE)
    assert.equal(found.peerId, id)
    assert.equal(found.multiaddrs.length, txt.data.length)
    assert.equal(found.multiaddrs[0].toString(), '/ip4/192.168.0.100/tcp/40123')
  })

  it('gives each instance of an answer its own addresses, and drops addresses of another peer', async () => {
    const [a, b, c] = await Promise.all([newId(), newId(), newId()])
    const ptr = (id: string): Answer => ({ name: SERVICE, type: 'PTR', ttl: 120, data: `${id}.${SERVICE}` })
    const txt = (id: string, strings: string[]): Answer => ({ name: `${id}.${SERVICE}`, type: 'TXT', ttl: 120, data: strings })
    const packet = roundTrip(
      [ptr(a), ptr(b)],
      [
        txt(a, [`dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/${a}`, `dnsaddr=/ip4/10.0.0.9/tcp/9/p2p/${c}`]),
        txt(b, [`dnsaddr=/ip4/10.0.0.2/tcp/2/p2p/${b}`, 'not=an address', 'dnsaddr=garbage'])
      ]
    )
    const found = readResponse(packet, SERVICE)
    assert.deepEqual(
      found.map((f) => [f.peerId, f.multiaddrs.map(String)]),
      [
        [a, ['/ip4/10.0.0.1/tcp/1']],
        [b, ['/ip4/10.0.0.2/tcp/2']]
      ]
    )
  })

  it("reads p2pnode 0.1's answers (a random instance name, one TXT record per address) and goodbyes", async () => {
    const id = await newId()
    const instance = `x7Rk2p.${SERVICE}`
    const packet = roundTrip(
      [
        { name: SERVICE, type: 'PTR', ttl: 120, data: instance },
        { name: instance, type: 'TXT', ttl: 120, data: `dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/${id}` },
        { name: instance, type: 'TXT', ttl: 120, data: `dnsaddr=/ip4/10.0.0.2/tcp/2/p2p/${id}` }
      ]
    )
    const [found] = readResponse(packet, SERVICE)
    assert.equal(found.peerId, id)
    assert.deepEqual(found.multiaddrs.map(String), ['/ip4/10.0.0.1/tcp/1', '/ip4/10.0.0.2/tcp/2'])
    const bye = serviceAnswer({ peerId: id, addrs: [multiaddr(`/ip4/10.0.0.1/tcp/1/p2p/${id}`)] }, SERVICE, {
      goodbye: true
    })
    const [gone] = readResponse(roundTrip(bye.answers, bye.additionals), SERVICE)
    assert.equal(gone.ttl, 0)
    assert.ok([...bye.answers, ...bye.additionals].every((r) => (r as { ttl: number }).ttl === 0))
  })

  it('bounds what one packet may make it read', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, newId))
    const answers: Answer[] = ids.map((id) => ({ name: SERVICE, type: 'PTR', ttl: 120, data: `${id}.${SERVICE}` }))
    const additionals: Answer[] = ids.map((id) => ({
      name: `${id}.${SERVICE}`,
      type: 'TXT',
      ttl: 120,
      data: Array.from({ length: 30 }, (_, i) => `dnsaddr=/ip4/10.0.0.${i}/tcp/1/p2p/${id}`)
    }))
    const found = readResponse(roundTrip(answers, additionals), SERVICE)
    assert.equal(found.length, 32, 'at most 32 instances')
    assert.ok(found.every((f) => f.multiaddrs.length === 16), 'at most 16 addresses each')
  })

  it('tells whether an address is on a subnet', () => {
    assert.ok(sameSubnet('10.77.7.3', '10.77.7.1', '255.255.255.0'))
    assert.ok(!sameSubnet('10.77.8.3', '10.77.7.1', '255.255.255.0'))
    assert.ok(!sameSubnet('fe80::1', '10.77.7.1', '255.255.255.0'))
  })
})
