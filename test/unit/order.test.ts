import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { MemoryLevel } from 'memory-level'
import { type Db, Store } from '../../src/store/index.ts'

const ME = '12D3KooWMe'
const PEER = '12D3KooWPeer'
const MIN = 60_000

const id = () => randomBytes(16).toString('hex')
const theirs = (text: string, timestamp: number, after?: number) => ({
  id: id(),
  peer: PEER,
  to: ME,
  text,
  timestamp,
  ...(after != null ? { after } : {})
})

describe('conversation order in the store', () => {
  let store: Store
  let peer = PEER
  let n = 0
  before(async () => {
    store = await Store.open(new MemoryLevel<string, string>() as unknown as Db, new Uint8Array(32).fill(3))
  })
  after(() => store.close())
  // A conversation of its own for each case.
  const fresh = () => {
    peer = `${PEER}${++n}`
    return peer
  }
  const mine = (text: string) => store.addOutgoing({ id: id(), peer, from: ME, text, timestamp: 0 })
  const texts = async () => (await store.history(peer)).map((m) => m.text)
  const add = (...msgs: Array<ReturnType<typeof theirs>>) => store.addIncoming(msgs.map((m) => ({ ...m, peer })))

  it('a message written earlier but arriving later goes before ours, by its time', async () => {
    fresh()
    await mine('mine, now')
    await add(theirs('theirs, 10 minutes ago', Date.now() - 10 * MIN))
    assert.deepEqual(await texts(), ['theirs, 10 minutes ago', 'mine, now'])
  })

  it('a clock ahead cannot put a message after ours written later: it goes where it arrived', async () => {
    fresh()
    await add(theirs('theirs, clock an hour fast', Date.now() + 60 * MIN))
    await mine('my answer')
    assert.deepEqual(await texts(), ['theirs, clock an hour fast', 'my answer'])
  })

  it("a peer's messages stay in the order it sent them, whatever their clocks say", async () => {
    fresh()
    const now = Date.now()
    await add(theirs('one', now - 1000), theirs('two (clock stepped back)', now - 5 * MIN))
    await add(theirs('three', now - 10 * MIN))
    assert.deepEqual(await texts(), ['one', 'two (clock stepped back)', 'three'])
  })

  it('an answer goes after what it answers (after), even from a clock behind ours', async () => {
    fresh()
    const question = await mine('question')
    await add(theirs('answer, clock 5 minutes slow', Date.now() - 5 * MIN, question.message.timestamp))
    assert.deepEqual(await texts(), ['question', 'answer, clock 5 minutes slow'])
  })

  it('our messages carry the newest of their timestamps we had, and times that never go back', async () => {
    fresh()
    const t = Date.now() - MIN
    await add(theirs('theirs', t))
    const a = await mine('a')
    const b = await mine('b')
    assert.equal(a.message.after, t)
    assert.ok(b.message.timestamp >= a.message.timestamp)
  })
})
