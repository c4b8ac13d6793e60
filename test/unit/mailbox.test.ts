import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryLevel } from 'memory-level'
import { check, open, seal, sign } from '../../src/protocols/mailbox/seal.ts'
import { Envelope } from '../../src/protocols/mailbox/pb/mailbox.ts'
import { type Db, Store } from '../../src/store/index.ts'
import { type HoldLimits, MailboxHold } from '../../src/store/mailbox-hold.ts'

const SECRET = new Uint8Array(32).fill(9)
const text = (s: string) => new TextEncoder().encode(s)

async function key(): Promise<{ key: PrivateKey; id: string }> {
  const k = await generateKeyPair('Ed25519')
  return { key: k, id: peerIdFromPrivateKey(k).toString() }
}

async function rejectsWith(p: Promise<unknown>, name: string, pattern: RegExp) {
  await assert.rejects(p, (err: Error) => err.name === name && pattern.test(err.message))
}

describe('mailbox sealing', () => {
  it('opens for the recipient: the frames, the sender, the id', async () => {
    const alice = await key()
    const bob = await key()
    const sealed = await seal(alice.key, bob.id, [text('one'), text('two')])
    const opened = await open(bob.key, sealed.bytes)
    assert.equal(opened.sender, alice.id)
    assert.equal(opened.recipient, bob.id)
    assert.deepEqual(opened.frames.map((f) => new TextDecoder().decode(f)), ['one', 'two'])
    assert.deepEqual(opened.id, sealed.id)
    // The plaintext is nowhere in the envelope.
    assert.ok(!Buffer.from(sealed.bytes).includes(Buffer.from('one')))
  })

  it('does not open for anyone else, and refuses what was changed or forged', async () => {
    const alice = await key()
    const bob = await key()
    const carol = await key()
    const sealed = await seal(alice.key, bob.id, [text('for bob')])
    await rejectsWith(open(carol.key, sealed.bytes), 'EnvelopeError', /is for .*not for us/)

    const envelope = Envelope.decode(sealed.bytes)
    // A flipped ciphertext byte: the signature no longer verifies.
    const flipped = { ...envelope, ciphertext: envelope.ciphertext.slice() }
    flipped.ciphertext[0] ^= 1
    await rejectsWith(check(Envelope.encode(flipped)), 'EnvelopeError', /signature is not/)
    // Claimed to be from carol, signed by alice.
    await rejectsWith(check(Envelope.encode({ ...envelope, sender: carol.id })), 'EnvelopeError', /signature is not/)
    // Readdressed to carol and re-signed by its sender: it still does not decrypt for carol (sealed to bob's key).
    const readdressed = await sign(alice.key, { ...envelope, recipient: carol.id })
    await check(readdressed) // a valid signature: a mailbox would take it
    await rejectsWith(open(carol.key, readdressed), 'EnvelopeError', /does not decrypt/)
    // Not an envelope at all.
    await rejectsWith(check(new Uint8Array([1, 2, 3])), 'EnvelopeError', /malformed|id is/)
  })
})

async function holdOn(db: Db, limits: Partial<HoldLimits> = {}) {
  const store = await Store.open(db, SECRET)
  let now = 1_000_000
  const hold = await MailboxHold.open(store, {
    ttlMs: 10_000,
    perSender: { envelopes: 3, bytes: 1 << 20 },
    perRecipient: { envelopes: 5, bytes: 1 << 20 },
    maxSenders: 3,
    maxOwners: 2,
    now: () => now,
    ...limits
  })
  return { store, hold, tick: (ms: number) => (now += ms) }
}

let counter = 0
function env(sender: string, recipient: string, prev?: Uint8Array) {
  const id = new Uint8Array(16)
  id[0] = ++counter
  id[1] = counter >> 8
  return { id, sender, recipient, prev: prev ?? new Uint8Array(0) }
}

