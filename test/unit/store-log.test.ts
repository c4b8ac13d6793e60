import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import { ErrorCode, isP2pError } from '../../src/errors.ts'
import { type Db, levelReadError, Store } from '../../src/store/index.ts'
import { RecordSealer } from '../../src/store/records.ts'
import { ValueSealer } from '../../src/store/sealed-codec.ts'
import { cleanup, tempDir } from '../helpers/cli.ts'

const SECRET = new Uint8Array(32).fill(9)
const ALICE = '12D3KooWAlice'
const BOB = '12D3KooWBob'
const CAROL = '12D3KooWCarol'

const hex = () => randomBytes(16).toString('hex')
const seqOf = (us: number) => us.toString(16).padStart(14, '0')

type MakeDb = () => Promise<{ db: Db; done: () => Promise<void> }>

function raw(db: Db, name: string) {
  return db.sublevel<string, string>(name, { valueEncoding: 'utf8' })
}

/**
 * A store of layout 1 written by hand the way 0.1 (`plain`: no seals, no store id) or main before the log (sealed,
 * with a store id) wrote it: two conversations, an outbox entry, a peer record, a transfer, settings, order state.
 */
async function layout1(db: Db, kind: 'plain' | 'sealed') {
  await db.open()
  const probe = await Store.open(new MemoryLevel<string, string>() as unknown as Db, SECRET)
  const ph = (p: string) => probe.peerKey(p)
  await probe.close()
  const sealer = new ValueSealer(SECRET)
  const value = (v: unknown) => (kind === 'sealed' ? sealer.seal(v) : JSON.stringify(v))
  const t0 = 1_700_000_000_000
  const msgs = [
    { peer: BOB, text: 'hello bob', direction: 'out', status: 'delivered', at: t0 },
    { peer: BOB, text: 'hello alice, café?', direction: 'in', status: 'received', at: t0 + 1000 },
    { peer: CAROL, text: 'hi carol', direction: 'out', status: 'delivered', at: t0 + 2000 },
    { peer: BOB, text: 'are you there?', direction: 'out', status: 'pending', at: t0 + 3000 }
  ].map((m, i) => ({
    id: String(i + 1).padStart(32, '0'),
    peer: m.peer,
    from: m.direction === 'out' ? ALICE : m.peer,
    to: m.direction === 'out' ? m.peer : ALICE,
    text: m.text,
    timestamp: m.at,
    direction: m.direction,
    status: m.status,
    seq: seqOf(m.at * 1000)
  }))
  const ops: Array<{ type: 'put'; sublevel: object; key: string; value: string }> = []
  const put = (name: string, key: string, v: string) => ops.push({ type: 'put', sublevel: raw(db, name), key, value: v })
  for (const { seq, ...m } of msgs) {
    put('messages', `${ph(m.peer)}!${seq}`, value(m))
    put('ids', `${ph(m.peer)}!${m.id}`, seq)
    put('words', `cafe!${seq}`, `${ph(m.peer)}!${seq}`)
    if (m.status === 'pending') put('outbox', `${ph(m.peer)}!${seq}`, value(m))
  }
  const rs = new RecordSealer(SECRET)
  const record = { peerId: BOB, name: 'bob', localName: 'bobby', addrs: [], firstSeen: t0, lastSeen: t0, chatted: true, contact: true, blocked: false, muted: false }
  put('peers', ph(BOB), JSON.stringify(rs.seal(ph(BOB), record)))
  const transferId = 'f'.repeat(32)
  put('transfers', transferId, JSON.stringify({ id: transferId, peer: BOB, direction: 'out', name: 'a.txt', size: 1, status: 'complete' }))
  put('meta', 'clock', JSON.stringify(msgs.at(-1)!.timestamp * 1000))
  put('meta', 'writes', JSON.stringify(7))
  put('meta', 'setting:name', JSON.stringify('alice'))
  put('meta', `order:${ph(BOB)}`, JSON.stringify({ lastSeq: (t0 + 1000) * 1000, lastTimestamp: t0 + 1000 }))
  await db.batch(ops as never)
  if (kind === 'sealed') {
    // main's stores carry an id (sealed): written through the store's own code, as main did.
    const s = await Store.open(db, SECRET, { upgrade: false })
    await s.integrity.setStoreId({ dbId: '1'.repeat(32), peerId: ALICE })
    await s.close()
  }
  return { msgs, transferId, ph }
}

