import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import { ErrorCode, isP2pError } from '../../src/errors.ts'
import { MAX_STRANGERS } from '../../src/store/peers.ts'
import { type Db, openStore, Store } from '../../src/store/index.ts'
import { cleanup, tempDir } from '../helpers/cli.ts'

const SECRET = new Uint8Array(32).fill(7)
const ALICE = '12D3KooWAlice'
const BOB = '12D3KooWBob'

function id(): string {
  return randomBytes(16).toString('hex')
}

function outgoing(peer: string, text: string) {
  return { id: id(), peer, from: ALICE, text, timestamp: Date.now() }
}

function incoming(peer: string, text: string, msgId = id()) {
  return { id: msgId, peer, to: ALICE, text, timestamp: Date.now() }
}

/** The same contract for every database the store runs on. */
function contract(name: string, makeDb: () => Promise<{ db: Db; done: () => Promise<void> }>) {
  describe(`store contract (${name})`, () => {
    let store: Store
    let done: () => Promise<void>
    let db: Db

    before(async () => {
      const made = await makeDb()
      db = made.db
      done = made.done
      store = await Store.open(db, SECRET)
    })
    after(async () => {
      await store.close()
      await done()
    })

    it('stores outgoing messages as pending in the outbox, in order', async () => {
      const sent = await Promise.all(['one', 'two', 'three'].map((t) => store.addOutgoing(outgoing(BOB, t))))
      const box = await store.outbox(BOB)
      assert.deepEqual(
        box.map((e) => e.message.text),
        ['one', 'two', 'three']
      )
      assert.ok(box.every((e) => e.message.status === 'pending' && e.message.direction === 'out'))
      assert.deepEqual(
        box.map((e) => e.seq),
        sent.map((e) => e.seq)
      )
      assert.deepEqual(await store.peersWithOutbox(), [BOB])
    })

    it('pages the outbox after a seq and by limit', async () => {
      const all = await store.outbox(BOB)
      const page = await store.outbox(BOB, { afterSeq: all[0].seq, limit: 1 })
      assert.equal(page.length, 1)
      assert.equal(page[0].message.text, 'two')
    })

    it('marks delivered and leaves the outbox atomically', async () => {
      const [first] = await store.outbox(BOB)
      await store.markDelivered(BOB, [first])
      assert.equal((await store.getMessage(BOB, first.message.id))?.status, 'delivered')
      assert.deepEqual(
        (await store.outbox(BOB)).map((e) => e.message.text),
        ['two', 'three']
      )
      assert.equal(await store.outboxSize(BOB), 2)
    })

    it('stores incoming messages once, however often they arrive', async () => {
      const dup = id()
      const first = await store.addIncoming([incoming(BOB, 'hi', dup), incoming(BOB, 'hi again', dup)])
      assert.equal(first.length, 1)
      const second = await store.addIncoming([incoming(BOB, 'hi', dup)])
      assert.equal(second.length, 0)
      const texts = (await store.history(BOB, { limit: 100 })).map((m) => m.text)
      assert.equal(texts.filter((t) => t === 'hi').length, 1)
      assert.ok(!texts.includes('hi again'))
    })

    it('refuses to mix peers in one incoming batch', async () => {
      await assert.rejects(store.addIncoming([incoming(BOB, 'a'), incoming(ALICE, 'b')]), TypeError)
    })

    it('returns history oldest first, limited to the most recent', async () => {
      const h = await store.history(BOB, { limit: 2 })
      assert.equal(h.length, 2)
      assert.deepEqual(
        h.map((m) => m.text),
        ['three', 'hi']
      )
      assert.deepEqual(await store.history('12D3KooWNobody'), [])
    })

    it('keeps peers under keyed hashes, never the raw peer id', async () => {
      await store.peers.update(BOB, { name: 'bob', addrs: ['/ip4/127.0.0.1/tcp/1'] })
      await store.peers.update(BOB, { chatted: true })
      const rec = await store.peers.get(BOB)
      assert.equal(rec?.name, 'bob')
      assert.equal(rec?.chatted, true)
      assert.deepEqual(rec?.addrs, ['/ip4/127.0.0.1/tcp/1'])
      const keys = await db.keys().all()
      assert.ok(keys.length > 0)
      for (const key of keys) assert.ok(!String(key).includes(BOB), `raw peer id in key ${key}`)
      assert.equal(store.peerKey(BOB).length, 64)
    })

    it('finds words and word beginnings, any case or accent, newest first', async () => {
      const carol = '12D3KooWCarol'
      await store.addIncoming([incoming(carol, 'Le café est fermé'), incoming(carol, 'CAFÉ crème ce matin')])
      await store.addOutgoing(outgoing(carol, 'cafeteria later?'))
      await store.addOutgoing(outgoing(BOB, 'a cafe for bob'))
      const texts = async (q: string, peer?: string) => (await store.search(q, { peer })).map((h) => h.text)
      assert.deepEqual(await texts('FERME'), ['Le café est fermé'])
      assert.deepEqual(await texts('crème', carol), ['CAFÉ crème ce matin'])
      assert.deepEqual(await texts('CAF', carol), ['cafeteria later?', 'CAFÉ crème ce matin', 'Le café est fermé'])
      // newest first across expansions (cafe, cafeteria), also per conversation
      await store.addIncoming([incoming(carol, 'un café, vite')])
      assert.deepEqual(await texts('caf', carol), [
        'un café, vite',
        'cafeteria later?',
        'CAFÉ crème ce matin',
        'Le café est fermé'
      ])
      assert.deepEqual(await texts('creme caf'), ['CAFÉ crème ce matin'])
      assert.deepEqual(await texts('cafe bob'), ['a cafe for bob'])
      assert.deepEqual(await texts('nothing'), [])
      assert.deepEqual(await texts('!!!'), [])
      assert.equal((await store.search('caf', { limit: 2 })).length, 2)
      const [hit] = await store.search('fermé')
      assert.deepEqual(Object.keys(hit).sort(), ['direction', 'id', 'peer', 'text', 'timestamp'])
      assert.equal(hit.peer, carol)
    })

    it('filters history by the time messages were sent', async () => {
      const dave = '12D3KooWDave'
      const t = Date.UTC(2026, 5, 1)
      for (const [i, text] of ['early', 'middle', 'late'].entries()) {
        await store.addIncoming([{ ...incoming(dave, text), timestamp: t + i * 60_000 }])
      }
      const texts = async (o: object) => (await store.history(dave, o)).map((m) => m.text)
      assert.deepEqual(await texts({ before: t + 60_000 }), ['early'])
      assert.deepEqual(await texts({ after: t }), ['middle', 'late'])
      assert.deepEqual(await texts({ after: t, before: t + 120_000 }), ['middle'])
      assert.deepEqual(await texts({ after: t, limit: 1 }), ['late'])
    })

    it('reports a peer record edited outside the store instead of using it', async () => {
      const eve = '12D3KooWEve'
      await store.peers.update(eve, { name: 'eve', contact: true })
      const key = store.peerKey(eve)
      const peersDb = db.sublevel<string, { record: { blocked: boolean }; digest: string }>('peers', {
        valueEncoding: 'json'
      })
      const sealed = await peersDb.get(key)
      assert.ok(sealed != null)
      await peersDb.put(key, { ...sealed, record: { ...sealed.record, blocked: true } })
      await assert.rejects(store.peers.get(eve), (err: Error & { code?: string }) => err.code === 'RECORD_TAMPERED')
      const { peers, tampered } = await store.peers.list()
      assert.ok(!peers.some((p) => p.peerId === eve))
      assert.deepEqual(tampered.map((t) => t.key), [key])
      await store.peers.remove(eve)
      assert.deepEqual((await store.peers.list()).tampered, [])
    })

    it('forgets the least recently seen strangers beyond its limit, never anyone the user dealt with', async () => {
      const before = (await store.peers.list()).peers.map((p) => p.peerId)
      store.peers.maxStrangers = 10
      try {
        const kept = {
          chatted: { chatted: true },
          contact: { contact: true },
          blocked: { blocked: true },
          muted: { muted: true },
          named: { localName: 'our name for it' }
        }
        let t = 1_000_000
        for (const [id, update] of Object.entries(kept)) await store.peers.update(`keep-${id}`, { ...update, seenAt: t++ })
        // An old stranger that chats later is not a stranger any more.
        await store.peers.update('turns-friend', { name: 'x', seenAt: t++ })
        for (let i = 0; i < 30; i++) {
          await store.peers.update(`stranger-${i}`, { name: `s${i}`, seenAt: t++ })
          if (i === 0) await store.peers.update('turns-friend', { chatted: true })
        }
        const ids = new Set((await store.peers.list()).peers.map((p) => p.peerId))
        for (const id of Object.keys(kept)) assert.ok(ids.has(`keep-${id}`), `keep-${id} kept`)
        assert.ok(ids.has('turns-friend'))
        for (const id of before) assert.ok(ids.has(id), `${id} (from earlier tests) kept`)
        const strangers = [...ids].filter((id) => id.startsWith('stranger-'))
        assert.ok(strangers.length <= 10 && strangers.length >= 9, `${strangers.length} strangers kept`)
        assert.ok(ids.has('stranger-29') && !ids.has('stranger-0'), 'the most recently seen are the ones kept')
        assert.equal(await store.peers.get('stranger-0'), undefined)
      } finally {
        store.peers.maxStrangers = MAX_STRANGERS
      }
    })

    it('remembers settings', async () => {
      await store.setSetting('name', 'alice')
      assert.equal(await store.getSetting('name'), 'alice')
      assert.equal(await store.getSetting('missing'), undefined)
    })
  })
}

