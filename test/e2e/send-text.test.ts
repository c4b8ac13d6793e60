import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import type { HistoryEntry, IdInfo } from '../../src/api/types.ts'
import { BIN, cleanup, type CliResult, NODE, NodeProcess, tempDir } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
const STRANGER = '12D3KooWGQd2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdM'

/** `p2pnode <args>` with `input` on its stdin. */
function withStdin(args: string[], input: string): Promise<CliResult> {
  const child = spawn(NODE, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  child.stdin.end(input)
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  )
}

describe('send: what the text is', () => {
  let dir: string
  let node: NodeProcess
  const texts = async () => (await node.json<HistoryEntry[]>(['history', STRANGER])).map((m) => m.text)

  before(async () => {
    dir = await tempDir()
    node = await NodeProcess.start(dir, ['--name', 'bob\x1b[31m RED', ...LOCAL])
  })
  after(async () => {
    await node.stop()
    await cleanup(dir)
  })

  it('refuses a message of only spaces, and sends nothing', async () => {
    const res = await node.run(['send', STRANGER, '  \t '])
    assert.equal(res.code, 2, res.stderr)
    assert.match(res.stderr, /^error: message text is only spaces$/m)
    assert.deepEqual(await texts(), [])
  })

  it('reads the text from stdin for "-"', async () => {
    const res = await withStdin(['send', STRANGER, '-', '--data', dir], 'first line\nsecond line\n')
    assert.equal(res.code, 0, res.stderr)
    assert.deepEqual(await texts(), ['first line\nsecond line'])
  })

  it('says what to do with a text over the limit', async () => {
    const res = await node.run(['send', STRANGER, 'x'.repeat(70_000)])
    assert.equal(res.code, 2)
    assert.match(res.stderr, /the limit is 65536/)
    assert.match(res.stderr, /^hint: .*send-file/m)
    assert.doesNotMatch(res.stderr, /in quotes/)
  })

  it('lists blocked peers (p2pnode blocked)', async () => {
    const none = await node.run(['blocked'])
    assert.equal(none.code, 0, none.stderr)
    assert.equal(none.stdout, 'nobody is blocked\n')
    assert.equal((await node.run(['block', STRANGER])).code, 0)
    const list = await node.json<Array<{ peerId: string; blocked: boolean }>>(['blocked'])
    assert.deepEqual(list.map((p) => [p.peerId, p.blocked]), [[STRANGER, true]])
    assert.match((await node.run(['blocked'])).stdout, new RegExp(`^- +${STRANGER}$`, 'm'))
    assert.equal((await node.run(['unblock', STRANGER])).code, 0)
  })

  it('cleans its own name of escape sequences whole', async () => {
    assert.equal((await node.json<IdInfo>(['id'])).name, 'bob RED')
  })
})
