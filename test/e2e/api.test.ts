import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Client } from 'undici'
import type { HistoryEntry, IdInfo } from '../../src/api/types.ts'
import { cleanup, cli, NODE, NodeProcess, tempDir } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
const STRANGER = '12D3KooWGQd2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdM'

/**
 * No API call, however wrong, may stop the node: bad paths, wrong types, unknown fields. Each answer is a 400 with
 * a clear message, and the node answers the next call.
 */
describe('the local API survives what a caller gets wrong', () => {
  let dir: string
  let node: NodeProcess
  let api: Client

  /** A raw request on the node's socket: status and parsed body. */
  const request = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await api.request({
      method,
      path,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    return { status: res.statusCode, body: (await res.body.json()) as { code?: string; message?: string } }
  }

  const stillUp = async (what: string) =>
    assert.equal((await node.json<IdInfo>(['id'])).peerId, node.peerId, `the node still answers after ${what}`)

  before(async () => {
    dir = await tempDir()
    node = await NodeProcess.start(dir, ['--name', 'solo', ...LOCAL])
    api = new Client('http://localhost', { socketPath: join(dir, 'api.sock') })
    // Something to export.
    assert.equal((await node.run(['send', STRANGER, 'one message'])).code, 0)
  })
  after(async () => {
    await api.close()
    await node.stop()
    await cleanup(dir)
  })

  it('export to a directory that does not exist: exit 2 with the reason, and the node keeps running', async () => {
    const res = await node.run(['export', '--out', '/no/such/dir/a.jsonl'])
    assert.equal(res.code, 2, res.stderr)
    assert.match(res.stderr, /^error: cannot write \/no\/such\/dir\/a\.jsonl: no such directory$/m)
    assert.match(res.stderr, /^hint: /m)
    await stillUp('the failed export')
    assert.equal(node.child.exitCode, null, 'the node process is alive')
  })

  it('export onto an existing directory: 400, and nothing left beside it', async () => {
    const target = join(dir, 'exports')
    await mkdir(target)
    const res = await node.run(['export', '--out', target])
    assert.equal(res.code, 2, res.stderr)
    assert.match(res.stderr, /it is a directory/)
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.startsWith('exports')),
      ['exports'],
      'no exports.card.md or temp file'
    )
    // A plain file there is replaced, card and all.
    await writeFile(join(dir, 'old.jsonl'), 'old\n')
    const ok = await node.json<{ messages: number }>(['export', '--out', join(dir, 'old.jsonl')])
    assert.equal(ok.messages, 1)
  })

  it('export to / and paths with a NUL byte: 400 INVALID_ARGUMENT, not 500', async () => {
    for (const out of ['/', '/tmp/a\u0000b.jsonl']) {
      const res = await request('POST', '/v1/export', { out })
      assert.equal(res.status, 400, `${JSON.stringify(out)}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.code, 'INVALID_ARGUMENT')
    }
    const file = await request('POST', '/v1/files', { peer: STRANGER, path: '/tmp/a\u0000b' })
    assert.equal(file.status, 400, JSON.stringify(file.body))
    assert.match(file.body.message ?? '', /NUL byte/)
    await stillUp('bad paths')
  })

  it('takes types as sent: "text": 123 is refused, not sent as "123"', async () => {
    const res = await request('POST', '/v1/messages', { peer: STRANGER, text: 123 })
    assert.equal(res.status, 400, JSON.stringify(res.body))
    assert.equal(res.body.code, 'INVALID_ARGUMENT')
    assert.match(res.body.message ?? '', /text must be string/)
    const bad = await request('POST', '/v1/peer-state', { peer: STRANGER, muted: 'true' })
    assert.equal(bad.status, 400, JSON.stringify(bad.body))
    const history = await node.json<HistoryEntry[]>(['history', STRANGER])
    assert.deepEqual(
      history.map((m) => m.text),
      ['one message'],
      'nothing was sent'
    )
  })

  it('refuses unknown fields instead of dropping them', async () => {
    const cases: Array<['GET' | 'POST', string, unknown, RegExp]> = [
      ['POST', '/v1/messages', { peer: STRANGER, text: 'hi', replyto: 'x' }, /unknown field "replyto"/],
      ['POST', '/v1/export', { out: join(dir, 'x.jsonl'), anonymise: true }, /unknown field "anonymise"/],
      ['POST', '/v1/visibility', { visibility: 'nobody' }, /visibility must be equal to one of/],
      ['GET', `/v1/messages?peer=${STRANGER}&limmit=5`, undefined, /unknown field "limmit"/],
      ['POST', '/v1/stop', { now: true }, /unknown field "now"/],
      ['GET', '/v1/peers?connected=true', undefined, /unknown field "connected" in the querystring/]
    ]
    for (const [method, path, body, message] of cases) {
      const res = await request(method, path, body)
      assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.code, 'INVALID_ARGUMENT')
      assert.match(res.body.message ?? '', message)
    }
    assert.equal((await node.json<HistoryEntry[]>(['history', STRANGER])).length, 1, 'the message with a typo was not sent')
    await stillUp('unknown fields')
  })
})

describe('the CLI when the node goes away during a call', () => {
  let dir: string
  let server: Server | undefined

  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    server?.close()
    await cleanup(dir)
  })

  it('says the node stopped while answering, not that no node is running', async () => {
    // A "node" that reads the request and dies on the spot (kill -9), leaving its api.sock behind as a crash does.
    const sock = join(dir, 'api.sock')
    const crashing = spawn(NODE, [
      '-e',
      `require('net').createServer((s) => s.once('data', () => process.kill(process.pid, 'SIGKILL')))
        .listen(${JSON.stringify(sock)}, () => console.log('listening'))`
    ])
    const exited = new Promise((resolve) => crashing.on('exit', resolve))
    await new Promise((resolve) => crashing.stdout.once('data', resolve))
    const res = await cli(['id', '--data', dir])
    await exited
    assert.equal(res.code, 3, res.stderr)
    assert.match(res.stderr, /stopped while answering/)
    assert.doesNotMatch(res.stderr, /no node is running|other side closed/)
    // Then, with the crashed node's api.sock left behind, the next call says there is no node.
    const next = await cli(['id', '--data', dir])
    assert.equal(next.code, 3)
    assert.match(next.stderr, /no node is running on .* \(the last one did not stop cleanly\)/)
    assert.match(next.stderr, /hint: start one with: p2pnode start --data /)
  })

  it('says the node closed the connection when it is still there', async () => {
    await cleanup(join(dir, 'api.sock'))
    // The first connection is cut off; the node answers the next ones.
    let first = true
    server = createServer((socket) =>
      socket.once('data', () => {
        if (first) socket.destroy()
        else socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}')
        first = false
      })
    )
    await new Promise<void>((resolve) => server?.listen(join(dir, 'api.sock'), resolve))
    const res = await cli(['id', '--data', dir])
    assert.equal(res.code, 1, res.stderr)
    assert.match(res.stderr, /closed the connection without answering/)
  })
})
