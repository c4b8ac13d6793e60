import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { ApiClient } from '../../src/api/client.ts'
import type { HistoryEntry, IdInfo, PeerInfo, SendResult } from '../../src/api/types.ts'
import { cleanup, cli, NodeProcess, ROOT, tempDir, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

describe('p2pnode CLI: one node', () => {
  let dir: string
  let node: NodeProcess

  before(async () => {
    dir = await tempDir()
    node = await NodeProcess.start(dir, ['--name', 'solo', ...LOCAL])
  })
  after(async () => {
    await node.stop()
    await cleanup(dir)
  })

  it('prints ready <peerId> and answers id', async () => {
    const id = await node.json<IdInfo>(['id'])
    assert.equal(id.peerId, node.peerId)
    assert.equal(id.name, 'solo')
    assert.ok(id.addrs.length > 0 && id.addrs.every((a) => a.startsWith('/ip4/127.0.0.1/tcp/')))
    const text = await node.run(['id'])
    assert.equal(text.code, 0)
    assert.match(text.stdout, new RegExp(`peer id: ${node.peerId}`))
  })

  it('keeps the key file, the API socket and the database private', async () => {
    assert.equal((await stat(join(dir, 'identity.key'))).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'store.secret'))).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'api.sock'))).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'db'))).mode & 0o077, 0, 'db/ is not readable by others')
    for (const f of await readdir(join(dir, 'db'))) {
      assert.equal((await stat(join(dir, 'db', f))).mode & 0o077, 0, `db/${f} is not readable by others`)
    }
  })

  it('refuses a second start on the same data dir', async () => {
    const res = await cli(['start', '--data', dir, ...LOCAL])
    assert.equal(res.code, 6)
    assert.match(res.stderr, new RegExp(`a node is already running on ${dir}`))
    assert.equal(res.stdout, '')
    assert.equal((await node.json<IdInfo>(['id'])).peerId, node.peerId, 'the first node still answers')
  })

  it('names unknown peers clearly', async () => {
    const res = await node.run(['send', 'nobody', 'hello'])
    assert.equal(res.code, 4)
    assert.match(res.stderr, /no known peer is called "nobody"/)
    assert.match(res.stderr, /hint: /)
    const json = await node.run(['history', 'nobody', '--json'])
    assert.equal(json.code, 4)
    assert.equal(JSON.parse(json.stdout).error.code, 'PEER_NOT_FOUND')
  })

  it('rejects bad arguments with usage errors (exit 2)', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['dial', 'not-a-multiaddr'], /not a valid multiaddr/],
      [['send', node.peerId, ''], /empty/],
      [['send', node.peerId, 'x'.repeat(70_000)], /limit is 65536/],
      [['history', node.peerId, '--limit', 'abc'], /whole number/],
      [['frobnicate'], /unknown command/],
      [['send'], /missing required argument/],
      [['send', node.peerId, 'to myself'], /yourself/],
      [['search', ''], /the search query is empty/]
    ]
    for (const [args, pattern] of cases) {
      const res = await node.run(args)
      assert.equal(res.code, 2, `${args.join(' ')} → ${res.code} ${res.stderr}`)
      assert.match(res.stderr, pattern)
    }
    assert.equal((await node.json<IdInfo>(['id'])).peerId, node.peerId, 'still running')
  })

  it('answers an oversize API request with INVALID_MESSAGE, not an internal error', async () => {
    const client = new ApiClient(join(dir, 'api.sock'), dir)
    try {
      await assert.rejects(client.send(node.peerId, 'x'.repeat(600_000)), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_MESSAGE')
        assert.match(err.message, /larger than/)
        return true
      })
    } finally {
      await client.close()
    }
  })

  it('fails a dial to nobody with DIAL_FAILED', async () => {
    const res = await node.run(['dial', '/ip4/127.0.0.1/tcp/1'])
    assert.equal(res.code, 5)
    assert.match(res.stderr, /could not reach/)
  })

  it('queues a message to a peer id it has never met', async () => {
    const stranger = '12D3KooWGQd2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdM'
    const res = await node.json<SendResult>(['send', stranger, 'see you later'])
    assert.equal(res.status, 'pending')
    const hist = await node.json<HistoryEntry[]>(['history', stranger])
    assert.deepEqual(
      hist.map((m) => [m.text, m.status, m.direction]),
      [['see you later', 'pending', 'out']]
    )
  })

  it('logs a malformed frame from a peer on stderr and keeps serving', async () => {
    const raw = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    try {
      const addr = (await node.json<IdInfo>(['id'])).addrs[0]
      const stream = await raw.dialProtocol(multiaddr(addr), '/chat/1.0')
      stream.send(new Uint8Array([0x04, 0xde, 0xad, 0xbe, 0xef]))
      await waitFor(() => /resetting chat stream from \S+/.test(node.stderr), { what: 'the reset to be logged' })
      assert.equal((await node.json<IdInfo>(['id'])).peerId, node.peerId, 'still serving')
    } finally {
      await raw.stop()
    }
  })

  it('prints help for every command', async () => {
    for (const args of [['--help'], ['start', '--help'], ['send', '--help'], ['history', '--help']]) {
      const res = await cli(args)
      assert.equal(res.code, 0)
      assert.match(res.stdout, /Usage: p2pnode/)
    }
  })
})

