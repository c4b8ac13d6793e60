import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { MailboxStatus } from '../../src/api/mailbox.ts'
import type { IdInfo, InviteInfo, PeerInfo } from '../../src/api/types.ts'
import { Fleet, type NodeProcess } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--no-web', '--listen', '/ip4/127.0.0.1/tcp/0']

describe('p2pnode mailbox through the CLI', () => {
  const fleet = new Fleet(LOCAL)
  let box: NodeProcess
  let alice: NodeProcess
  let plain: NodeProcess
  let boxAddr: string

  before(async () => {
    box = await fleet.start(await fleet.dir(), ['--name', 'box', '--mailbox-service'])
    alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    plain = await fleet.start(await fleet.dir(), ['--name', 'plain'])
    boxAddr = (await box.json<IdInfo>(['id'])).addrs[0]
  })
  after(() => fleet.close())

  it('shows none, sets a mailbox node, shows it on both sides, removes it', async () => {
    const none = await alice.run(['mailbox'])
    assert.equal(none.code, 0)
    assert.match(none.stdout, /mailbox: none/)
    assert.equal((await alice.json<MailboxStatus>(['mailbox'])).mailbox, null)

    const set = await alice.json<MailboxStatus>(['mailbox', 'set', boxAddr])
    assert.equal(set.mailbox?.peerId, box.peerId)
    assert.equal(set.mailbox?.collected, 0)
    assert.match((await alice.run(['mailbox'])).stdout, new RegExp(`mailbox: box ${box.peerId} \\(connected; last collected`))
    const served = await box.json<MailboxStatus>(['mailbox'])
    assert.equal(served.service?.owners, 1)
    assert.equal(served.service?.ttlMs, 7 * 24 * 3600_000)
    assert.match((await box.run(['mailbox'])).stdout, /serving as a mailbox for 1 peers \(held up to 7 days\)/)

    assert.equal((await alice.json<MailboxStatus>(['mailbox', 'rm'])).mailbox, null)
    assert.match((await alice.run(['mailbox'])).stdout, /mailbox: none/)
  })

  it('refuses a node that runs no mailbox service, saying what to do, and changes nothing', async () => {
    const plainAddr = (await plain.json<IdInfo>(['id'])).addrs[0]
    const res = await alice.run(['mailbox', 'set', plainAddr])
    assert.equal(res.code, 12)
    assert.match(res.stderr, new RegExp(`error: ${plain.peerId} cannot be your mailbox: it runs no mailbox service`))
    assert.match(res.stderr, /hint: run the mailbox node with p2pnode start --mailbox-service/)
    const json = await alice.run(['mailbox', 'set', plainAddr, '--json'])
    assert.equal(json.code, 12)
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'MAILBOX_FAILED')
    assert.equal((await alice.json<MailboxStatus>(['mailbox'])).mailbox, null)
    // A typo is the CLI's usual usage error.
    const usage = await alice.run(['mailbox', 'set'])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /missing required argument 'peer'/)
  })

  it('an invite names the mailbox; dialled while its node is away, it says so, and the peer is remembered with it', async () => {
    const carol = await fleet.start(await fleet.dir(), ['--name', 'carol'])
    await carol.json(['mailbox', 'set', boxAddr])
    const invite = await carol.json<InviteInfo>(['invite'])
    assert.equal(invite.mailbox?.peerId, box.peerId)
    assert.equal(await carol.stop(), 0)

    const text = await plain.run(['dial', invite.invite])
    assert.equal(text.code, 5)
    assert.match(text.stderr, /error: could not reach carol at any address of the invite; carol is remembered/)
    assert.match(text.stderr, /hint: messages you send it \(p2pnode send carol …\) are sealed and left at its mailbox/)
    const json = await plain.run(['dial', invite.invite, '--json'])
    assert.equal(json.code, 5)
    const { error } = JSON.parse(json.stdout) as { error: { code: string; details: unknown } }
    assert.equal(error.code, 'DIAL_FAILED')
    assert.deepEqual(error.details, { peerId: carol.peerId, name: 'carol', remembered: true, mailbox: box.peerId })
    assert.ok((await plain.json<PeerInfo[]>(['peers'])).some((p) => p.peerId === carol.peerId && p.name === 'carol'))
    const sent = await plain.run(['send', 'carol', 'hello while you are away'])
    assert.equal(sent.code, 0, sent.stderr)
    assert.match(sent.stdout, /^pending /)
    const contacts = (await plain.json<MailboxStatus>(['mailbox'])).contacts
    assert.deepEqual(contacts.find((c) => c.peerId === carol.peerId)?.mailbox, box.peerId)
  })
})
