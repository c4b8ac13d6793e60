/**
 * Visibility on a LAN of four netns hosts (see /work/shared/docs/netns-lan.md), nodes found by mDNS alone:
 * - alice is contacts-only, with carol as her contact: a stranger (eve) never finds her, carol and she still
 *   connect and chat; eve, even with her address, cannot connect.
 * - bob is hidden: he sends nothing on the LAN (an mDNS listener on eve's host hears every packet), nobody finds
 *   him, and messages wait both ways (his to carol, carol's to him) until he runs `visibility everyone`, when both
 *   go out at once, exactly once.
 * - Switching takes effect at once, with no restart: alice going hidden drops her contact, going to everyone
 *   makes her discoverable and delivers what waited.
 * Every "is never seen" check is bounded and runs while discovery is shown to work on the same LAN.
 *
 * Needs root and iproute2; otherwise the suite is skipped with the reason.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { cleanup, NodeProcess, tempDir, waitFor, holds } from '../helpers/cli.ts'
import { MdnsSniffer, NetnsLan, netnsSkipReason } from '../helpers/netns.ts'
import type { ContactInfo, HistoryEntry, IdInfo, PeerInfo, SendResult, Visibility } from '../../src/api/types.ts'

const SKIP = netnsSkipReason()

/** How long a "never happens" check watches (several mDNS rounds of 1 s and reconnect passes of 3 s). */
const WINDOW_MS = 5000
/** Bound on anything that should happen within a few mDNS rounds. */
const SOON_MS = 20_000

