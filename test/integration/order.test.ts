/**
 * One order everywhere (issue 8 item 5): what one side sends arrives in the order it was sent, texts and files
 * alike, and the history lists it so.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { HistoryEntry } from '../../src/api/types.ts'
import { P2pNode } from '../../src/node/index.ts'
import { cleanup, tempDir, waitFor } from '../helpers/cli.ts'

function start(dir: string, name: string): Promise<P2pNode> {
  return P2pNode.start({
    dataDir: dir,
    name,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    reconnectInterval: 200,
    files: { retryDelay: 200 }
  })
}

const label = (e: HistoryEntry) => (e.kind === 'file' ? `file:${e.file?.name}` : e.text)

describe('conversation order', () => {
  const dirs: string[] = []
  const nodes: P2pNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    await cleanup(...dirs)
  })

  it('a file sent to an offline peer after texts lands after them, and before the texts sent after it', async () => {
    for (let i = 0; i < 3; i++) dirs.push(await tempDir())
    const alice = await start(dirs[0], 'alice')
    let bob = await start(dirs[1], 'bob')
    nodes.push(alice, bob)
    const aliceId = alice.libp2p.peerId.toString()
    const bobId = bob.libp2p.peerId.toString()
    await bob.people.addContact(aliceId)
    await alice.dial((await bob.id()).addrs[0])
    await alice.people.addContact(bobId)
    await bob.stop()
    await waitFor(() => !alice.chat.isConnected(bobId), { what: 'bob gone' })

    // Many texts before the file: their delivery takes longer than an offer, whichever starts first.
    const sent: string[] = []
    for (let i = 1; i <= 200; i++) {
      await alice.send(bobId, `before ${i}`, { waitMs: 0 })
      sent.push(`before ${i}`)
    }
    const src = join(dirs[2], 'photo.bin')
    await writeFile(src, 'a photo')
    await alice.fileApi.sendFile(bobId, src)
    sent.push('file:photo.bin')
    for (let i = 1; i <= 3; i++) {
      await alice.send(bobId, `after ${i}`, { waitMs: 0 })
      sent.push(`after ${i}`)
    }

    bob = await start(dirs[1], 'bob')
    nodes.push(bob)
    await waitFor(async () => (await bob.history(aliceId, { limit: 500 })).length === sent.length, {
      what: 'everything at bob'
    })
    assert.deepEqual((await bob.history(aliceId, { limit: 500 })).map(label), sent, 'bob: in the order sent')
    assert.deepEqual((await alice.history(bobId, { limit: 500 })).map(label), sent, 'alice: the same')
  })

  it('messages written on both sides while apart are merged by time, the same on both sides', async () => {
    for (let i = 0; i < 2; i++) dirs.push(await tempDir())
    const carol = await start(dirs[3], 'carol')
    const dave = await start(dirs[4], 'dave')
    nodes.push(carol, dave)
    const carolId = carol.libp2p.peerId.toString()
    const daveId = dave.libp2p.peerId.toString()
    await carol.dial((await dave.id()).addrs[0])
    await carol.people.addContact(daveId)
    await dave.people.addContact(carolId)
    assert.equal((await carol.send(daveId, 'hello')).status, 'delivered')
    // Carol goes hidden: no connection either way; both write meanwhile, taking turns.
    await carol.people.visibility('hidden')
    await waitFor(() => !dave.chat.isConnected(carolId), { what: 'carol gone' })
    const written: string[] = ['hello']
    for (let i = 1; i <= 3; i++) {
      await carol.send(daveId, `carol ${i}`, { waitMs: 0 })
      written.push(`carol ${i}`)
      await new Promise((r) => setTimeout(r, 5)) // distinct milliseconds, so that time decides
      await dave.send(carolId, `dave ${i}`, { waitMs: 0 })
      written.push(`dave ${i}`)
      await new Promise((r) => setTimeout(r, 5))
    }
    await carol.people.visibility('everyone')
    await waitFor(async () => (await dave.history(carolId)).length === written.length, { what: 'all at dave' })
    await waitFor(async () => (await carol.history(daveId)).length === written.length, { what: 'all at carol' })
    const atCarol = await carol.history(daveId)
    const atDave = await dave.history(carolId)
    assert.deepEqual(atCarol.map(label), written, 'carol: merged by time')
    assert.deepEqual(atDave.map(label), written, 'dave: the same order')
    for (const h of [atCarol, atDave]) {
      for (let i = 1; i < h.length; i++) assert.ok(h[i].timestamp >= h[i - 1].timestamp, 'time never goes back')
    }
  })
})
