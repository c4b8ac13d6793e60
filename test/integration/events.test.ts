import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { ApiClient } from '../../src/api/client.ts'
import type { StreamEvent } from '../../src/api/event-stream.ts'
import type { ApiEvent } from '../../src/api/events.ts'
import { startApiServer } from '../../src/api/server.ts'
import { P2pNode } from '../../src/node/index.ts'
import { cleanup, tempDir, waitFor } from '../helpers/cli.ts'

const LOCAL = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }
const STRANGER = '12D3KooWGQd2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdM'
const RING = 40

/** A subscription that collects what it gets until stopped. */
function subscribe(client: ApiClient, lastEventId?: string) {
  const events: StreamEvent[] = []
  const ctl = new AbortController()
  const { promise: opened, resolve } = Promise.withResolvers<void>()
  const done = (async () => {
    try {
      for await (const e of client.events({ lastEventId, signal: ctl.signal, onOpen: resolve })) events.push(e)
    } catch (err) {
      if (!ctl.signal.aborted) throw err
    }
  })()
  return {
    events,
    opened,
    done,
    of: <T extends StreamEvent['type']>(type: T) => events.filter((e) => e.type === type) as Array<Extract<StreamEvent, { type: T }>>,
    stop: async () => {
      ctl.abort()
      await done
    }
  }
}