describe('visibility on a netns LAN: contacts-only and hidden nodes', { skip: SKIP ?? false }, () => {
  // Hosts 10.77.1.x: apart from lan.test.ts (10.77.0.x), so the two files may run at once.
  const lan = new NetnsLan({ subnet: '10.77.1', names: ['alice', 'bob', 'carol', 'eve'], tag: 'v' })
  const [ALICE, BOB, CAROL, EVE] = [0, 1, 2, 3]
  const START_VISIBILITY: Array<Visibility | undefined> = ['contacts', 'hidden', undefined, undefined]
  const nodes: NodeProcess[] = []
  const dirs: string[] = []
  const sniffer = new MdnsSniffer()
  const ipOf = (i: number) => lan.hosts[i].ip
  const tag = randomBytes(3).toString('hex')
  const name = (i: number) => lan.hosts[i].name

  const peersOf = (i: number) => nodes[i].json<PeerInfo[]>(['peers'])
  const historyOf = (i: number, j: number) =>
    nodes[i].json<HistoryEntry[]>(['history', nodes[j].peerId, '--limit', '100'])
  const visibility = (i: number, level?: Visibility) =>
    nodes[i].json<{ visibility: Visibility }>(['visibility', ...(level != null ? [level] : [])])
  const send = (i: number, ref: string, text: string) => nodes[i].json<SendResult>(['send', ref, text])

  /** Does node i list node j (optionally: connected, and under j's name)? */
  async function lists(i: number, j: number, want: { connected?: boolean; named?: boolean } = {}) {
    const p = (await peersOf(i)).find((x) => x.peerId === nodes[j].peerId)
    if (p == null) return false
    if (want.connected != null && p.connected !== want.connected) return false
    if (want.named === true && p.name !== name(j)) return false
    return true
  }

  /** Wait until node i lists node j as wanted. */
  const until = (i: number, j: number, want: { connected?: boolean; named?: boolean }, what: string) =>
    waitFor(() => lists(i, j, want), { timeout: SOON_MS, interval: 200, what: `${name(i)} ${what} ${name(j)}` })

  /** Assert that node i does not list node j at all. */
  async function unseen(i: number, j: number) {
    const peers = await peersOf(i)
    assert.ok(
      !peers.some((p) => p.peerId === nodes[j].peerId),
      `${name(i)} must not know ${name(j)}: ${JSON.stringify(peers)}`
    )
  }

  /** The one message with `id` in `history`, checked against what it should be. */
  function one(history: HistoryEntry[], id: string, want: Partial<HistoryEntry>): HistoryEntry {
    const found = history.filter((m) => m.id === id)
    assert.equal(found.length, 1, `message ${id} exactly once: ${JSON.stringify(history)}`)
    for (const [k, v] of Object.entries(want)) assert.equal(found[0][k as keyof HistoryEntry], v, `${k} of ${id}`)
    return found[0]
  }

  before(async () => {
    await lan.up()
    // Before any node starts: it hears everything each host sends.
    await sniffer.start(lan.prefix(EVE), ipOf(EVE))
    // Record each node as soon as it is up, so `after` stops it even if another one fails to start.
    await Promise.all(
      lan.hosts.map(async (h, i) => {
        const dir = await tempDir(`p2pnode-vis-${h.name}-`)
        dirs.push(dir)
        const v = START_VISIBILITY[i]
        // No --dial: discovery is by mDNS alone.
        nodes[i] = await NodeProcess.start(
          dir,
          ['--name', h.name, '--listen', `/ip4/${h.ip}/tcp/0`, ...(v != null ? ['--visibility', v] : [])],
          { prefix: lan.prefix(i), timeout: 30_000 }
        )
      })
    )
    // carol is alice's contact (by peer id, under alice's own name for her).
    const added = await nodes[ALICE].json<ContactInfo>(['contacts', 'add', nodes[CAROL].peerId, '--name', 'carol'])
    assert.equal(added.peerId, nodes[CAROL].peerId)
    assert.equal(added.name, 'carol')
  })

  after(async () => {
    sniffer.stop()
    await Promise.allSettled(nodes.filter((n) => n != null).map((n) => n.stop()))
    await lan.down()
    await cleanup(...dirs)
  })

  it('visibility --json reports the level each node was started with', async () => {
    const want: Visibility[] = ['contacts', 'hidden', 'everyone', 'everyone']
    for (const i of nodes.keys()) {
      const v = await visibility(i)
      assert.deepEqual(v, { visibility: want[i] }, name(i))
    }
  })

  it('a stranger finds neither the contacts-only nor the hidden node, while discovery works', async () => {
    // Positive controls: eve and carol (both visible) find each other and connect; alice, asking but not
    // answering, hears both of them. mDNS flows between the hosts on this LAN. (Hidden bob does not even listen.)
    await Promise.all([
      until(EVE, CAROL, { connected: true, named: true }, 'to find and connect to'),
      until(CAROL, EVE, { connected: true, named: true }, 'to find and connect to'),
      until(ALICE, EVE, {}, 'to hear mDNS answers from'),
      until(ALICE, CAROL, {}, 'to hear mDNS answers from')
    ])
    // Now, for several mDNS rounds: eve never learns of alice or bob; carol never of bob; alice and bob never of
    // each other; nobody reaches bob.
    await holds(WINDOW_MS, async () => {
      await Promise.all([
        unseen(EVE, ALICE),
        unseen(EVE, BOB),
        unseen(CAROL, BOB),
        unseen(ALICE, BOB),
        unseen(BOB, ALICE),
        (async () => {
          const alicePeers = await peersOf(ALICE)
          const eve = alicePeers.find((p) => p.peerId === nodes[EVE].peerId)
          assert.equal(eve?.connected, false, `alice hears eve but must not connect: ${JSON.stringify(eve)}`)
        })(),
        (async () => {
          const bobPeers = await peersOf(BOB)
          assert.ok(
            bobPeers.every((p) => !p.connected),
            `hidden bob is connected to nobody: ${JSON.stringify(bobPeers)}`
          )
        })()
      ])
    })
    // Still true at the end of the window: eve and carol remain connected.
    assert.ok(await lists(EVE, CAROL, { connected: true }), 'eve still connected to carol')
  })

  it('on the wire: the hidden node sends no mDNS at all, the contacts-only node asks but never answers', async () => {
    // Everything eve's host heard since before the nodes started (a dozen mDNS rounds and more).
    const [alice, bob, carol] = [ipOf(ALICE), ipOf(BOB), ipOf(CAROL)].map((ip) => sniffer.from(ip))
    assert.ok(carol.queries > 0 && carol.answers > 0, `carol (everyone) asks and answers: ${JSON.stringify(carol)}`)
    assert.ok(alice.queries > 0, `alice (contacts) asks: ${JSON.stringify(alice)}`)
    assert.equal(alice.answers, 0, 'alice (contacts) answers nobody')
    assert.deepEqual(bob, { queries: 0, answers: 0 }, 'bob (hidden) sends nothing')
  })

  it('the contacts-only node connects to its contact, and they chat both ways', async () => {
    await Promise.all([
      until(ALICE, CAROL, { connected: true, named: true }, 'to connect to its contact'),
      until(CAROL, ALICE, { connected: true, named: true }, 'to be reached by its contact')
    ])
    const contacts = await nodes[ALICE].json<ContactInfo[]>(['contacts'])
    assert.equal(contacts.length, 1, JSON.stringify(contacts))
    assert.equal(contacts[0].peerId, nodes[CAROL].peerId)
    assert.equal(contacts[0].name, 'carol')
    assert.equal(contacts[0].connected, true)
    assert.equal(contacts[0].blocked, false)
    assert.equal(contacts[0].muted, false)

    const a2c = await send(ALICE, 'carol', `${tag} alice->carol`)
    assert.equal(a2c.status, 'delivered')
    const c2a = await send(CAROL, nodes[ALICE].peerId, `${tag} carol->alice`)
    assert.equal(c2a.status, 'delivered')

    for (const [i, j] of [
      [ALICE, CAROL],
      [CAROL, ALICE]
    ]) {
      const h = await historyOf(i, j)
      assert.equal(h.length, 2, `${name(i)}'s history with ${name(j)}: ${JSON.stringify(h)}`)
      const out = i === ALICE ? a2c : c2a
      const inc = i === ALICE ? c2a : a2c
      one(h, out.id, { direction: 'out', status: 'delivered', from: nodes[i].peerId, to: nodes[j].peerId })
      one(h, inc.id, { direction: 'in', status: 'received', from: nodes[j].peerId, to: nodes[i].peerId })
    }
    // Chatting with a contact does not make alice visible to strangers.
    await unseen(EVE, ALICE)
  })

  it('a stranger who knows the address still cannot connect to the contacts-only node', async () => {
    const id = await nodes[ALICE].json<IdInfo>(['id'])
    const addr = id.addrs.find((a) => a.startsWith(`/ip4/${lan.hosts[ALICE].ip}/tcp/`))
    assert.ok(addr != null, `alice listens on her LAN address: ${id.addrs.join(' ')}`)
    const ma = addr.includes('/p2p/') ? addr : `${addr}/p2p/${nodes[ALICE].peerId}`
    const res = await nodes[EVE].run(['dial', ma, '--json'])
    assert.notEqual(res.code, 0, `eve's dial to alice must fail: ${res.stdout}${res.stderr}`)
    assert.match(res.stderr + res.stdout, /DIAL_FAILED|could not reach/, 'a dial failure, not some other error')
    await holds(2000, async () => {
      const [eveToAlice, aliceToEve] = await Promise.all([
        lists(EVE, ALICE, { connected: true }),
        lists(ALICE, EVE, { connected: true })
      ])
      assert.equal(eveToAlice, false, 'eve is not connected to alice')
      assert.equal(aliceToEve, false, 'alice is not connected to eve')
    })
  })

  const queued = { b2c: '', c2b: '' }

  it('the hidden node queues messages both ways', async () => {
    // Each knows the other's peer id from `id --json`, as if exchanged in person.
    const bobId = (await nodes[BOB].json<IdInfo>(['id'])).peerId
    const carolId = (await nodes[CAROL].json<IdInfo>(['id'])).peerId
    assert.equal(bobId, nodes[BOB].peerId)
    assert.equal(carolId, nodes[CAROL].peerId)

    const b2c = await send(BOB, carolId, `${tag} bob->carol (queued)`)
    assert.equal(b2c.status, 'pending', 'hidden bob dials nobody')
    const c2b = await send(CAROL, bobId, `${tag} carol->bob (queued)`)
    assert.equal(c2b.status, 'pending', 'carol cannot reach hidden bob')
    queued.b2c = b2c.id
    queued.c2b = c2b.id

    // Longer than a reconnect pass (3 s) and several mDNS rounds: both stay pending, nothing arrives.
    await holds(WINDOW_MS, async () => {
      const [hb, hc] = await Promise.all([historyOf(BOB, CAROL), historyOf(CAROL, BOB)])
      assert.equal(hb.length, 1, `bob's history: ${JSON.stringify(hb)}`)
      one(hb, b2c.id, { direction: 'out', status: 'pending' })
      assert.equal(hc.length, 1, `carol's history: ${JSON.stringify(hc)}`)
      one(hc, c2b.id, { direction: 'out', status: 'pending' })
      assert.equal(await lists(CAROL, BOB, { connected: true }), false, 'carol is not connected to bob')
      await unseen(EVE, BOB)
    })
  })

  it('`visibility everyone` on the hidden node delivers both at once, exactly once, and makes it discoverable', async () => {
    assert.ok(queued.b2c !== '' && queued.c2b !== '', 'messages were queued')
    assert.deepEqual(await visibility(BOB, 'everyone'), { visibility: 'everyone' })
    assert.deepEqual(await visibility(BOB), { visibility: 'everyone' })

    await waitFor(
      async () => {
        const [hb, hc] = await Promise.all([historyOf(BOB, CAROL), historyOf(CAROL, BOB)])
        return (
          hb.some((m) => m.id === queued.b2c && m.status === 'delivered') &&
          hb.some((m) => m.id === queued.c2b) &&
          hc.some((m) => m.id === queued.c2b && m.status === 'delivered') &&
          hc.some((m) => m.id === queued.b2c)
        )
      },
      { timeout: SOON_MS, interval: 200, what: 'both queued messages to be delivered' }
    )
    const [hb, hc] = await Promise.all([historyOf(BOB, CAROL), historyOf(CAROL, BOB)])
    assert.equal(hb.length, 2, `bob's history: ${JSON.stringify(hb)}`)
    one(hb, queued.b2c, { direction: 'out', status: 'delivered', text: `${tag} bob->carol (queued)` })
    one(hb, queued.c2b, { direction: 'in', status: 'received', text: `${tag} carol->bob (queued)` })
    assert.equal(hc.length, 2, `carol's history: ${JSON.stringify(hc)}`)
    one(hc, queued.c2b, { direction: 'out', status: 'delivered', text: `${tag} carol->bob (queued)` })
    one(hc, queued.b2c, { direction: 'in', status: 'received', text: `${tag} bob->carol (queued)` })

    // The control for the earlier "never found": bob now answers mDNS. alice (contacts-only) dials no stranger
    // and lets none in, so she can only know bob from his mDNS answers; eve and he connect.
    await until(ALICE, BOB, { connected: false }, 'to hear mDNS answers from')
    await until(EVE, BOB, { connected: true, named: true }, 'to find and connect to')
  })

  it('switching is immediate: everyone → hidden drops every connection', async () => {
    assert.ok(await lists(BOB, CAROL, { connected: true }), 'bob starts connected to carol')
    assert.deepEqual(await visibility(BOB, 'hidden'), { visibility: 'hidden' })
    await waitFor(async () => (await peersOf(BOB)).every((p) => !p.connected), {
      timeout: SOON_MS,
      interval: 200,
      what: 'bob, hidden again, to be connected to nobody'
    })
    // From the switch on, bob is silent on the LAN (after any packet already on its way).
    await new Promise((resolve) => setTimeout(resolve, 200))
    const before = sniffer.from(ipOf(BOB))
    assert.ok(before.answers > 0, 'bob answered while visible (the control)')
    await holds(2000, async () => {
      const peers = await peersOf(BOB)
      assert.ok(peers.every((p) => !p.connected), `hidden bob stays unconnected: ${JSON.stringify(peers)}`)
      assert.deepEqual(sniffer.from(ipOf(BOB)), before, 'hidden bob sends no mDNS')
    })
  })

  it('switching is immediate: contacts-only → hidden drops the contact, → everyone delivers and is found', async () => {
    assert.ok(await lists(ALICE, CAROL, { connected: true }), 'alice starts connected to carol')
    assert.deepEqual(await visibility(ALICE, 'hidden'), { visibility: 'hidden' })
    await Promise.all([
      until(ALICE, CAROL, { connected: false }, 'to drop'),
      until(CAROL, ALICE, { connected: false }, 'to be dropped by')
    ])

    const a2c = await send(ALICE, 'carol', `${tag} alice->carol (while hidden)`)
    assert.equal(a2c.status, 'pending')
    const c2a = await send(CAROL, nodes[ALICE].peerId, `${tag} carol->alice (while alice hidden)`)
    assert.equal(c2a.status, 'pending')
    await holds(3500, async () => {
      const h = await historyOf(CAROL, ALICE)
      one(h, c2a.id, { status: 'pending' })
      assert.ok(!h.some((m) => m.id === a2c.id), `nothing from hidden alice reached carol: ${JSON.stringify(h)}`)
      assert.equal(await lists(CAROL, ALICE, { connected: true }), false, 'carol is not connected to alice')
    })

    // Counted before the switch: alice announces herself on it (and answers only those who do not know her yet).
    const answered = sniffer.from(ipOf(ALICE)).answers
    assert.deepEqual(await visibility(ALICE, 'everyone'), { visibility: 'everyone' })
    await waitFor(
      async () => {
        const [ha, hc] = await Promise.all([historyOf(ALICE, CAROL), historyOf(CAROL, ALICE)])
        return (
          ha.some((m) => m.id === a2c.id && m.status === 'delivered') &&
          hc.some((m) => m.id === c2a.id && m.status === 'delivered') &&
          ha.some((m) => m.id === c2a.id) &&
          hc.some((m) => m.id === a2c.id)
        )
      },
      { timeout: SOON_MS, interval: 200, what: "alice's and carol's waiting messages to be delivered" }
    )
    const [ha, hc] = await Promise.all([historyOf(ALICE, CAROL), historyOf(CAROL, ALICE)])
    assert.equal(ha.length, 4, `alice's history: ${JSON.stringify(ha)}`)
    assert.equal(hc.length, 4, `carol's history: ${JSON.stringify(hc)}`)
    one(ha, c2a.id, { direction: 'in', status: 'received' })
    one(hc, a2c.id, { direction: 'in', status: 'received' })

    // The control for the earlier "never found": alice now answers mDNS, and the stranger eve finds and reaches her.
    await waitFor(async () => sniffer.from(ipOf(ALICE)).answers > answered, {
      timeout: SOON_MS,
      interval: 200,
      what: 'alice to answer mDNS'
    })
    await until(EVE, ALICE, { connected: true, named: true }, 'to find and connect to')
  })
})
