import assert from 'node:assert/strict'
import { chmod, mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { cli, Fleet, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
/** Tests run as root: these run the CLI as `nobody`, a user who owns none of the test's files. */
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']

function assertClear(res: { stderr: string }): void {
  assert.doesNotMatch(res.stderr, /\n\s+at /, `no stack trace: ${res.stderr}`)
  assert.match(res.stderr, /^error: /m)
  assert.match(res.stderr, /^hint: /m)
}

describe('data dir permissions', () => {
  const fleet = new Fleet(LOCAL)
  after(() => fleet.close())

  it("another user's 0700 data dir: DATA_DIR_INVALID (exit 7) saying whose it is, no stack trace", async () => {
    const base = await fleet.dir()
    await chmod(base, 0o755)
    const dir = join(base, 'data')
    await mkdir(dir, { mode: 0o700 })
    const res = await cli(['start', '--data', dir, ...LOCAL], { prefix: AS_NOBODY, timeout: 15_000 })
    assert.equal(res.code, 7, res.stderr)
    assertClear(res)
    assert.match(res.stderr, /permission denied on .*\(it belongs to uid 0; you are uid 65534\)/)
  })

  it("another user's api.sock: DATA_DIR_INVALID (exit 7), not a stack trace", async () => {
    const base = await fleet.dir()
    await chmod(base, 0o755)
    const node = await fleet.start(join(base, 'data'))
    // The data dir is 0700 while the node runs; open it up so that only the socket (0600) is in the way.
    for (const dirPath of [node.dataDir]) await chmod(dirPath, 0o755)
    assert.equal((await stat(join(node.dataDir, 'api.sock'))).mode & 0o777, 0o600)
    const res = await cli(['id', '--data', node.dataDir], { prefix: AS_NOBODY })
    assert.equal(res.code, 7, res.stderr)
    assertClear(res)
    assert.match(res.stderr, /permission denied on .*api\.sock/)
    await chmod(node.dataDir, 0o700)
    const closed = await cli(['id', '--data', node.dataDir], { prefix: AS_NOBODY })
    assert.equal(closed.code, 7, closed.stderr)
    assertClear(closed)
  })

  it('an existing 0755 data dir is tightened to 0700, and start says so', async () => {
    const dir = join(await fleet.dir(), 'data')
    await mkdir(dir, { mode: 0o755 })
    await chmod(dir, 0o755)
    const node = await fleet.start(dir)
    assert.equal((await stat(dir)).mode & 0o777, 0o700)
    await waitFor(() => /warning: the data dir .* was readable by other users \(mode 0755\).*now 0700/.test(node.stderr), {
      what: 'the warning'
    })
  })

  it('a 0777 data dir is a warning (others could have replaced its files), and tightened', async () => {
    const dir = join(await fleet.dir(), 'data')
    await mkdir(dir)
    await chmod(dir, 0o777)
    const node = await fleet.start(dir)
    assert.equal((await stat(dir)).mode & 0o777, 0o700)
    await waitFor(() => /warning: the data dir .* was writable by other users \(mode 0777\)/.test(node.stderr), {
      what: 'the warning'
    })
  })

  it('a data dir of our own at 0700 gets no warning', async () => {
    const node = await fleet.start(await fleet.dir())
    await waitFor(() => node.stderr.includes('listening on'), { what: 'the listening line' })
    assert.doesNotMatch(node.stderr, /warning/)
  })
})

describe('start --listen with an address p2pnode cannot listen on', () => {
  const fleet = new Fleet()
  after(() => fleet.close())

  for (const addr of ['/ip4/127.0.0.1/udp/4001/quic-v1', '/dns4/localhost/tcp/4001', '/ip4/127.0.0.1/tcp/0/ws']) {
    it(`${addr}: a clear error (exit 2), no stack trace, no advice about libp2p settings`, async () => {
      const res = await cli(['start', '--data', await fleet.dir(), '--no-mdns', '--listen', addr], { timeout: 15_000 })
      assert.equal(res.code, 2, res.stderr)
      assertClear(res)
      assert.match(res.stderr, /TCP only/)
      assert.doesNotMatch(res.stderr, /faultTolerance/)
    })
  }

  it('an IP address this machine does not have: the reason, no stack trace', async () => {
    const res = await cli(['start', '--data', await fleet.dir(), '--no-mdns', '--listen', '/ip4/192.0.2.1/tcp/0'], {
      timeout: 15_000
    })
    assert.equal(res.code, 2, res.stderr)
    assertClear(res)
    assert.match(res.stderr, /EADDRNOTAVAIL/)
    assert.doesNotMatch(res.stderr, /faultTolerance/)
  })
})
