import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { ApiClient } from '../../src/api/client.ts'
import { startApiServer } from '../../src/api/server.ts'
import { P2pNode } from '../../src/node/index.ts'
import { cleanup, tempDir, waitFor } from '../helpers/cli.ts'

const LOCAL = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }
const TIMEOUTS = { idleTimeout: 400, headersTimeout: 300, requestTimeout: 600, maxConnections: 64 }

/** The API server (src/api/server.ts) over a real node: sockets that never finish a request are cut off. */
describe('API server: bounded connections and timeouts', () => {
  let dir: string
  let node: P2pNode
  let server: FastifyInstance
  let socketPath: string
  /** `id()` answers after `slowMs` (a call that takes longer than the idle timeout). */
  let slowMs = 0

  before(async () => {
    dir = await tempDir()
    socketPath = join(dir, 'api.sock')
    node = await P2pNode.start({ ...LOCAL, dataDir: dir, name: 'solo' })
    const slow = Object.create(node, {
      id: { value: async () => new Promise((r) => setTimeout(r, slowMs)).then(() => node.id()) }
    }) as P2pNode
    server = await startApiServer({ ...node.api, node: slow }, socketPath, TIMEOUTS)
  })
  after(async () => {
    await server.close()
    await node.stop()
    await cleanup(dir)
  })

  it('closes 3,000 connections that never finish a request, never holding more than the limit', async () => {
    const kinds = [
      '', // connects and says nothing
      'GET /v1/id HTTP/1.1\r\nHost: x\r\n', // headers never end
      'POST /v1/messages HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"pe' // body never ends
    ]
    const sockets: Socket[] = []
    let closed = 0
    let most = 0
    const sample = setInterval(() => server.server.getConnections((_e, n) => (most = Math.max(most, n))), 20)
    try {
      for (let i = 0; i < 3000; i++) {
        const s = connect(socketPath)
        s.on('error', () => {})
        s.resume() // read, so that the server's close is seen
        s.on('close', () => closed++)
        s.on('connect', () => s.write(kinds[i % kinds.length]))
        sockets.push(s)
      }
      await waitFor(() => closed === sockets.length, {
        timeout: 30_000,
        what: `the server to close all ${sockets.length} connections (${closed} closed)`
      })
    } finally {
      clearInterval(sample)
      for (const s of sockets) s.destroy()
    }
    assert.ok(most <= TIMEOUTS.maxConnections, `at most ${TIMEOUTS.maxConnections} held at once, saw ${most}`)
    // And the API still answers.
    const client = new ApiClient(socketPath, dir)
    try {
      assert.equal((await client.id()).peerId, node.libp2p.peerId.toString())
    } finally {
      await client.close()
    }
  })

  it('lets a call take longer than the idle timeout once its request is in', async () => {
    slowMs = TIMEOUTS.idleTimeout * 3
    const client = new ApiClient(socketPath, dir)
    try {
      assert.equal((await client.id()).peerId, node.libp2p.peerId.toString())
      // A keep-alive connection left idle is closed; the next call opens another and works.
      await new Promise((r) => setTimeout(r, TIMEOUTS.idleTimeout * 2))
      slowMs = 0
      assert.equal((await client.id()).peerId, node.libp2p.peerId.toString())
    } finally {
      await client.close()
    }
  })
})
