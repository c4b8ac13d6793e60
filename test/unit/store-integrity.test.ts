import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { MemoryLevel } from 'memory-level'
import { type Db, levelReadError, Store } from '../../src/store/index.ts'
import { ErrorCode, isP2pError } from '../../src/errors.ts'
import { isDamaged, ValueSealer } from '../../src/store/sealed-codec.ts'

const SECRET = new Uint8Array(32).fill(5)
const ALICE = '12D3KooWAlice'
const BOB = '12D3KooWBob'

function db(): Db {
  return new MemoryLevel<string, string>() as unknown as Db
}

function outgoing(text: string) {
  return { id: randomBytes(16).toString('hex'), peer: BOB, from: ALICE, text, timestamp: Date.now() }
}

describe('sealed values', () => {
  it('round-trip; a changed byte, another secret or a missing seal reads as damaged', () => {
    const sealer = new ValueSealer(SECRET)
    const text = sealer.seal({ text: 'hello' })
    assert.match(text, /^#[0-9a-f]{32}\{/)
    assert.deepEqual(sealer.open(text), { text: 'hello' })
    assert.ok(isDamaged(sealer.open(text.replace('hello', 'hellp'))))
    assert.ok(isDamaged(new ValueSealer(new Uint8Array(32).fill(6)).open(text)))
    assert.ok(isDamaged(sealer.open('{"text":"plain"}')), 'unsealed is damaged outside legacy mode')
    assert.ok(isDamaged(sealer.open('#garbage')))
    sealer.legacy = true
    assert.deepEqual(sealer.open('{"text":"plain"}'), { text: 'plain' })
    assert.ok(isDamaged(sealer.open('not json')))
  })

  it('the store leaves damaged messages out of history, search, export and the outbox, and says where', async () => {
    const database = db()
    const first = await Store.open(database, SECRET)
    await first.integrity.setStoreId({ dbId: '0'.repeat(32), peerId: ALICE })
    await first.close()
    // A store with an id takes no unsealed value (MemoryLevel keeps its data across close and open).
    const store = await Store.open(database, SECRET)
    const kept = await store.addOutgoing(outgoing('kept apple'))
    const hit = await store.addOutgoing(outgoing('changed apple'))
    const told: string[] = []
    store.onDamaged = (where) => told.push(where)
    // Change the stored text of one message (and its outbox copy) behind the store's back.
    const raw = store.integrity.raw('messages')
    const rawOutbox = store.integrity.raw('outbox')
    for (const sub of [raw, rawOutbox]) {
      for (const [key, value] of await sub.iterator().all()) {
        if (value.includes('changed apple')) await sub.put(key, value.replace('changed apple', 'chanGed apple'))
      }
    }
    assert.deepEqual(
      (await store.history(BOB)).map((m) => m.text),
      ['kept apple']
    )
    assert.deepEqual(
      (await store.search('apple')).map((h) => h.id),
      [kept.message.id]
    )
    const all: string[] = []
    for await (const m of store.messagesAll()) all.push(m.text)
    assert.deepEqual(all, ['kept apple'])
    assert.deepEqual(
      (await store.outbox(BOB)).map((e) => e.message.id),
      [kept.message.id]
    )
    assert.equal(await store.getMessage(BOB, hit.message.id), undefined)
    assert.ok(told.length > 0)

    const scan = await store.integrity.scanValues()
    assert.equal(scan.damaged.messages.count, 1)
    assert.equal(scan.damaged.outbox.count, 1)
    assert.equal(await store.integrity.quarantine(), 2)
    assert.equal((await store.integrity.scanValues()).damaged.messages.count, 0)
    const aside = await store.integrity.raw('damaged').iterator().all()
    assert.equal(aside.length, 2)
    assert.ok(aside.every(([, v]) => v.includes('chanGed apple')), 'kept as it was')
    assert.equal(await store.rebuildIndexes(), 1)
    assert.deepEqual(
      (await store.search('apple')).map((h) => h.id),
      [kept.message.id]
    )
    await store.close()
  })

  it('a 0.1 store (plain values, no store id) reads as it is, and is sealed by the migration', async () => {
    const database = db()
    await database.open()
    const legacy = { id: 'a'.repeat(32), peer: BOB, from: ALICE, to: BOB, text: 'old', timestamp: 1, direction: 'out' }
    const probe = await Store.open(database, SECRET)
    const ph = probe.peerKey(BOB)
    await probe.close()
    // Layout 1, as 0.1 left it: a plain message, no layout mark.
    await database.open()
    await database.sublevel('meta').clear()
    await database.sublevel<string, string>('messages', { valueEncoding: 'utf8' }).put(`${ph}!00000000000001`, JSON.stringify({ ...legacy, status: 'delivered' }))
    const old = await Store.open(database, SECRET, { upgrade: false })
    assert.equal(old.layout, 1)
    assert.equal((await old.integrity.scanValues()).counts.messages, 1)
    assert.equal(await old.upgrade(), 1)
    assert.equal(old.layout, 2)
    assert.match((await old.integrity.raw('messages').values().all())[0], /^#[0-9a-f]{32}\{"v":1,/)
    assert.deepEqual(
      (await old.history(BOB)).map((m) => m.text),
      ['old']
    )
    await old.close()
  })
})

describe("LevelDB's complaints", () => {
  it('a read that finds the database corrupt is STORE_DAMAGED naming it; other errors pass through', () => {
    const level = Object.assign(new Error('Corruption: bad entry in block'), { code: 'LEVEL_CORRUPTION' })
    const mapped = levelReadError(Object.assign(new Error('Iterator failed'), { code: 'LEVEL_ITERATOR_NOT_OPEN', cause: level }), '/d/db')
    assert.ok(isP2pError(mapped))
    assert.equal(mapped.code, ErrorCode.STORE_DAMAGED)
    assert.match(mapped.message, /\/d\/db is damaged: Corruption: bad entry in block/)
    assert.deepEqual(mapped.details, { file: '/d/db', problem: 'corrupt' })
    const other = new Error('nope')
    assert.equal(levelReadError(other, '/d/db'), other)
  })
})
