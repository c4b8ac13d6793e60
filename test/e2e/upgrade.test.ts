/**
 * Data dirs of earlier versions open on this one, moved to the conversation log once: one made by 0.1 and one made
 * by main before the log (manifest format 1, sealed values), each with messages waiting for a peer that was away,
 * which still go out; and a migration interrupted half-way is finished by the next start.
 */
import assert from 'node:assert/strict'
import { cp, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Level } from 'level'
import type { FileInfo } from '../../src/api/files.ts'
import type { ContactInfo, HistoryEntry, IdInfo, SearchResult } from '../../src/api/types.ts'
import { type Db, Store } from '../../src/store/index.ts'
import { Fleet, ROOT, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-web']
const FIXTURES = join(ROOT, 'test', 'fixtures')

async function json<T>(name: string): Promise<T> {
  return JSON.parse(await readFile(join(FIXTURES, name), 'utf8')) as T
}

interface PairExpected {
  alice: string
  bob: string
  pending: string[]
  history: Array<{ id: string; text: string; direction: string; status: string }>
}

interface MainExpected {
  peerId: string
  pending: string
  history: Array<{ id: string; text: string; direction: string; status: string; kind: string }>
  contacts: Array<{ peerId: string; localName: string }>
  files: Array<{ id: string; name: string; status: string; direction: string }>
  search: Record<string, string[]>
}

describe('data dirs of earlier versions', () => {
  const fleet = new Fleet(LOCAL)
  after(() => fleet.close())

  async function copy(fixture: string): Promise<string> {
    const dir = join(await fleet.dir(), 'data')
    await cp(join(FIXTURES, fixture), dir, { recursive: true })
    return dir
  }

  /** alice's messages to bob that waited in her outbox reach bob once the two meet, once each. */
  async function pendingGoesOut(aliceDir: string, bobDir: string, pending: string[]): Promise<void> {
    const alice = await fleet.start(aliceDir)
    const bob = await fleet.start(bobDir)
    try {
      const before = await alice.json<HistoryEntry[]>(['history', bob.peerId, '--limit', '100'])
      for (const id of pending) assert.equal(before.find((m) => m.id === id)?.status, 'pending', `${id} waits`)
      const addr = (await bob.json<IdInfo>(['id'])).addrs[0]
      assert.equal((await alice.run(['dial', addr])).code, 0)
      const got = await waitFor(
        async () => {
          const h = await bob.json<HistoryEntry[]>(['history', alice.peerId, '--limit', '100'])
          return pending.every((id) => h.some((m) => m.id === id)) ? h : undefined
        },
        { what: 'the pending messages at bob' }
      )
      for (const id of pending) assert.equal(got.filter((m) => m.id === id).length, 1, `${id} once`)
      await waitFor(
        async () => {
          const h = await alice.json<HistoryEntry[]>(['history', bob.peerId, '--limit', '100'])
          return pending.every((id) => h.find((m) => m.id === id)?.status === 'delivered')
        },
        { what: 'delivered at alice' }
      )
    } finally {
      await alice.stop()
      await bob.stop()
    }
  }

  it('0.1: history, contacts and search intact; pending messages go out when the peer is back', async () => {
    const want = await json<PairExpected>('data-v0.1-pair.expected.json')
    const base = await copy('data-v0.1-pair')
    const aliceDir = join(base, 'alice')
    const alice = await fleet.start(aliceDir)
    assert.equal(alice.peerId, want.alice)
    await waitFor(() => /listening on/.test(alice.stderr), { what: 'the start notices' })
    assert.match(alice.stderr, /moved to the conversation log/)
    const history = await alice.json<HistoryEntry[]>(['history', 'bobby', '--limit', '100'])
    assert.deepEqual(
      history.map((m) => ({ id: m.id, text: m.text, direction: m.direction, status: m.status })),
      want.history
    )
    const contacts = await alice.json<ContactInfo[]>(['contacts'])
    assert.deepEqual(contacts.map((c) => [c.peerId, c.localName]), [[want.bob, 'bobby']])
    const hits = await alice.json<SearchResult[]>(['search', 'away'])
    assert.deepEqual(hits.map((h) => h.id).sort(), [...want.pending].sort())
    assert.equal(await alice.stop(), 0)
    const again = await fleet.start(aliceDir)
    await waitFor(() => /listening on/.test(again.stderr), { what: 'the start notices' })
    assert.doesNotMatch(again.stderr, /moved to the conversation log/, 'once')
    assert.equal(await again.stop(), 0)
    await pendingGoesOut(aliceDir, join(base, 'bob'), want.pending)
  })

  it('main before the log: history with its file, contacts, files and search intact; the pending message goes out', async () => {
    const want = await json<MainExpected>('data-main.expected.json')
    const base = await copy('data-main')
    const aliceDir = join(base, 'alice')
    const alice = await fleet.start(aliceDir)
    assert.equal(alice.peerId, want.peerId)
    const history = await alice.json<HistoryEntry[]>(['history', 'bobby', '--limit', '100'])
    assert.deepEqual(
      history.map((m) => ({ id: m.id, text: m.text, direction: m.direction, status: m.status, kind: m.kind ?? 'text' })),
      want.history
    )
    const contacts = await alice.json<ContactInfo[]>(['contacts'])
    assert.deepEqual(contacts.map((c) => ({ peerId: c.peerId, localName: c.localName })), want.contacts)
    const files = await alice.json<FileInfo[]>(['files'])
    assert.deepEqual(files.map((f) => ({ id: f.id, name: f.name, status: f.status, direction: f.direction })), want.files)
    for (const [q, ids] of Object.entries(want.search)) {
      assert.deepEqual((await alice.json<SearchResult[]>(['search', q])).map((h) => h.id), ids, q)
    }
    assert.equal(await alice.stop(), 0)
    await pendingGoesOut(aliceDir, join(base, 'bob'), [want.pending])
  })

  it('a migration stopped half-way (as by a crash) is finished by the next start, nothing lost or doubled', async () => {
    const want = await json<PairExpected>('data-v0.1-pair.expected.json')
    const base = await copy('data-v0.1-pair')
    const aliceDir = join(base, 'alice')
    const secret = new Uint8Array(await readFile(join(aliceDir, 'store.secret')))
    const store = await Store.open(new Level<string, string>(join(aliceDir, 'db')) as unknown as Db, secret, { upgrade: false })
    assert.equal(store.layout, 1)
    await assert.rejects(
      store.upgrade({
        batchSize: 1,
        afterBatch: (n) => {
          if (n === 3) throw new Error('stopped here')
        }
      }),
      /stopped here/
    )
    assert.equal(store.layout, 1)
    await store.close()
    const alice = await fleet.start(aliceDir)
    const history = await alice.json<HistoryEntry[]>(['history', 'bobby', '--limit', '100'])
    assert.deepEqual(
      history.map((m) => ({ id: m.id, text: m.text, direction: m.direction, status: m.status })),
      want.history
    )
    assert.deepEqual(
      (await alice.json<SearchResult[]>(['search', 'away'])).map((h) => h.id).sort(),
      [...want.pending].sort()
    )
    assert.equal(await alice.stop(), 0)
    await pendingGoesOut(aliceDir, join(base, 'bob'), want.pending)
  })
})