describe('p2pnode CLI: the README way', () => {
  it('npx p2pnode start prints ready <peerId>, and p2pnode stop ends it with 0', async () => {
    const dir = await tempDir()
    const child = spawn('npx', ['p2pnode', 'start', '--data', dir, ...LOCAL], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      let stdout = ''
      child.stdout.on('data', (d) => (stdout += d))
      // npm 11's npx installs the clone into its own cache on the first run in a clone (a link, then the package's
      // prepare and postinstall scripts again): that first start takes as long as a build, so it gets a build's time.
      const peerId = await waitFor(() => /^ready (12D3KooW\w+)$/m.exec(stdout)?.[1], {
        what: 'the ready line',
        timeout: 180_000
      })
      const id = JSON.parse((await cli(['id', '--data', dir, '--json'])).stdout) as IdInfo
      assert.equal(id.peerId, peerId)
      assert.equal((await cli(['stop', '--data', dir])).code, 0)
      assert.equal(await exited, 0)
    } finally {
      child.kill('SIGKILL')
      await cleanup(dir)
    }
  })
})

describe('p2pnode CLI: no node running', () => {
  let dir: string
  before(async () => {
    dir = await tempDir()
  })
  after(() => cleanup(dir))

  it('says so, with the command to type, for a missing or idle data dir', async () => {
    for (const d of [join(dir, 'missing'), dir]) {
      const res = await cli(['peers', '--data', d])
      assert.equal(res.code, 3)
      assert.match(res.stderr, new RegExp(`no node is running on ${d}`))
      assert.match(res.stderr, /start one with: p2pnode start/)
    }
  })

  it('refuses a bad --listen or --dial address before starting', async () => {
    for (const flag of ['--listen', '--dial']) {
      const res = await cli(['start', '--data', join(dir, 'badaddr'), '--no-mdns', flag, 'garbage'])
      assert.equal(res.code, 2, res.stderr)
      assert.match(res.stderr, /"garbage" is not a valid multiaddr/)
      assert.match(res.stderr, /hint: /)
      assert.doesNotMatch(res.stderr, /^\s+at /m, 'no stack trace')
    }
  })

  it('refuses a display name peers would reject', async () => {
    const res = await cli(['start', '--data', join(dir, 'named'), '--name', 'n'.repeat(65), ...LOCAL])
    assert.equal(res.code, 2)
    assert.match(res.stderr, /a name must be 1 to 64 bytes/)
  })

  it('reports a data dir that is a file', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, 'x')
    const res = await cli(['start', '--data', file, ...LOCAL])
    assert.equal(res.code, 7)
    assert.match(res.stderr, /cannot use .* as the data dir/)
  })

  it('creates a missing data dir on start and keeps its identity across restarts', async () => {
    const d = join(dir, 'new', 'nested')
    const first = await NodeProcess.start(d, ['--name', 'keeper', ...LOCAL])
    assert.equal(await first.stop(), 0, 'SIGTERM exits 0')
    const second = await NodeProcess.start(d, LOCAL)
    try {
      assert.equal(second.peerId, first.peerId)
      assert.equal((await second.json<IdInfo>(['id'])).name, 'keeper', 'name remembered')
      const stop = await second.run(['stop'])
      assert.equal(stop.code, 0)
      assert.equal(await second.exited, 0, 'p2pnode stop exits the node with 0')
    } finally {
      await second.stop()
    }
  })
})