/** What a migrated store holds, to compare runs. */
async function contents(store: Store) {
  return {
    bob: (await store.history(BOB, { limit: 100 })).map((m) => [m.id, m.text, m.status]),
    carol: (await store.history(CAROL, { limit: 100 })).map((m) => [m.id, m.text]),
    outbox: (await store.outbox(BOB)).map((e) => [e.seq, e.message.text]),
    peersWithOutbox: await store.peersWithOutbox(),
    search: (await store.search('cafe')).map((h) => h.text),
    searchBob: (await store.search('cafe', { peer: BOB })).map((h) => h.text),
    bobRecord: (await store.peers.get(BOB))?.localName,
    name: await store.getSetting('name'),
    writes: store.writes >= 7
  }
}

function suite(name: string, makeDb: MakeDb) {
  describe(`conversation log and migration (${name})`, () => {
    const dones: Array<() => Promise<void>> = []
    after(async () => {
      for (const d of dones) await d()
    })
    const fresh = async () => {
      const made = await makeDb()
      dones.push(made.done)
      return made.db
    }

    it('writes every value with its version, entries sealed, keyed by conversation', async () => {
      const db = await fresh()
      const store = await Store.open(db, SECRET)
      assert.equal(store.layout, 2)
      await store.addOutgoing({ id: hex(), peer: BOB, from: ALICE, text: 'versioned', timestamp: 0 })
      await store.peers.update(BOB, { name: 'bob' })
      await store.setSetting('name', 'alice')
      const log = await raw(db, 'log').iterator().all()
      assert.equal(log.length, 1)
      assert.ok(log[0][0].startsWith(`dm:${store.peerKey(BOB)}!`), log[0][0])
      assert.match(log[0][1], /^#[0-9a-f]{32}\{"v":1,/)
      assert.match((await raw(db, 'log-outbox').values().all())[0], /^#[0-9a-f]{32}\{"v":1,"recipient":"12D3KooWBob"/)
      for (const v of await raw(db, 'peers').values().all()) assert.match(v, /^\{"v":1,/)
      for (const v of await raw(db, 'meta').values().all()) assert.match(v, /^\{"v":1,"value":/)
      await store.close()
    })

    it('meets an unknown version or kind with a clear error, and a newer layout by refusing to open', async () => {
      const db = await fresh()
      const store = await Store.open(db, SECRET)
      const sent = await store.addOutgoing({ id: hex(), peer: BOB, from: ALICE, text: 'x', timestamp: 0 })
      const k = `dm:${store.peerKey(BOB)}!${sent.seq}`
      const sealer = new ValueSealer(SECRET)
      const unknown = (caught: unknown) => {
        const err = levelReadError(caught, '/db')
        assert.ok(isP2pError(err), String(caught))
        assert.equal(err.code, ErrorCode.STORE_DAMAGED)
        assert.equal((err.details as { problem: string }).problem, 'unknown-version')
        return true
      }
      await raw(db, 'log').put(k, sealer.seal({ ...sent.message, v: 2 }))
      const says = (re: RegExp) => (err: unknown) => unknown(err) && re.test((levelReadError(err, '/db') as Error).message)
      await assert.rejects(store.history(BOB), says(/of version 2 \(this one reads 1\)/))
      await raw(db, 'log').put(k, sealer.seal({ ...sent.message, v: 1, kind: 'hologram' }))
      await assert.rejects(store.history(BOB), says(/kind "hologram"/))
      await raw(db, 'peers').put(store.peerKey(BOB), '{"v":9,"record":{}}')
      await assert.rejects(store.peers.get(BOB), unknown)
      await raw(db, 'meta').put('layout', '{"v":1,"value":3}')
      await store.close()
      await assert.rejects(Store.open(db, SECRET), says(/layout 3/))
    })

    it('keeps one outbox record per recipient; an entry is delivered once every recipient acked it', async () => {
      const db = await fresh()
      const store = await Store.open(db, SECRET)
      const conv = 'group:' + 'a'.repeat(32)
      const written = await store.locked(conv, async () => {
        const prepared = await store.ownEntryOps(
          conv,
          { id: hex(), peer: ALICE, from: ALICE, to: '', text: 'to both', timestamp: 0, direction: 'out', status: 'pending', group: 'a'.repeat(32), recipients: [BOB, CAROL] },
          [BOB, CAROL]
        )
        await store.writeOps(prepared.ops)
        return prepared
      })
      const [toBob] = await store.outbox(BOB)
      const [toCarol] = await store.outbox(CAROL)
      assert.equal(toBob.message.id, written.message.id)
      assert.equal(toCarol.seq, toBob.seq)
      assert.deepEqual((await store.peersWithOutbox()).sort(), [BOB, CAROL].sort())
      await store.markDelivered(BOB, [toBob])
      let entry = await store.getEntry(conv, written.message.id)
      assert.deepEqual(entry?.deliveredTo, [BOB])
      assert.equal(entry?.status, 'pending')
      assert.equal((await store.outbox(BOB)).length, 0)
      await store.markDelivered(CAROL, [toCarol])
      entry = await store.getEntry(conv, written.message.id)
      assert.equal(entry?.status, 'delivered')
      assert.deepEqual((await store.conversationHistory(conv)).map((m) => m.text), ['to both'])
      await store.close()
    })

    for (const kind of ['plain', 'sealed'] as const) {
      it(`migrates a layout-1 store (${kind === 'plain' ? '0.1' : 'main before the log'}) once, keeping everything`, async () => {
        const db = await fresh()
        const { msgs, transferId } = await layout1(db, kind)
        const old = await Store.open(db, SECRET, { upgrade: false })
        assert.equal(old.layout, 1)
        assert.equal((await old.integrity.scanValues()).counts.messages, 4)
        assert.equal(await old.upgrade(), 4)
        assert.equal(await old.upgrade(), 0, 'once')
        const got = await contents(old)
        assert.deepEqual(got.bob, msgs.filter((m) => m.peer === BOB).map((m) => [m.id, m.text, m.status]))
        assert.deepEqual(got.carol, [[msgs[2].id, 'hi carol']])
        assert.deepEqual(got.outbox.map(([, t]) => t), ['are you there?'])
        assert.deepEqual(got.peersWithOutbox, [BOB])
        assert.deepEqual(got.search, ['hello alice, café?'])
        assert.deepEqual(got.searchBob, ['hello alice, café?'])
        assert.equal(got.bobRecord, 'bobby')
        assert.equal(got.name, 'alice')
        assert.ok(got.writes)
        assert.equal((await old.parts.transfers.get(transferId))?.name, 'a.txt')
        for (const name of ['messages', 'ids', 'outbox', 'words', 'pwords']) {
          assert.equal((await raw(db, name).keys().all()).length, 0, `${name} cleared`)
        }
        // The order state moved with the conversation: a message from bob sent before his last goes after it.
        const [late] = await old.addIncoming([{ id: hex(), peer: BOB, to: ALICE, text: 'late', timestamp: msgs[1].timestamp - 500 }])
        assert.ok(late != null)
        const texts = (await old.history(BOB, { limit: 100 })).map((m) => m.text)
        assert.ok(texts.indexOf('late') > texts.indexOf('hello alice, café?'), texts.join(' | '))
        // The pending message still goes out, and its delivery is recorded.
        await old.markDelivered(BOB, await old.outbox(BOB))
        assert.equal((await old.getMessage(BOB, msgs[3].id))?.status, 'delivered')
        await old.close()
      })
    }

    it('an interrupted migration is finished by the next open, whichever batch it stopped after', async () => {
      const reference = await fresh()
      await layout1(reference, 'sealed')
      const whole = await Store.open(reference, SECRET)
      const want = await contents(whole)
      await whole.close()
      // Every batch of one value: stop after the 1st, 2nd, ... as a crash would, then open again.
      for (let stopAt = 1; ; stopAt++) {
        const db = await fresh()
        const { ph } = await layout1(db, 'sealed')
        const store = await Store.open(db, SECRET, { upgrade: false })
        let stopped = false
        await store
          .upgrade({
            batchSize: 1,
            afterBatch: (n) => {
              if (n === stopAt) {
                stopped = true
                throw new Error('crash')
              }
            }
          })
          .catch((err: Error) => assert.equal(err.message, 'crash'))
        await store.close()
        const again = await Store.open(db, SECRET)
        assert.equal(again.layout, 2)
        const got = await contents(again)
        // Seqs of the outbox differ only if the migration made them up; it must not.
        assert.deepEqual(got, want, `stopped after batch ${stopAt}`)
        assert.equal((await raw(db, 'log').keys().all()).length, 4, 'no entry twice')
        assert.equal((await raw(db, 'meta').get('migration')), undefined)
        assert.ok((await raw(db, 'meta').get(`order:dm:${ph(BOB)}`)) != null)
        await again.close()
        if (!stopped) break
      }
    })
  })
}

suite('memory-level', async () => ({ db: new MemoryLevel<string, string>() as unknown as Db, done: async () => {} }))

suite('LevelDB on disk', async () => {
  const dir = await tempDir()
  return { db: new Level<string, string>(dir) as unknown as Db, done: () => cleanup(dir) }
})
