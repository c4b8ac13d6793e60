import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FileInfo } from '../../src/api/files.ts'
import { ApiClient } from '../../src/api/client.ts'
import type { IdInfo, PeerInfo } from '../../src/api/types.ts'
import { BIN, cli, Fleet, NODE, type NodeProcess, waitFor } from '../helpers/cli.ts'
import { NO_TMUX, Terminal } from '../helpers/tmux.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
/** Bob fetches files up to this size at once; larger ones wait for `accept`. */
const LIMIT = ['--auto-accept-max', '1000']

/**
 * `send-file` from the sender's side: it tells "the peer is offline" from "the peer must accept", returns at once
 * in a script (as `send` does) unless --wait, and on a terminal says why it waits.
 */
describe('send-file: offline, must accept, --wait, on a terminal', () => {
  const fleet = new Fleet(LOCAL)
  let alice: NodeProcess
  let bob: NodeProcess | undefined
  let bobDir: string
  let aliceAddr: string
  let files: string
  const terminals: Terminal[] = []

  const file = async (name: string, size: number) => {
    const path = join(files, name)
    await writeFile(path, randomBytes(size))
    return path
  }
  const bobOnline = (online: boolean) =>
    waitFor(
      async () => (await alice.json<PeerInfo[]>(['peers'])).find((p) => p.name === 'bob')?.connected === online,
      { what: `alice to see bob ${online ? 'online' : 'offline'}` }
    )
  const transfer = (node: NodeProcess, name: string) =>
    waitFor(async () => (await node.json<FileInfo[]>(['files'])).find((f) => f.name === name), {
      what: `${name} listed`
    })

  const fileOf = async (node: NodeProcess, id: string) =>
    (await node.json<FileInfo[]>(['files'])).find((f) => f.id === id)

  before(async () => {
    files = await fleet.dir()
    alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    aliceAddr = (await alice.json<IdInfo>(['id'])).addrs[0]
    bobDir = await fleet.dir()
    bob = await fleet.start(bobDir, ['--name', 'bob', ...LIMIT])
    // A contact: only the size makes bob's node hold a file back.
    await bob.json(['contacts', 'add', alice.peerId])
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
    await bob.stop()
    await bobOnline(false)
  })
  after(async () => {
    for (const t of terminals) await t.close()
    await bob?.stop()
    await fleet.close()
  })

  it('without a terminal, to an offline peer: says it is queued and returns', async () => {
    const res = await alice.run(['send-file', 'bob', await file('queued.txt', 500)])
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stdout, /^queued [0-9a-f]{32} queued\.txt: bob is offline; it goes out when bob is back$/m)
    const json = await alice.json<FileInfo>(['send-file', 'bob', await file('queued.json', 500)])
    assert.equal(json.status, 'offered')
  })

  it('--wait waits until the offline peer is back and has the file', async () => {
    let returned = false
    const waiting = cli(['send-file', 'bob', await file('waited.txt', 500), '--wait', '--data', alice.dataDir], {
      timeout: 60_000
    }).finally(() => (returned = true))
    const t = await transfer(alice, 'waited.txt')
    assert.equal(t.status, 'offered')
    assert.equal(returned, false, 'send-file --wait has not returned while bob is offline')
    bob = await fleet.start(bobDir, ['--dial', aliceAddr, ...LIMIT])
    const res = await waiting
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stdout, /^delivered [0-9a-f]{32} waited\.txt \(500 B\)$/m)
    // What was queued before went out too.
    for (const name of ['queued.txt', 'queued.json']) {
      await waitFor(async () => (await transfer(bob!, name)).status === 'complete', { what: `${name} at bob` })
    }
  })

  it('without a terminal, over the receiver\'s limit: says the peer must accept it and returns', async () => {
    const res = await alice.run(['send-file', 'bob', await file('big.bin', 5000)])
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stdout, /^waiting [0-9a-f]{32} big\.bin: bob must accept it \(it is over their auto-accept limit\)$/m)
  })

  it('cancel by a short id: both sides then agree on what is left; a second cancel is exit 9', async () => {
    const path = join(files, 'cancel-me.bin')
    const fh = await open(path, 'w')
    for (let i = 0; i < 64; i++) await fh.write(randomBytes(1024 * 1024))
    await fh.close()
    const sent = await alice.json<FileInfo>(['send-file', 'bob', path, '--no-wait'])
    const short = sent.id.slice(0, 8)
    await transfer(bob!, 'cancel-me.bin')
    assert.equal((await bob!.run(['accept', short])).code, 0)
    // Bob dies part way (a transfer cut off with bytes on both sides), then alice cancels it.
    const client = new ApiClient(join(bob!.dataDir, 'api.sock'), bob!.dataDir)
    try {
      await waitFor(async () => (await client.file(sent.id)).received > 0, { interval: 5, what: 'the first chunks' })
    } finally {
      await client.close()
    }
    await bob!.crash()
    const res = await alice.run(['cancel', short])
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stdout, new RegExp(`^cancelled ${sent.id} cancel-me\\.bin$`, 'm'))
    bob = await fleet.start(bobDir, ['--dial', aliceAddr, ...LIMIT])
    const mine = await waitFor(async () => {
      const [a, b] = [await fileOf(alice, sent.id), await fileOf(bob!, sent.id)]
      return a?.status === 'cancelled' && b?.status === 'cancelled' ? { a, b } : undefined
    }, { what: 'both sides to list it cancelled' })
    assert.equal(mine.a.received, mine.b.received, 'the sender and the receiver say the same')
    const again = await alice.run(['cancel', short])
    assert.equal(again.code, 9, `a second cancel: ${again.stdout}${again.stderr}`)
    assert.match(again.stderr, /already cancelled: nothing to cancel/)
    const ambiguous = await alice.run(['cancel', 'zz'])
    assert.equal(ambiguous.code, 2)
    assert.match(ambiguous.stderr, /not a transfer id: zz/)
  })

  it('on a terminal: "waiting for bob to accept it", then delivered once bob accepts by a short id', { skip: NO_TMUX }, async () => {
    const term = await Terminal.start([NODE, BIN, 'send-file', 'bob', await file('accept-me.bin', 5000), '--data', alice.dataDir], 'accept')
    terminals.push(term)
    const screen = await term.until(/waiting for bob to accept it/, 'the reason it waits')
    assert.doesNotMatch(screen, /ETA|\(waiting:|\(offered:/)
    const offer = await transfer(bob!, 'accept-me.bin')
    const accepted = await bob!.run(['accept', offer.id.slice(0, 8)])
    assert.equal(accepted.code, 0, accepted.stderr)
    const done = await term.until(/\[exited with status \d+\]/, 'send-file to end')
    assert.match(done, /^delivered [0-9a-f]{32} accept-me\.bin \(4\.9 KiB\)$/m)
    assert.match(done, /\[exited with status 0\]/)
  })

  it('on a terminal: "waiting for bob to come online"; Ctrl+C stops watching, not the transfer', { skip: NO_TMUX }, async () => {
    await bob!.stop()
    await bobOnline(false)
    const term = await Terminal.start([NODE, BIN, 'send-file', 'bob', await file('later.txt', 500), '--data', alice.dataDir], 'offline')
    terminals.push(term)
    const screen = await term.until(/waiting for bob to come online/, 'the reason it waits')
    assert.doesNotMatch(screen, /ETA|complete: the peer is away/)
    await term.keys('C-c')
    const done = await term.until(/\[exited with status \d+\]/, 'send-file to end on Ctrl+C')
    assert.match(done, /stopped watching; the transfer goes on/)
    assert.match(done, /\[exited with status 130\]/)
    assert.equal((await transfer(alice, 'later.txt')).status, 'offered', 'still queued')
  })
})
