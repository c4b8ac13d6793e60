import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AddressBudget } from '../../src/node/address-budget.ts'
import { MAX_HELLO_STRIKES, MAX_TRACKED_PEERS } from '../../src/protocols/chat/constants.ts'
import { Presence } from '../../src/protocols/chat/presence.ts'
import { Retries } from '../../src/protocols/chat/retry.ts'
import { errorText } from '../../src/protocols/util.ts'

describe('Presence', () => {
  type Conn = { id: string; status: 'open' | 'closed' }
  const setup = () => {
    const conns: Conn[] = []
    const changes: Array<[string, boolean]> = []
    const presence = new Presence(
      () => conns,
      (peer, here) => changes.push([peer, here])
    )
    return { conns, changes, presence }
  }

  it('changes once per arrival and once per departure, whatever the greetings in between', () => {
    const { conns, changes, presence } = setup()
    const c1: Conn = { id: 'c1', status: 'open' }
    conns.push(c1)
    presence.greeted('bob', c1)
    presence.greeted('bob', c1) // a second stream on the same connection
    assert.deepEqual(changes, [['bob', true]])
    assert.equal(presence.isHere('bob'), true)
    c1.status = 'closed'
    presence.closed('bob', c1)
    presence.closed('bob', c1)
    assert.deepEqual(changes, [['bob', true], ['bob', false]])
    assert.equal(presence.isHere('bob'), false)
  })

  it('stays here across a reconnect race (two connections, the greeted one closes first)', () => {
    const { conns, changes, presence } = setup()
    const c1: Conn = { id: 'c1', status: 'open' }
    const c2: Conn = { id: 'c2', status: 'open' }
    conns.push(c1, c2)
    presence.greeted('bob', c1)
    c1.status = 'closed'
    presence.closed('bob', c1)
    assert.equal(presence.isHere('bob'), true)
    c2.status = 'closed'
    presence.closed('bob', c2)
    assert.deepEqual(changes, [['bob', true], ['bob', false]])
  })

  it('ignores a greeting on a connection already closed, and closes of unknown connections', () => {
    const { changes, presence } = setup()
    presence.greeted('bob', { id: 'c1', status: 'closed' })
    presence.closed('carol', { id: 'cx' })
    assert.deepEqual(changes, [])
  })
})

describe('Retries', () => {
  const failed = { kind: 'failed', reason: 'ChatTimeoutError: no ack', greeted: true } as const

  it('doubles the wait per failure up to the cap, and starts over after progress', () => {
    const r = new Retries({ retryDelay: 100, maxRetryDelay: 500 })
    const waits = Array.from({ length: 5 }, () => {
      const d = r.ended('bob', failed)
      assert.ok(d != null && 'retryIn' in d)
      return d.retryIn
    })
    assert.deepEqual(waits, [100, 200, 400, 500, 500])
    r.progressed('bob')
    assert.deepEqual(r.ended('bob', failed), { retryIn: 100, reason: failed.reason })
  })

  it('judges a peer that never greets not p2pnode after MAX_HELLO_STRIKES streams, at once for no protocol', () => {
    const r = new Retries({ retryDelay: 100, maxRetryDelay: 500 })
    const silent = { kind: 'failed', reason: 'TimeoutError', greeted: false } as const
    for (let i = 1; i < MAX_HELLO_STRIKES; i++) assert.ok('retryIn' in (r.ended('app', silent) ?? {}))
    assert.match((r.ended('app', silent) as { foreign: string }).foreign, /never greeted/)
    assert.deepEqual(r.ended('other', { kind: 'foreign', reason: 'it does not speak /chat/1.0' }), {
      foreign: 'it does not speak /chat/1.0'
    })
    assert.equal(r.ended('gone', { kind: 'gone', reason: 'connection closed' }), undefined)
  })

  it('schedules one retry at a time and keeps a bounded number of peers', () => {
    const r = new Retries({ retryDelay: 100, maxRetryDelay: 500 })
    let runs = 0
    r.schedule('bob', 10_000, () => runs++)
    assert.equal(r.waiting('bob'), true)
    r.schedule('bob', 0, () => runs++)
    for (let i = 0; i < MAX_TRACKED_PEERS + 100; i++) r.ended(`peer${i}`, failed)
    assert.ok(r.size <= MAX_TRACKED_PEERS)
    assert.equal(r.waiting('bob'), true, 'a scheduled retry is not dropped')
    r.stop()
    assert.equal(r.waiting('bob'), false)
    assert.equal(runs, 0)
  })
})

describe('AddressBudget', () => {
  it('dials one address for at most two peers within the window', () => {
    const b = new AddressBudget({ peersPerAddress: 2, windowMs: 1000 })
    const a = '/ip4/10.0.0.1/tcp/4001'
    assert.deepEqual(b.take('p1', [a], 0), [a])
    assert.deepEqual(b.take('p2', [a, '/ip4/10.0.0.2/tcp/1'], 0), [a, '/ip4/10.0.0.2/tcp/1'])
    assert.deepEqual(b.take('p3', [a], 10), [], 'a third claimant is not dialled there')
    assert.deepEqual(b.take('p1', [a], 20), [a], 'the first ones still are')
    assert.deepEqual(b.take('p3', [a], 1500), [a], 'after the window, again')
  })
})

describe('errorText', () => {
  it('reads an event that ended a stream instead of printing [object Event]', () => {
    const evt = Object.assign(new Event('close'), { error: new Error('stream reset') })
    assert.equal(errorText(evt), 'Error: stream reset')
    assert.equal(errorText(new Event('close')), 'the stream ended (close event)')
  })
})