contract('memory-level', async () => {
  const db = new MemoryLevel<string, string>() as unknown as Db
  return { db, done: async () => {} }
})

contract('LevelDB on disk', async () => {
  const dir = await tempDir()
  const db = new Level<string, string>(dir) as unknown as Db
  return { db, done: () => cleanup(dir) }
})

describe('store on disk', () => {
  let dir: string
  before(async () => {
    dir = await tempDir()
  })
  after(() => cleanup(dir))

  it('reports LEVEL_LOCKED when the database is already open', async () => {
    const first = await openStore(`${dir}/db`, SECRET)
    try {
      await assert.rejects(openStore(`${dir}/db`, SECRET), (err: unknown) => {
        assert.ok(isP2pError(err))
        assert.equal(err.code, ErrorCode.LEVEL_LOCKED)
        return true
      })
    } finally {
      await first.close()
    }
  })

  it('keeps the outbox and conversation order across a reopen', async () => {
    let store = await openStore(`${dir}/db2`, SECRET)
    await store.addOutgoing(outgoing(BOB, 'before restart'))
    await store.close()
    store = await openStore(`${dir}/db2`, SECRET)
    await store.addOutgoing(outgoing(BOB, 'after restart'))
    assert.deepEqual(
      (await store.outbox(BOB)).map((e) => e.message.text),
      ['before restart', 'after restart']
    )
    await store.close()
  })

  it('rejects a short secret', async () => {
    await assert.rejects(openStore(`${dir}/db3`, new Uint8Array(4)), TypeError)
  })
})