describe('p2pnode CLI: three nodes on one host (--dial)', () => {
  const dirs: string[] = []
  const nodes: NodeProcess[] = []
  const names = ['alice', 'bob', 'carol']

  before(async () => {
    for (const name of names) {
      const dir = await tempDir()
      dirs.push(dir)
      nodes.push(await NodeProcess.start(dir, ['--name', name, ...LOCAL]))
    }
  })
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await cleanup(...dirs)
  })

  it('connects by dialling and learns names', async () => {
    const [alice, bob, carol] = nodes
    const addr = async (n: NodeProcess) => (await n.json<IdInfo>(['id'])).addrs[0]
    // alice dials bob through the CLI; carol dials both through --dial on a restart
    assert.equal((await alice.json<{ name: string }>(['dial', await addr(bob)])).name, 'bob')
    // Already connected: the same address again is fine (no new connection); a wrong one is still DIAL_FAILED.
    assert.equal((await alice.json<{ name: string }>(['dial', await addr(bob)])).name, 'bob')
    const wrong = await alice.run(['dial', `/ip4/127.0.0.1/tcp/1/p2p/${bob.peerId}`])
    assert.equal(wrong.code, 5, wrong.stderr)
    assert.match(wrong.stderr, /could not reach/)
    assert.equal((await alice.json<PeerInfo[]>(['peers'])).find((p) => p.peerId === bob.peerId)?.connected, true)
    const carolAddrs = [await addr(alice), await addr(bob)]
    await carol.stop()
    nodes[2] = await NodeProcess.start(carol.dataDir, [...LOCAL, ...carolAddrs.flatMap((a) => ['--dial', a])])
    for (const n of nodes) {
      await waitFor(
        async () => {
          const peers = await n.json<PeerInfo[]>(['peers'])
          const others = names.filter((x) => x !== names[nodes.indexOf(n)])
          return others.every((o) => peers.some((p) => p.name === o && p.connected))
        },
        { what: `${names[nodes.indexOf(n)]} to see both others` }
      )
    }
  })

  it('chats pairwise and concurrently, by name and by peer id', async () => {
    const sends: Array<Promise<SendResult>> = []
    const expected = new Map<string, string[]>()
    for (let round = 0; round < 3; round++) {
      for (const [i, from] of nodes.entries()) {
        for (const [j, to] of nodes.entries()) {
          if (i === j) continue
          const text = `${names[i]}→${names[j]} #${round}`
          const key = `${i}${j}`
          expected.set(key, [...(expected.get(key) ?? []), text])
          sends.push(from.json<SendResult>(['send', round % 2 === 0 ? names[j] : to.peerId, text]))
        }
      }
      // rounds are sequential so that order per pair is defined; within a round, everything is concurrent
      const results = await Promise.all(sends.splice(0))
      for (const r of results) assert.equal(r.status, 'delivered')
    }
    for (const [key, texts] of expected) {
      const [i, j] = [Number(key[0]), Number(key[1])]
      const hist = await nodes[j].json<HistoryEntry[]>(['history', names[i]])
      const got = hist.filter((m) => m.direction === 'in').map((m) => m.text)
      assert.deepEqual(got, texts, `${names[i]} → ${names[j]}`)
      const sent = await nodes[i].json<HistoryEntry[]>(['history', nodes[j].peerId])
      assert.ok(sent.filter((m) => m.direction === 'out').every((m) => m.status === 'delivered'))
    }
  })

  it('says which peers a shared name could mean', async () => {
    const [alice, bob] = nodes
    const twinDir = await tempDir()
    dirs.push(twinDir)
    const twin = await NodeProcess.start(twinDir, ['--name', 'bob', ...LOCAL])
    nodes.push(twin)
    await alice.json(['dial', (await twin.json<IdInfo>(['id'])).addrs[0]])
    const res = await alice.run(['send', 'bob', 'which one?', '--json'])
    assert.equal(res.code, 4)
    const err = JSON.parse(res.stdout).error
    assert.equal(err.code, 'PEER_AMBIGUOUS')
    assert.ok(err.message.includes(bob.peerId) && err.message.includes(twin.peerId))
    assert.equal((await alice.json<SendResult>(['send', twin.peerId, 'this one'])).status, 'delivered')
  })
})