describe('mailbox hold (a mailbox node\'s store)', () => {
  const BOB = '12D3KooWBobOwner'
  const MALLORY = '12D3KooWMallory'
  const CAROL = '12D3KooWCarol'

  it('refuses recipients that do not use it, and more owners than it allows', async () => {
    const { hold } = await holdOn(new MemoryLevel() as unknown as Db)
    assert.equal((await hold.deposit(env(CAROL, BOB), new Uint8Array(10))).status, 'REFUSED')
    assert.equal(await hold.register(BOB), undefined)
    assert.equal(await hold.register(CAROL), undefined)
    assert.match((await hold.register(MALLORY)) ?? '', /as many peers as it allows \(2\)/)
  })

  it('a flood from one sender hits its quota; another sender still gets in; chains and resends', async () => {
    const { hold } = await holdOn(new MemoryLevel() as unknown as Db)
    await hold.register(BOB)
    let prev: Uint8Array | undefined
    const statuses = []
    for (let i = 0; i < 5; i++) {
      const e = env(MALLORY, BOB, prev)
      const r = await hold.deposit(e, new Uint8Array(100))
      statuses.push(r.status)
      if (r.status === 'OK') prev = e.id
    }
    assert.deepEqual(statuses, ['OK', 'OK', 'OK', 'QUOTA', 'QUOTA'])
    const carol = env(CAROL, BOB)
    assert.equal((await hold.deposit(carol, new Uint8Array(100))).status, 'OK')
    // The same envelope again (its answer was lost): held once.
    assert.equal((await hold.deposit(carol, new Uint8Array(100))).status, 'DUPLICATE')
    // A prev that is not carol's last: GAP.
    assert.equal((await hold.deposit(env(CAROL, BOB, new Uint8Array(16)), new Uint8Array(100))).status, 'GAP')
    assert.deepEqual(hold.heldFor(BOB), { count: 4, bytes: 400, senders: 2 })
    // A new run from mallory replaces its old one.
    assert.equal((await hold.deposit(env(MALLORY, BOB), new Uint8Array(50))).status, 'OK')
    assert.deepEqual(hold.heldFor(BOB), { count: 2, bytes: 150, senders: 2 })
  })

  it('keeps deposit order, deletes what the owner confirmed, and holds across a restart', async () => {
    const db = new MemoryLevel() as unknown as Db
    const first = await holdOn(db)
    await first.hold.register(BOB)
    const a = env(CAROL, BOB)
    const b = env(CAROL, BOB, a.id)
    await first.hold.deposit(a, text('A'))
    await first.hold.deposit(b, text('B'))
    await first.store.close()
    const second = await holdOn(new MemoryLevel() as unknown as Db)
    assert.equal(second.hold.heldFor(BOB).count, 0, 'another database holds nothing')
    // memory-level keeps its data while the object lives: reopen the same one.
    const again = await holdOn(db)
    assert.deepEqual(again.hold.heldFor(BOB), { count: 2, bytes: 2, senders: 1 })
    const { items, more } = await again.hold.held(BOB, 10, 1 << 20)
    assert.equal(more, false)
    assert.deepEqual(items.map((i) => new TextDecoder().decode(i.bytes)), ['A', 'B'])
    // The chain goes on after the restart.
    assert.equal((await again.hold.deposit(env(CAROL, BOB, b.id), text('C'))).status, 'OK')
    await again.hold.remove(BOB, [items[0].key])
    const left = await again.hold.held(BOB, 10, 1 << 20)
    assert.deepEqual(left.items.map((i) => new TextDecoder().decode(i.bytes)), ['B', 'C'])
    assert.equal(again.hold.heldFor(BOB).count, 2)
  })

  it('drops what expires with the rest of its run, and the sender is told GAP', async () => {
    const { hold, tick } = await holdOn(new MemoryLevel() as unknown as Db)
    await hold.register(BOB)
    const a = env(CAROL, BOB)
    await hold.deposit(a, text('A'))
    tick(6000)
    const b = env(CAROL, BOB, a.id)
    await hold.deposit(b, text('B'))
    const m = env(MALLORY, BOB)
    await hold.deposit(m, text('M'))
    tick(5000) // A is 11 s old (over the 10 s TTL); B and M 5 s
    assert.equal(await hold.sweep(), 2, 'A, and B after it in its run')
    const { items } = await hold.held(BOB, 10, 1 << 20)
    assert.deepEqual(items.map((i) => new TextDecoder().decode(i.bytes)), ['M'], 'other runs stay')
    assert.equal((await hold.deposit(env(CAROL, BOB, b.id), text('C'))).status, 'GAP')
    assert.equal((await hold.deposit(env(CAROL, BOB), text('A again'))).status, 'OK')
  })
})
