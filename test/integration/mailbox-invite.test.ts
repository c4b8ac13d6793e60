import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { P2pError } from '../../src/errors.ts'
import { P2pNode } from '../../src/node/index.ts'
import { cleanup, tempDir, waitFor } from '../helpers/cli.ts'
import { filesContaining, options } from '../helpers/mailbox.ts'

/** What the DIAL_FAILED of an invite whose peer is away says (see node/refs.ts). */
interface AwayDetails {
  peerId: string
  name: string
  remembered: boolean
  mailbox: string | null
}

describe('mailbox through invites', () => {
  let mailboxDir: string
  let aliceDir: string
  let bobDir: string
  let mailbox: P2pNode
  const nodes: P2pNode[] = []
  const start = async (dir: string, name: string) => {
    const node = await P2pNode.start(options(dir, name))
    nodes.push(node)
    return node
  }
  const deposited = async (from: P2pNode, to: string) =>
    (await from.mailbox.mailbox()).contacts.find((c) => c.peerId === to)?.deposited

  before(async () => {
    ;[mailboxDir, aliceDir, bobDir] = await Promise.all([tempDir(), tempDir(), tempDir()])
    mailbox = await P2pNode.start(options(mailboxDir, 'mailbox', { mailbox: { service: true } }))
  })

  after(async () => {
    for (const n of [...nodes, mailbox]) await n?.stop()
    await cleanup(mailboxDir, aliceDir, bobDir)
  })

  it('each pastes the other\'s invite while the other is stopped; messages both ways arrive once and turn delivered', async () => {
    const mailboxAddr = (await mailbox.id()).addrs[0]
    const mailboxId = mailbox.libp2p.peerId.toString()
    const hold = () => mailbox.mailbox.hold

    // alice names her mailbox, makes her invite, and goes away before bob has it.
    let alice = await start(aliceDir, 'alice')
    const aliceId = alice.libp2p.peerId.toString()
    await alice.mailbox.setMailbox(mailboxAddr)
    const aliceInvite = await alice.invite()
    assert.equal(aliceInvite.mailbox?.peerId, mailboxId)
    await alice.stop()

    // bob does the same, then pastes alice's invite: she is away.
    let bob = await start(bobDir, 'bob')
    const bobId = bob.libp2p.peerId.toString()
    await bob.mailbox.setMailbox(mailboxAddr)
    const bobInvite = await bob.invite()
    await assert.rejects(bob.dial(aliceInvite.invite), (err: P2pError) => {
      assert.equal(err.code, 'DIAL_FAILED')
      assert.match(err.message, /could not reach alice at any address of the invite; alice is remembered/)
      assert.match(err.hint ?? '', /p2pnode send alice .* left at its mailbox/)
      assert.deepEqual(err.details, { peerId: aliceId, name: 'alice', remembered: true, mailbox: mailboxId } satisfies AwayDetails)
      return true
    })
    // By the name in the invite, not only by id.
    assert.equal((await bob.resolve('alice')).peerId, aliceId)
    const sent = await bob.send('alice', 'inv-bob-1 moss on the gatepost', { waitMs: 0 })
    assert.equal(sent.status, 'pending')
    await waitFor(async () => (await deposited(bob, aliceId)) === 1, { what: 'bob\'s message at alice\'s mailbox' })
    assert.equal(hold()?.heldFor(aliceId).count, 1)
    await bob.stop()

    // alice comes back: collects bob's message; pastes bob's invite (he is away); her answer and her ack go to his mailbox.
    alice = await start(aliceDir, 'alice')
    await waitFor(async () => (await alice.history(bobId)).length === 1, { what: 'alice has bob\'s message' })
    await assert.rejects(alice.dial(bobInvite.invite), (err: P2pError) => {
      assert.equal(err.code, 'DIAL_FAILED')
      assert.equal((err.details as AwayDetails).mailbox, mailboxId)
      return true
    })
    await alice.send('bob', 'inv-alice-1 a lamp in the window', { waitMs: 0 })
    await waitFor(async () => (await deposited(alice, bobId)) === 1, { what: 'alice\'s answer at bob\'s mailbox' })
    // The answer and the ack for bob's message, in one run.
    await waitFor(() => hold()?.heldFor(bobId).count, { what: 'envelopes for bob' })
    await alice.stop()

    // bob comes back: his message is delivered (alice's ack), her answer arrives.
    bob = await start(bobDir, 'bob')
    await waitFor(async () => (await bob.history(aliceId)).find((m) => m.direction === 'out')?.status === 'delivered', {
      what: 'bob\'s message delivered'
    })
    await waitFor(async () => (await bob.history(aliceId)).some((m) => m.direction === 'in'), { what: 'bob has alice\'s answer' })
    await waitFor(() => hold()?.heldFor(aliceId).count, { what: 'bob\'s ack at alice\'s mailbox' })
    const bobSees = await bob.history(aliceId)
    await bob.stop()

    // alice once more: her answer is delivered; each message is there once.
    alice = await start(aliceDir, 'alice')
    await waitFor(async () => (await alice.store.outboxSize(bobId)) === 0, { what: 'alice\'s answer delivered' })
    const aliceSees = await alice.history(bobId)
    await alice.stop()
    assert.deepEqual(bobSees.map((m) => [m.direction, m.text]), [
      ['out', 'inv-bob-1 moss on the gatepost'],
      ['in', 'inv-alice-1 a lamp in the window']
    ])
    assert.deepEqual(aliceSees.map((m) => [m.direction, m.text]), [
      ['in', 'inv-bob-1 moss on the gatepost'],
      ['out', 'inv-alice-1 a lamp in the window']
    ])
    assert.equal(aliceSees.find((m) => m.direction === 'out')?.status, 'delivered')
    assert.equal(aliceSees.find((m) => m.direction === 'in')?.id, sent.id)
    assert.equal(hold()?.heldFor(aliceId).count, 0)
    assert.equal(hold()?.heldFor(bobId).count, 0)
    for (const text of ['moss on the gatepost', 'a lamp in the window']) {
      assert.deepEqual(await filesContaining(mailboxDir, text), [], `"${text}" is on the mailbox's disk`)
    }
  })

  it('a mailbox told later over chat replaces the one in the invite', async () => {
    const [boxDir, eveDir, frankDir] = [await tempDir(), await tempDir(), await tempDir()]
    try {
      // Its own mailbox node: libp2p resets a sixth inbound connection within a second from one host (127.0.0.1
      // here), and the test before this one has just connected to the other one many times.
      const box = await P2pNode.start(options(boxDir, 'box', { mailbox: { service: true } }))
      nodes.push(box)
      let eve = await start(eveDir, 'eve')
      const eveId = eve.libp2p.peerId.toString()
      await eve.mailbox.setMailbox((await box.id()).addrs[0])
      const invite = await eve.invite()
      // eve stops using it, and is away when frank pastes her (now old) invite.
      await eve.mailbox.removeMailbox()
      await eve.stop()
      const frank = await start(frankDir, 'frank')
      await assert.rejects(frank.dial(invite.invite), { code: 'DIAL_FAILED' })
      const told = async () => (await frank.mailbox.mailbox()).contacts.find((c) => c.peerId === eveId)?.mailbox
      assert.equal(await told(), box.libp2p.peerId.toString())
      // They meet: her greeting says she has none.
      eve = await start(eveDir, 'eve')
      await eve.dial((await frank.id()).addrs[0])
      await waitFor(() => frank.chat.greeted(eveId), { what: 'eve greeted frank' })
      await waitFor(async () => (await told()) == null, { what: 'frank forgot the invite\'s mailbox' })
    } finally {
      for (const n of nodes.splice(0)) await n.stop()
      await cleanup(boxDir, eveDir, frankDir)
    }
  })
})
