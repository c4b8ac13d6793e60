/**
 * The listen port without --listen: picked on the first start, remembered in the data dir, the same after every
 * restart; when it is taken, another one for that run (said on stderr) and the node starts anyway; an explicit
 * --listen is used as given and does not replace the remembered port; an explicit port that is taken is a clear
 * error. (mDNS off: these nodes send nothing on the network.)
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { IdInfo } from '../../src/api/types.ts'
import { cleanup, cli, NodeProcess, tempDir } from '../helpers/cli.ts'

/** The TCP ports a node says it listens on. */
async function portsOf(node: NodeProcess): Promise<number[]> {
  const id = await node.json<IdInfo>(['id'])
  return [...new Set(id.addrs.map((a) => Number(/\/tcp\/(\d+)/.exec(a)?.[1])))]
}

async function occupy(port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host }, resolve)
  })
  return server
}

describe('listen port: remembered across restarts', () => {
  let dir: string
  let port = 0
  const servers: Server[] = []
  const nodes: NodeProcess[] = []

  const start = async (args: string[] = []) => {
    const node = await NodeProcess.start(dir, ['--no-mdns', ...args])
    nodes.push(node)
    return node
  }

  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    for (const s of servers) s.close()
    await cleanup(dir)
  })

  it('picks a port on the first start and keeps it after a restart', async () => {
    const first = await start()
    const ports = await portsOf(first)
    assert.equal(ports.length, 1, `one TCP port: ${ports.join(' ')}`)
    port = ports[0]
    assert.ok(port > 0, 'a real port, not 0')
    assert.equal(await first.stop(), 0)
    const second = await start()
    assert.deepEqual(await portsOf(second), [port], 'the same port after a restart')
    assert.equal(await second.stop(), 0)
  })

  it('when the port is taken: another port for this run, said on stderr, and the old one again later', async () => {
    assert.ok(port > 0, 'the first test found the port')
    servers.push(await occupy(port))
    const node = await start()
    const ports = await portsOf(node)
    assert.equal(ports.length, 1)
    assert.notEqual(ports[0], port, 'another port while the remembered one is taken')
    assert.match(node.stderr, new RegExp(`port ${port} .*is in use.*listening on ${ports[0]} for this run only`))
    assert.equal(await node.stop(), 0)
    servers.pop()?.close()
    const again = await start()
    assert.deepEqual(await portsOf(again), [port], 'the remembered port once it is free again')
    assert.equal(await again.stop(), 0)
  })

  it('an explicit --listen is used as given and does not replace the remembered port', async () => {
    const node = await start(['--listen', '/ip4/127.0.0.1/tcp/0'])
    const ports = await portsOf(node)
    assert.notDeepEqual(ports, [port])
    assert.equal(await node.stop(), 0)
    const again = await start()
    assert.deepEqual(await portsOf(again), [port], 'the remembered port is unchanged')
    assert.equal(await again.stop(), 0)
  })

  it('an explicit port that is taken is a clear error (exit 2), not silently another port', async () => {
    const server = await occupy(0, '127.0.0.1')
    servers.push(server)
    const taken = (server.address() as { port: number }).port
    const res = await cli(['start', '--data', dir, '--no-mdns', '--listen', `/ip4/127.0.0.1/tcp/${taken}`])
    assert.equal(res.code, 2, res.stderr)
    assert.match(res.stderr, new RegExp(`error: cannot listen on /ip4/127.0.0.1/tcp/${taken}: port ${taken} is in use`))
    assert.match(res.stderr, /hint: .*--listen/)
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace')
    assert.equal(res.stdout, '')
  })
})
