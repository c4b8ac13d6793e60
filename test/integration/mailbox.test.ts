import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { PrivateKey } from '@libp2p/interface'
import { P2pNode } from '../../src/node/index.ts'
import { messageFrame } from '../../src/protocols/chat/index.ts'
import { Envelope } from '../../src/protocols/mailbox/pb/mailbox.ts'
import { sign } from '../../src/protocols/mailbox/seal.ts'
import { cleanup, tempDir, waitFor } from '../helpers/cli.ts'
import { filesContaining, options } from '../helpers/mailbox.ts'

describe('mailbox: alice and bob are never online at the same time', () => {
  let mailboxDir: string
  let aliceDir: string
  let bobDir: string
  let mailbox: P2pNode
  let aliceId: string
  let bobId: string
  const toBob = ['mbx-alice-1 ferns in the attic', 'mbx-alice-2 the blue kettle', 'mbx-alice-3 seven lanterns']
  const toAlice = ['mbx-bob-1 quiet harbour', 'mbx-bob-2 a paper crane']

  before(async () => {
    ;[mailboxDir, aliceDir, bobDir] = await Promise.all([tempDir(), tempDir(), tempDir()])
    mailbox = await P2pNode.start(options(mailboxDir, 'mailbox', { mailbox: { service: true } }))
    const mailboxAddr = (await mailbox.id()).addrs[0]
    // They meet once: contacts, and each names the mailbox (each then knows the other's).
    const alice = await P2pNode.start(options(aliceDir, 'alice'))
    const bob = await P2pNode.start(options(bobDir, 'bob'))
    try {
    aliceId = alice.libp2p.peerId.toString()
    bobId = bob.libp2p.peerId.toString()
    // alice's mailbox rides in her greeting; bob names his while they are connected (an update frame).
    await alice.mailbox.setMailbox(mailboxAddr)
    await alice.dial((await bob.id()).addrs[0])
    await alice.people.addContact(bobId)
    await bob.people.addContact(aliceId)
    await waitFor(() => alice.chat.greeted(bobId) && bob.chat.greeted(aliceId), { what: 'both greeted' })
    await bob.mailbox.setMailbox(mailboxAddr)
    await waitFor(async () => (await alice.mailbox.mailbox()).contacts.some((c) => c.peerId === bobId), { what: 'alice knows bob\'s mailbox' })
    await waitFor(async () => (await bob.mailbox.mailbox()).contacts.some((c) => c.peerId === aliceId), { what: 'bob knows alice\'s mailbox' })
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })

  after(async () => {
    await mailbox?.stop()
    await cleanup(mailboxDir, aliceDir, bobDir)
  })

  it('messages both ways arrive once, in order, and turn delivered; the mailbox holds no plaintext', async () => {
    const hold = () => mailbox.mailbox.hold
    // 1. alice alone: her messages go to bob's mailbox, sealed.
    let alice = await P2pNode.start(options(aliceDir, 'alice'))
    const sentToBob = []
    for (const text of toBob) sentToBob.push(await alice.send(bobId, text, { waitMs: 0 }))
    await waitFor(async () => (await alice.mailbox.mailbox()).contacts.find((c) => c.peerId === bobId)?.deposited === 3, {
      what: 'all three at bob\'s mailbox'
    })
    assert.ok((hold()?.heldFor(bobId).count ?? 0) >= 1)
    assert.deepEqual(
      (await alice.history(bobId)).map((m) => m.status),
      ['pending', 'pending', 'pending'],
      'deposited is not delivered'
    )
    for (const text of toBob) assert.deepEqual(await filesContaining(mailboxDir, text), [], `"${text}" is on the mailbox's disk`)
    await alice.stop()

    // 2. bob alone: collects alice's messages, acks them through alice's mailbox, answers.
    let bob = await P2pNode.start(options(bobDir, 'bob'))
    await waitFor(async () => (await bob.history(aliceId)).length === 3, { what: 'bob has alice\'s messages' })
    assert.deepEqual((await bob.history(aliceId)).map((m) => m.text), toBob)
    // Collected envelopes are deleted: bob confirms the batch once it is stored, so just after the history shows it.
    await waitFor(() => hold()?.heldFor(bobId).count === 0, { what: 'collected envelopes deleted' })
    await waitFor(() => hold()?.heldFor(aliceId).count, { what: 'bob\'s acks at alice\'s mailbox' })
    for (const text of toAlice) await bob.send(aliceId, text, { waitMs: 0 })
    await waitFor(async () => (await bob.mailbox.mailbox()).contacts.find((c) => c.peerId === aliceId)?.deposited === 2, {
      what: 'bob\'s answers at alice\'s mailbox'
    })
    // Positive control for the grep: bob's own store does hold the texts it received.
    assert.ok((await filesContaining(bobDir, toBob[0])).length > 0, 'the grep finds plaintext where there is some')
    await bob.stop()

    // 3. alice alone: her messages are delivered, bob's answers arrive; her acks go to bob's mailbox.
    alice = await P2pNode.start(options(aliceDir, 'alice'))
    await waitFor(async () => (await alice.history(bobId)).filter((m) => m.direction === 'out').every((m) => m.status === 'delivered'), {
      what: 'alice\'s messages delivered'
    })
    assert.equal(await alice.store.outboxSize(bobId), 0)
    await waitFor(async () => (await alice.history(bobId)).filter((m) => m.direction === 'in').length === 2, { what: 'alice has bob\'s answers' })
    await waitFor(() => hold()?.heldFor(bobId).count, { what: 'alice\'s acks at bob\'s mailbox' })
    await alice.stop()

    // 4. bob alone: his answers turn delivered.
    bob = await P2pNode.start(options(bobDir, 'bob'))
    await waitFor(async () => (await bob.history(aliceId)).filter((m) => m.direction === 'out').every((m) => m.status === 'delivered'), {
      what: 'bob\'s answers delivered'
    })
    const bobSees = await bob.history(aliceId)
    await bob.stop()
    alice = await P2pNode.start(options(aliceDir, 'alice'))
    const aliceSees = await alice.history(bobId)
    await alice.stop()

    // Once each, in the order written, on both sides.
    assert.deepEqual(bobSees.filter((m) => m.direction === 'in').map((m) => m.text), toBob)
    assert.deepEqual(bobSees.filter((m) => m.direction === 'out').map((m) => m.text), toAlice)
    assert.deepEqual(aliceSees.filter((m) => m.direction === 'in').map((m) => m.text), toAlice)
    assert.deepEqual(aliceSees.filter((m) => m.direction === 'out').map((m) => m.text), toBob)
    assert.deepEqual(aliceSees.filter((m) => m.direction === 'out').map((m) => m.id), sentToBob.map((m) => m.id))
    assert.equal(hold()?.heldFor(aliceId).count, 0)
    assert.equal(hold()?.heldFor(bobId).count, 0)
    for (const text of [...toBob, ...toAlice]) {
      assert.deepEqual(await filesContaining(mailboxDir, text), [], `"${text}" is on the mailbox's disk`)
    }
  })

  it('300 messages go in several rounds and envelopes, and arrive in order', async () => {
    const alice = await P2pNode.start(options(aliceDir, 'alice'))
    const texts = Array.from({ length: 300 }, (_, i) => `mbx-many-${i}`)
    try {
      for (const text of texts) await alice.send(bobId, text, { waitMs: 0 })
      await waitFor(async () => (await alice.mailbox.mailbox()).contacts.find((c) => c.peerId === bobId)?.deposited === 300, {
        what: 'all 300 at bob\'s mailbox',
        timeout: 60_000
      })
      assert.ok((mailbox.mailbox.hold?.heldFor(bobId).count ?? 0) >= 2, 'more than one envelope')
    } finally {
      await alice.stop()
    }
    const bob = await P2pNode.start(options(bobDir, 'bob'))
    try {
      await waitFor(async () => (await bob.history(aliceId, { limit: 1000 })).filter((m) => m.text.startsWith('mbx-many-')).length === 300, {
        what: 'bob has all 300',
        timeout: 60_000
      })
      const got = (await bob.history(aliceId, { limit: 1000 })).filter((m) => m.text.startsWith('mbx-many-'))
      assert.deepEqual(got.map((m) => m.text), texts)
      await waitFor(() => mailbox.mailbox.hold?.heldFor(aliceId).count, { what: 'the acks at alice\'s mailbox' })
    } finally {
      await bob.stop()
    }
    const back = await P2pNode.start(options(aliceDir, 'alice'))
    try {
      await waitFor(async () => (await back.store.outboxSize(bobId)) === 0, { what: 'all 300 delivered' })
    } finally {
      await back.stop()
    }
  })

  it('a message that took both paths is stored once, in order', async () => {
    // alice deposits two messages for bob while he is away; the mailbox then goes down before bob collects them.
    const alice = await P2pNode.start(options(aliceDir, 'alice'))
    const texts = ['mbx-both-1', 'mbx-both-2']
    for (const text of texts) await alice.send(bobId, text, { waitMs: 0 })
    await waitFor(async () => (await alice.mailbox.mailbox()).contacts.find((c) => c.peerId === bobId)?.deposited === 2, {
      what: 'both at bob\'s mailbox'
    })
    const port = Number((await mailbox.id()).addrs[0].split('/')[4])
    await mailbox.stop()
    // They meet directly: the messages go over the chat stream (with a third), and are acked there.
    const bob = await P2pNode.start(options(bobDir, 'bob'))
    try {
      await alice.dial((await bob.id()).addrs[0])
      await alice.send(bobId, 'mbx-both-3', { waitMs: 5000 })
      await waitFor(async () => (await alice.store.outboxSize(bobId)) === 0, { what: 'all three acked directly' })
      await alice.stop()
      // The mailbox is back: bob collects the copies there too; nothing is stored twice.
      mailbox = await P2pNode.start(options(mailboxDir, 'mailbox', { listen: [`/ip4/127.0.0.1/tcp/${port}`], mailbox: { service: true } }))
      assert.equal(mailbox.mailbox.hold?.heldFor(bobId).count, 1)
      await bob.mailbox.collectNow({ strict: true })
      assert.equal(mailbox.mailbox.hold?.heldFor(bobId).count, 0)
      const got = (await bob.history(aliceId, { limit: 100 })).filter((m) => m.text.startsWith('mbx-both-'))
      assert.deepEqual(got.map((m) => m.text), [...texts, 'mbx-both-3'])
    } finally {
      await bob.stop()
      await alice.stop()
    }
  })
})

describe('mailbox: quotas, forged envelopes, restart, expiry', () => {
  let dirs: string[]
  let mailbox: P2pNode | undefined
  const nodes: P2pNode[] = []
  /** The mailbox node's clock, moved forward to expire envelopes (no sleeping). */
  let skew = 0
  const mailboxOptions = (dir: string, port = 0) =>
    options(dir, 'mailbox', {
      listen: [`/ip4/127.0.0.1/tcp/${port}`],
      mailbox: {
        service: {
          ttlMs: 3600_000,
          perSender: { envelopes: 3, bytes: 1 << 20 },
          perRecipient: { envelopes: 50, bytes: 8 << 20 },
          now: () => Date.now() + skew
        }
      }
    })

  before(async () => {
    dirs = await Promise.all([tempDir(), tempDir(), tempDir(), tempDir(), tempDir()])
  })

  after(async () => {
    for (const n of [...nodes, mailbox]) await n?.stop()
    await cleanup(...dirs)
  })

  it('holds what a flooding sender sends up to its quota, others still get in; refuses forgeries; keeps it all across a restart; drops what expires and the sender starts over', async () => {
    const [mailboxDir, bobDir, malloryDir, carolDir, daveDir] = dirs
    mailbox = await P2pNode.start(mailboxOptions(mailboxDir))
    const mailboxAddr = (await mailbox.id()).addrs[0]
    const mailboxId = mailbox.libp2p.peerId.toString()
    let bob = await P2pNode.start(options(bobDir, 'bob'))
    const bobId = bob.libp2p.peerId.toString()
    await bob.mailbox.setMailbox(mailboxAddr)
    const [mallory, carol, dave] = await Promise.all([
      P2pNode.start(options(malloryDir, 'mallory')),
      P2pNode.start(options(carolDir, 'carol')),
      P2pNode.start(options(daveDir, 'dave'))
    ])
    nodes.push(mallory, carol, dave)
    // dave is bob's contact and learns his mailbox; then bob goes away.
    await dave.dial((await bob.id()).addrs[0])
    await dave.people.addContact(bobId)
    await bob.people.addContact(dave.libp2p.peerId.toString())
    await waitFor(async () => (await dave.mailbox.mailbox()).contacts.some((c) => c.peerId === bobId), { what: 'dave knows bob\'s mailbox' })
    await bob.stop()
    for (const n of [mallory, carol]) await n.dial(mailboxAddr)

    const frame = (text: string) => messageFrame({ id: randomBytes(16).toString('hex'), timestamp: Date.now(), text })
    // A flood from mallory: three held, the fourth is over its quota.
    let prev = new Uint8Array(0)
    const flood = []
    for (let i = 1; i <= 5; i++) {
      const sealed = await mallory.mailbox.protocol.seal(bobId, [frame(`mbx-flood-${i}`)], { prev })
      flood.push(sealed.bytes)
      prev = sealed.id
    }
    const floodResults = await mallory.mailbox.protocol.deposit(mailboxId, flood)
    assert.deepEqual(floodResults.map((r) => r.status), ['OK', 'OK', 'OK', 'QUOTA'])
    assert.match(floodResults[3].detail, /your share for this recipient is full/)
    // carol is not affected.
    const c1 = await carol.mailbox.protocol.seal(bobId, [frame('mbx-carol-1')])
    assert.deepEqual((await carol.mailbox.protocol.deposit(mailboxId, [c1.bytes])).map((r) => r.status), ['OK'])

    // Forgeries: claimed to be from carol (signed by mallory); carol's own envelope deposited by mallory; one for a
    // peer that does not use this mailbox.
    const carolId = carol.libp2p.peerId.toString()
    const claimed = Envelope.decode((await mallory.mailbox.protocol.seal(bobId, [frame('mbx-forged')])).bytes)
    const forged = Envelope.encode({ ...claimed, sender: carolId })
    const byMallory = await mallory.mailbox.protocol.deposit(mailboxId, [forged])
    assert.equal(byMallory[0].status, 'INVALID')
    assert.match(byMallory[0].detail, /signature is not/)
    const carols = await carol.mailbox.protocol.seal(bobId, [frame('mbx-relayed')], { prev: c1.id })
    assert.equal((await mallory.mailbox.protocol.deposit(mailboxId, [carols.bytes]))[0].status, 'REFUSED')
    const stranger = await carol.mailbox.protocol.seal(mallory.libp2p.peerId.toString(), [frame('mbx-nobody')], { prev: c1.id })
    assert.equal((await carol.mailbox.protocol.deposit(mailboxId, [stranger.bytes]))[0].status, 'REFUSED')
    // Validly signed by carol for bob, but sealed to another key: the mailbox cannot tell; bob refuses it.
    const notForBob = await carol.mailbox.protocol.seal(mallory.libp2p.peerId.toString(), [frame('mbx-not-for-bob')])
    const readdressed = await sign(carolKey(carol), {
      ...Envelope.decode(notForBob.bytes),
      recipient: bobId,
      prev: c1.id
    })
    assert.equal((await carol.mailbox.protocol.deposit(mailboxId, [readdressed]))[0].status, 'OK')
    assert.equal(mailbox.mailbox.hold?.heldFor(bobId).count, 5)

    // dave's message expires before bob collects it: dave's next deposit hears GAP and starts over with both.
    await dave.send(bobId, 'mbx-dave-1', { waitMs: 0 })
    const daveDeposited = async (n: number) =>
      (await dave.mailbox.mailbox()).contacts.find((c) => c.peerId === bobId)?.deposited === n
    await waitFor(() => daveDeposited(1), { what: 'dave\'s first message at bob\'s mailbox' })
    assert.equal(mailbox.mailbox.hold?.heldFor(bobId).count, 6)
    skew = 3600_000 + 1000
    // Everyone's envelopes for bob are now over the TTL: mallory's and carol's too. Deposit them again afterwards.
    assert.equal(await mailbox.mailbox.hold?.sweep(), 6)
    skew = 0
    await dave.send(bobId, 'mbx-dave-2', { waitMs: 0 })
    await waitFor(() => daveDeposited(2), { what: 'dave\'s new run at bob\'s mailbox' })
    assert.equal(mailbox.mailbox.hold?.heldFor(bobId).count, 1, 'one envelope, both messages')
    assert.deepEqual((await mallory.mailbox.protocol.deposit(mailboxId, flood)).map((r) => r.status), ['OK', 'OK', 'OK', 'QUOTA'])
    const c1again = await carol.mailbox.protocol.seal(bobId, [frame('mbx-carol-1')])
    const readdressed2 = await sign(carolKey(carol), { ...Envelope.decode(notForBob.bytes), recipient: bobId, prev: c1again.id })
    assert.deepEqual((await carol.mailbox.protocol.deposit(mailboxId, [c1again.bytes, readdressed2])).map((r) => r.status), ['OK', 'OK'])
    assert.equal(mailbox.mailbox.hold?.heldFor(bobId).count, 6)

    // The mailbox restarts: it still holds them all, and none of the texts is on its disk.
    const port = Number(mailboxAddr.split('/')[4])
    await mailbox.stop()
    mailbox = await P2pNode.start(mailboxOptions(mailboxDir, port))
    assert.equal(mailbox.mailbox.hold?.heldFor(bobId).count, 6)
    for (const text of ['mbx-flood-1', 'mbx-carol-1', 'mbx-not-for-bob', 'mbx-dave-1', 'mbx-dave-2']) {
      assert.deepEqual(await filesContaining(mailboxDir, text), [], `"${text}" is on the mailbox's disk`)
    }

    // bob comes back: everything collected once, in order; the forgery that reached him is dropped.
    bob = await P2pNode.start(options(bobDir, 'bob'))
    nodes.push(bob)
    const texts = async (peer: P2pNode) => (await bob.history(peer.libp2p.peerId.toString())).map((m) => m.text)
    await waitFor(async () => mailbox?.mailbox.hold?.heldFor(bobId).count === 0, { what: 'bob collected everything' })
    assert.deepEqual(await texts(mallory), ['mbx-flood-1', 'mbx-flood-2', 'mbx-flood-3'])
    assert.deepEqual(await texts(carol), ['mbx-carol-1'])
    assert.deepEqual(await texts(dave), ['mbx-dave-1', 'mbx-dave-2'])
  })
})

/** A node's private key, for a test that forges what the protocol would never send. */
function carolKey(node: P2pNode): PrivateKey {
  return (node.mailbox as unknown as { deps: { privateKey: PrivateKey } }).deps.privateKey
}
