/**
 * Three "hosts" on one LAN: three network namespaces joined by a bridge (see /work/shared/docs/netns-lan.md).
 * The nodes are started without --dial: they must find each other by mDNS alone, then chat pairwise and
 * concurrently through the CLI, addressing each other by display name and by peer id.
 *
 * Needs root and iproute2; otherwise the suite is skipped with the reason.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { cleanup, NodeProcess, tempDir, waitFor } from '../helpers/cli.ts'
import { NetnsLan, netnsSkipReason } from '../helpers/netns.ts'
import type { HistoryEntry, IdInfo, PeerInfo, SendResult } from '../../src/api/types.ts'

const SKIP = netnsSkipReason()

describe('LAN of three netns hosts: mDNS discovery and concurrent chat', { skip: SKIP ?? false }, () => {
  // Hosts 10.77.0.x (visibility.test.ts uses 10.77.1.x, so the two files may run at once).
  const lan = new NetnsLan({ subnet: '10.77.0', names: ['alice', 'bob', 'carol'], tag: 'l' })
  const HOSTS = lan.hosts
  const nodes: NodeProcess[] = []
  const dirs: string[] = []
  const tag = randomBytes(3).toString('hex')

  const prefixOf = (i: number) => lan.prefix(i)

  before(async () => {
    await lan.up()
    // Record each node as soon as it is up, so `after` stops it even if another one fails to start.
    await Promise.all(
      HOSTS.map(async (h, i) => {
        const dir = await tempDir(`p2pnode-lan-${h.name}-`)
        dirs.push(dir)
        // No --dial: discovery is by mDNS alone.
        nodes[i] = await NodeProcess.start(dir, ['--name', h.name, '--listen', `/ip4/${h.ip}/tcp/0`], {
          prefix: prefixOf(i),
          timeout: 30_000
        })
      })
    )
  })

  after(async () => {
    await Promise.allSettled(nodes.filter((n) => n != null).map((n) => n.stop()))
    await lan.down()
    await cleanup(...dirs)
  })

  it('id --json reports peer id, name and the LAN address', async () => {
    for (const [i, node] of nodes.entries()) {
      const id = await node.json<IdInfo>(['id'], { prefix: prefixOf(i) })
      assert.deepEqual(Object.keys(id).sort(), ['addrs', 'name', 'peerId'])
      assert.equal(id.peerId, node.peerId)
      assert.equal(id.name, HOSTS[i].name)
      assert.ok(Array.isArray(id.addrs) && id.addrs.every((a) => typeof a === 'string'))
      assert.ok(
        id.addrs.some((a) => a.startsWith(`/ip4/${HOSTS[i].ip}/tcp/`)),
        `${HOSTS[i].name} should listen on ${HOSTS[i].ip}: ${id.addrs.join(' ')}`
      )
    }
  })

  it('each node finds the other two by mDNS alone, connected and named', async () => {
    await Promise.all(
      nodes.map((node, i) =>
        waitFor(
          async () => {
            const peers = await node.json<PeerInfo[]>(['peers'])
            return nodes.every(
              (other, j) =>
                j === i || peers.some((p) => p.peerId === other.peerId && p.connected && p.name === HOSTS[j].name)
            )
          },
          { timeout: 20_000, interval: 200, what: `${HOSTS[i].name} to see the other two connected and named` }
        )
      )
    )
    for (const [i, node] of nodes.entries()) {
      const peers = await node.json<PeerInfo[]>(['peers'])
      assert.ok(Array.isArray(peers))
      assert.equal(peers.length, 2, `${HOSTS[i].name} knows exactly two peers: ${JSON.stringify(peers)}`)
      for (const p of peers) {
        assert.deepEqual(Object.keys(p).sort(), ['addrs', 'connected', 'name', 'path', 'peerId'])
        // On one LAN: straight there, no relay.
        assert.equal(p.path, 'direct')
        assert.equal(typeof p.peerId, 'string')
        assert.equal(typeof p.name, 'string')
        assert.equal(p.connected, true)
        assert.ok(Array.isArray(p.addrs) && p.addrs.every((a) => typeof a === 'string'))
        const j = nodes.findIndex((n) => n.peerId === p.peerId)
        assert.ok(j >= 0 && j !== i, `unexpected peer ${p.peerId}`)
        assert.equal(p.name, HOSTS[j].name)
        assert.ok(
          p.addrs.some((a) => a.startsWith(`/ip4/${HOSTS[j].ip}/tcp/`)),
          `${HOSTS[i].name} should know ${HOSTS[j].name}'s LAN address: ${p.addrs.join(' ')}`
        )
      }
    }
  })

  it('chats pairwise and concurrently, by display name and by peer id', async () => {
    const PER_PAIR = 3
    const pairs: Array<[number, number]> = []
    for (let i = 0; i < nodes.length; i++) for (let j = 0; j < nodes.length; j++) if (i !== j) pairs.push([i, j])

    const textOf = (i: number, j: number, k: number) => `${tag} ${HOSTS[i].name}->${HOSTS[j].name} #${k}`
    // Alternate the addressing so every pair uses both, starting differently per pair.
    const refOf = (p: number, j: number, k: number) => ((p + k) % 2 === 0 ? HOSTS[j].name : nodes[j].peerId)

    const sent = new Map<string, string[]>() // "i,j" -> message ids, in order
    await Promise.all(
      pairs.map(async ([i, j], p) => {
        const ids: string[] = []
        for (let k = 0; k < PER_PAIR; k++) {
          const res = await nodes[i].json<SendResult>(['send', refOf(p, j, k), textOf(i, j, k)])
          assert.deepEqual(Object.keys(res).sort(), ['id', 'status'])
          assert.match(res.id, /^[0-9a-f]{32}$/)
          assert.equal(res.status, 'delivered', `${textOf(i, j, k)} via ${refOf(p, j, k)}`)
          ids.push(res.id)
        }
        sent.set(`${i},${j}`, ids)
      })
    )

    // Every node's history with every other node: exactly their messages in, ours out, once each, in order.
    await Promise.all(
      pairs.map(async ([i, j], p) => {
        // Receiver j looks up sender i, by name or by peer id.
        const ref = p % 2 === 0 ? HOSTS[i].name : nodes[i].peerId
        const history = await nodes[j].json<HistoryEntry[]>(['history', ref, '--limit', '100'])
        assert.ok(Array.isArray(history))
        const what = `${HOSTS[j].name}'s history with ${HOSTS[i].name}`
        assert.equal(history.length, 2 * PER_PAIR, `${what}: ${JSON.stringify(history)}`)
        for (const m of history) {
          assert.deepEqual(Object.keys(m).sort(), ['direction', 'from', 'id', 'status', 'text', 'timestamp', 'to'])
          assert.equal(typeof m.timestamp, 'number')
        }

        const incoming = history.filter((m) => m.direction === 'in')
        assert.deepEqual(
          incoming.map((m) => m.text),
          Array.from({ length: PER_PAIR }, (_, k) => textOf(i, j, k)),
          what
        )
        assert.deepEqual(
          incoming.map((m) => m.id),
          sent.get(`${i},${j}`)
        )
        for (const m of incoming) {
          assert.equal(m.from, nodes[i].peerId)
          assert.equal(m.to, nodes[j].peerId)
          assert.equal(m.status, 'received')
        }
        for (let k = 1; k < incoming.length; k++) assert.ok(incoming[k].timestamp >= incoming[k - 1].timestamp)

        const outgoing = history.filter((m) => m.direction === 'out')
        assert.deepEqual(
          outgoing.map((m) => m.text),
          Array.from({ length: PER_PAIR }, (_, k) => textOf(j, i, k)),
          what
        )
        assert.deepEqual(
          outgoing.map((m) => m.id),
          sent.get(`${j},${i}`)
        )
        for (const m of outgoing) {
          assert.equal(m.from, nodes[j].peerId)
          assert.equal(m.to, nodes[i].peerId)
          assert.equal(m.status, 'delivered')
        }
      })
    )
  })
})