/** `GET /v1/events` over the socket, with real nodes causing each kind of event. */
describe('GET /v1/events', () => {
  let dir: string
  let bobDir: string
  let alice: P2pNode
  let bob: P2pNode
  let server: FastifyInstance
  let client: ApiClient
  let aliceId: string
  let bobId: string

  before(async () => {
    dir = await tempDir()
    bobDir = await tempDir()
    alice = await P2pNode.start({
      ...LOCAL,
      dataDir: dir,
      name: 'alice',
      events: { capacity: RING },
      files: { chunkSize: 64 * 1024 }
    })
    bob = await P2pNode.start({ ...LOCAL, dataDir: bobDir, name: 'bob' })
    aliceId = alice.libp2p.peerId.toString()
    bobId = bob.libp2p.peerId.toString()
    server = await startApiServer(alice.api, join(dir, 'api.sock'), {
      events: { heartbeatMs: 300, maxClients: 4, maxBufferedBytes: 64 * 1024 }
    })
    client = new ApiClient(join(dir, 'api.sock'), dir)
  })
  after(async () => {
    await client.close()
    await server.close()
    await alice.stop()
    await bob.stop()
    await cleanup(dir, bobDir)
  })

  it('streams each kind of event as JSON, with increasing ids', async () => {
    const sub = subscribe(client)
    await sub.opened
    // peer here
    await client.dial(bob.libp2p.getMultiaddrs()[0].toString())
    await waitFor(() => sub.of('peer').find((e) => e.peerId === bobId && e.connected), { what: 'peer event' })
    assert.equal(sub.of('peer')[0].name, 'bob')
    // message out, then its status
    const sent = await client.send(bobId, 'hello bob', { waitMs: 5000 })
    const out = await waitFor(() => sub.of('message').find((e) => e.message.id === sent.id), { what: 'message out' })
    assert.equal(out.message.direction, 'out')
    assert.equal(out.message.text, 'hello bob')
    assert.equal(out.message.to, bobId)
    assert.equal(out.name, 'bob')
    await waitFor(() => sub.of('status').find((e) => e.status === 'delivered' && e.ids.includes(sent.id)), {
      what: 'delivered'
    })
    assert.equal(sub.of('status').find((e) => e.ids.includes(sent.id))?.peer, bobId)
    // message in
    await bob.send(aliceId, 'hi alice')
    const inbound = await waitFor(() => sub.of('message').find((e) => e.message.direction === 'in'), { what: 'message in' })
    assert.deepEqual(
      { text: inbound.message.text, from: inbound.message.from, status: inbound.message.status, name: inbound.name, muted: inbound.muted },
      { text: 'hi alice', from: bobId, status: 'received', name: 'bob', muted: false }
    )
    // contact, block and mute changes; visibility
    await client.addContact(bobId, { name: 'bobby' })
    await client.setPeerState(STRANGER, { muted: true })
    await client.setVisibility('contacts')
    await client.setVisibility('everyone')
    await waitFor(() => sub.of('visibility').length === 2, { what: 'visibility events' })
    assert.deepEqual(sub.of('visibility').map((e) => e.visibility), ['contacts', 'everyone'])
    const states = sub.of('peer-state').map((e) => e.state)
    assert.deepEqual(states[0], { peerId: bobId, name: 'bobby', localName: 'bobby', contact: true, blocked: false, muted: false })
    assert.deepEqual(states[1], { peerId: STRANGER, name: '', contact: false, blocked: false, muted: true })
    // a file: transfer states and throttled progress (bob takes files from alice: he wrote to her)
    const file = join(dir, 'big.bin')
    await writeFile(file, Buffer.alloc(4 * 1024 * 1024, 7))
    const t = await client.sendFile(bobId, file)
    await waitFor(() => sub.of('transfer').find((e) => e.transfer.id === t.id && e.transfer.status === 'complete'), {
      what: 'transfer complete',
      timeout: 60_000
    })
    const statuses = sub.of('transfer').filter((e) => e.transfer.id === t.id).map((e) => e.transfer.status)
    assert.equal(statuses.at(-1), 'complete')
    assert.ok(statuses.includes('transferring'), statuses.join(' '))
    const progress = sub.of('progress').filter((e) => e.transferId === t.id)
    assert.ok(progress.length >= 1, 'progress events')
    for (const p of progress) assert.deepEqual([p.peer, p.direction, p.size], [bobId, 'out', 4 * 1024 * 1024])
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i].time - progress[i - 1].time >= 250, 'at most 4 progress events a second')
      assert.ok(progress[i].received >= progress[i - 1].received)
    }
    // renamed, and left: bob comes back under another name
    await bob.stop()
    await waitFor(() => sub.of('peer').find((e) => e.peerId === bobId && !e.connected), { what: 'peer left' })
    bob = await P2pNode.start({ ...LOCAL, dataDir: bobDir, name: 'robert' })
    await client.dial(bob.libp2p.getMultiaddrs()[0].toString())
    const renamed = await waitFor(() => sub.of('renamed')[0], { what: 'renamed' })
    assert.deepEqual([renamed.peerId, renamed.name, renamed.formerName], [bobId, 'robert', 'bob'])
    // Every event has the node's id form, and ids go up by one.
    const seqs = sub.events.map((e) => (e as ApiEvent).seq)
    for (const e of sub.events) assert.match(e.id, /^[0-9a-f]{8}-\d+$/)
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1)
    assert.ok(sub.events.every((e) => typeof (e as ApiEvent).time === 'number'))
    await sub.stop()
  })

  it('reconnecting with Last-Event-ID replays exactly the missed events, then goes on live', async () => {
    const first = subscribe(client)
    await first.opened
    await client.setPeerState(STRANGER, { muted: false })
    await waitFor(() => first.events.length === 1, { what: 'one event' })
    await first.stop()
    const last = first.events[0].id
    // Missed while away:
    await client.setPeerState(STRANGER, { muted: true })
    await client.setPeerState(STRANGER, { muted: false })
    await client.setVisibility('hidden')
    await client.setVisibility('everyone')
    const missed = alice.events.since(last)
    assert.ok('events' in missed)
    // (What else the node did meanwhile is in there too: bob's reconnection.)
    assert.equal(missed.events.filter((e) => e.type === 'peer-state' || e.type === 'visibility').length, 4)
    const n = missed.events.length
    const again = subscribe(client, last)
    await again.opened
    await waitFor(() => again.events.length >= n, { what: 'the replay' })
    assert.deepEqual(again.events.slice(0, n), missed.events)
    await client.setPeerState(STRANGER, { blocked: true })
    const live = await waitFor(() => again.of('peer-state').find((e) => e.state.blocked), { what: 'a live event after the replay' })
    const seqs = again.events.map((e) => (e as ApiEvent).seq)
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'no event twice, none left out')
    assert.ok(live.seq > (missed.events.at(-1)?.seq ?? 0))
    await again.stop()
  })

  it('an id older than the ring, from another run, or malformed: a resync event, then live events', async () => {
    for (let i = 0; i < RING + 5; i++) await client.setPeerState(STRANGER, { muted: i % 2 === 0 })
    const newest = alice.events.lastId()
    const [run] = newest.split('-')
    for (const [id, reason] of [
      [`${run}-1`, /no longer kept/],
      ['0badc0de-3', /restarted/],
      ['not an id', /not an event id/],
      ['12345', /not an event id/],
      [`${run}-99999999`, /newer than any/]
    ] as const) {
      const sub = subscribe(client, id)
      await sub.opened
      const first = await waitFor(() => sub.events[0], { what: `the answer to ${JSON.stringify(id)}` })
      assert.equal(first.type, 'resync')
      assert.match((first as { reason: string }).reason, reason)
      // The newest id to continue from (events of bob's reconnection may have come since `newest`).
      assert.ok(first.id.startsWith(`${run}-`) && Number(first.id.split('-')[1]) >= Number(newest.split('-')[1]))
      await client.setVisibility('everyone').then(() => client.setVisibility('contacts'))
      await waitFor(() => sub.of('visibility').length >= 1, { what: 'live events after the resync' })
      await sub.stop()
    }
    await client.setVisibility('everyone')
    assert.equal((await client.id()).peerId, aliceId, 'the node still answers')
  })

  it('sends heartbeats, refuses streams beyond its limit with BUSY, and drops a client that does not read', async () => {
    // Heartbeat comments on a raw connection.
    const raw = connect(join(dir, 'api.sock'))
    let text = ''
    raw.on('data', (d) => (text += d))
    raw.write('GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await waitFor(() => text.includes(': heartbeat'), { what: 'a heartbeat' })
    assert.match(text, /content-type: text\/event-stream/i)
    // At most 4 streams: this one and 3 more; the 5th is BUSY (503).
    const subs = [subscribe(client), subscribe(client), subscribe(client)]
    await Promise.all(subs.map((s) => s.opened))
    const busy = subscribe(client)
    await assert.rejects(busy.done, (err: Error & { code?: string }) => err.code === 'BUSY' && /too many/.test(err.message))
    await Promise.all(subs.map((s) => s.stop()))
    // A client that reads nothing: once more than 64 KiB wait for it, it is dropped (the node goes on).
    raw.pause()
    const closed = new Promise<void>((resolve) => raw.on('close', () => resolve()))
    for (let i = 0; i < 20_000; i++) alice.events.publish({ type: 'visibility', visibility: 'everyone' })
    // The node gave up on it: once what the kernel held is read, the stream ends.
    raw.on('data', () => {})
    raw.resume()
    await closed
    assert.ok(text.length < 20_000 * 100, 'the dropped client did not get everything')
    assert.equal((await client.id()).peerId, aliceId, 'the node still answers')
  })
})
