import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import type { HistoryEntry, IdInfo } from '../../src/api/types.ts'
import { BIN, cleanup, type CliResult, NODE, NodeProcess, tempDir } from '../helpers/cli.ts'

const run = promisify(execFile)
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

  it('stops quietly when its reader goes away (p2pnode ... | true)', async () => {
    for (const args of [['history', STRANGER], ['export'], ['peers']]) {
      const cmd = [NODE, BIN, ...args, '--data', dir].map((a) => `'${a}'`).join(' ')
      // `true` exits at once, so the CLI writes into a closed pipe (EPIPE).
      const { stdout, stderr } = await run('bash', ['-c', `${cmd} | true; echo "status \${PIPESTATUS[0]}"`])
      assert.equal(stdout, 'status 0\n', `${args[0]}: ${stdout}${stderr}`)
      assert.equal(stderr.replace(/^# p2pnode message export[\s\S]*/m, ''), '', `${args[0]} printed nothing on stderr`)
    }
    assert.equal(node.child.exitCode, null, 'the node is still running')
  })

  it('cleans its own name of escape sequences whole', async () => {
    assert.equal((await node.json<IdInfo>(['id'])).name, 'bob RED')
  })
})
