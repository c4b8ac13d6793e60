import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.ts'
import type { HistoryEntry, IdInfo, SendResult } from '../../src/api/types.ts'
import { openStore } from '../../src/store/index.ts'
import type { NodeProcess } from '../helpers/cli.ts'
import { Fleet, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
const N = 500

/** Messages are padded so that 500 of them take long enough on the wire to crash a node in the middle. */
function text(i: number): string {
  return `msg-${String(i).padStart(4, '0')} ${'.'.repeat(8 * 1024)}`
}

function api(node: NodeProcess): ApiClient {
  return new ApiClient(join(node.dataDir, 'api.sock'), node.dataDir)
}

/** Index of the newest message `receiver` has from `sender` (-1 if none), read cheaply (one message). */
async function progress(receiver: NodeProcess, sender: string): Promise<number> {
  const client = api(receiver)
  try {
    const [last] = await client.history(sender, { limit: 1 })
    return last == null ? -1 : Number(last.text.slice(4, 8))
  } finally {
    await client.close()
  }
}

/** The same, read from a stopped node's database directly. */
async function storedProgress(dataDir: string, sender: string): Promise<number> {
  const store = await openStore(join(dataDir, 'db'), new Uint8Array(await readFile(join(dataDir, 'store.secret'))))
  try {
    const [last] = await store.history(sender, { limit: 1 })
    return last == null ? -1 : Number(last.text.slice(4, 8))
  } finally {
    await store.close()
  }
}

/** Exactly the N messages, once each, in order, and all delivered on the sender's side. */
async function assertAllOnce(sender: NodeProcess, receiver: NodeProcess): Promise<void> {
  const got = await receiver.json<HistoryEntry[]>(['history', sender.peerId, '--limit', '10000'])
  const texts = got.filter((m) => m.direction === 'in').map((m) => m.text.slice(0, 8))
  assert.equal(texts.length, N, `expected ${N} messages, got ${texts.length}`)
  assert.deepEqual(
    texts,
    Array.from({ length: N }, (_, i) => text(i).slice(0, 8))
  )
  assert.equal(new Set(got.map((m) => m.id)).size, got.length, 'no id twice')
  const sent = await sender.json<HistoryEntry[]>(['history', receiver.peerId, '--limit', '10000'])
  assert.equal(sent.length, N)
  assert.ok(
    sent.every((m) => m.status === 'delivered'),
    'every message delivered'
  )
}

async function queue(sender: NodeProcess, to: string): Promise<void> {
  const client = api(sender)
  try {
    for (let i = 0; i < N; i++) {
      const res = await client.send(to, text(i), { waitMs: 0 })
      assert.equal(res.status, 'pending')
    }
  } finally {
    await client.close()
  }
}

describe('offline peers', () => {
  const fleet = new Fleet(LOCAL)
  const start = (dir: string, args: string[] = []) => fleet.start(dir, args)
  const dir = () => fleet.dir()
  after(() => fleet.close())

  it('queues messages for a stopped peer and delivers them once, in order, when it is back', async () => {
    const alice = await start(await dir(), ['--name', 'alice'])
    const bob = await start(await dir(), ['--name', 'bob'])
    const bobAddr = (await bob.json<IdInfo>(['id'])).addrs[0]
    await alice.json(['dial', bobAddr])
    assert.equal((await alice.json<SendResult>(['send', 'bob', 'before'])).status, 'delivered')
    await bob.stop()
    const pending = []
    for (const t of ['one', 'two', 'three']) pending.push(await alice.json<SendResult>(['send', 'bob', t]))
    assert.ok(pending.every((r) => r.status === 'pending'))
    // alice restarts too while bob is away: the queue is on disk
    await alice.stop()
    const alice2 = await start(alice.dataDir)
    const bob2 = await start(bob.dataDir, ['--dial', (await alice2.json<IdInfo>(['id'])).addrs[0]])
    await waitFor(
      async () => (await alice2.json<HistoryEntry[]>(['history', 'bob'])).every((m) => m.status === 'delivered'),
      { what: 'all delivered' }
    )
    const got = (await bob2.json<HistoryEntry[]>(['history', 'alice'])).map((m) => m.text)
    assert.deepEqual(got, ['before', 'one', 'two', 'three'])
    await alice2.stop()
    await bob2.stop()
  })

  it('loses and doubles nothing when the sender is killed -9 mid-stream of 500', async () => {
    const alice = await start(await dir(), ['--name', 'alice'])
    const bobDir = await dir()
    const bobId = await (async () => {
      const b = await start(bobDir, ['--name', 'bob'])
      await b.stop()
      return b.peerId
    })()
    await queue(alice, bobId)
    const aliceAddr = (await alice.json<IdInfo>(['id'])).addrs[0]
    const bob = await start(bobDir, ['--dial', aliceAddr])
    const at = await waitFor(
      async () => ((await progress(bob, alice.peerId)) >= 20 ? progress(bob, alice.peerId) : 0),
      {
        interval: 5,
        what: 'the first messages to arrive'
      }
    )
    await alice.crash()
    const reached = await progress(bob, alice.peerId)
    assert.ok(reached < N - 1, `the kill came after the last message (${at}, ${reached}); the test proves nothing`)
    const alice2 = await start(alice.dataDir)
    await waitFor(async () => (await progress(bob, alice.peerId)) === N - 1, { timeout: 60_000, what: 'all 500' })
    await waitFor(
      async () => (await alice2.json<HistoryEntry[]>(['history', bobId, '--limit', '1']))[0]?.status === 'delivered',
      { what: 'last delivered' }
    )
    await assertAllOnce(alice2, bob)
    await alice2.stop()
    await bob.stop()
  })

  it('loses and doubles nothing when the receiver is killed -9 mid-stream of 500', async () => {
    const alice = await start(await dir(), ['--name', 'alice'])
    const bobDir = await dir()
    const first = await start(bobDir, ['--name', 'bob'])
    await first.stop()
    await queue(alice, first.peerId)
    const aliceAddr = (await alice.json<IdInfo>(['id'])).addrs[0]
    const bob = await start(bobDir, ['--dial', aliceAddr])
    await waitFor(async () => (await progress(bob, alice.peerId)) >= 20, { interval: 5, what: 'first messages' })
    await bob.crash()
    const reachedBeforeRestart = await storedProgress(bobDir, alice.peerId)
    assert.ok(reachedBeforeRestart < N - 1, 'the kill came after the last message; the test proves nothing')
    const bob2 = await start(bobDir, ['--dial', aliceAddr])
    await waitFor(async () => (await progress(bob2, alice.peerId)) === N - 1, { timeout: 60_000, what: 'all 500' })
    await waitFor(
      async () =>
        (await alice.json<HistoryEntry[]>(['history', bob2.peerId, '--limit', '10000'])).every(
          (m) => m.status === 'delivered'
        ),
      { what: 'all delivered' }
    )
    await assertAllOnce(alice, bob2)
    await alice.stop()
    await bob2.stop()
  })
})
