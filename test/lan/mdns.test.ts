/**
 * p2pnode's mDNS on the wire (RFC 6762 / 6763), on a netns LAN: two nodes (alice, bob) and a host (pat) with an
 * mDNS client of its own (multicast-dns, as other software would be), which hears every packet and asks and
 * answers as told.
 * - Once the nodes know each other the LAN goes quiet: queries back off and carry known answers, nobody answers
 *   what the asker knows (nor its own queries).
 * - An answer carries PTR + SRV + TXT + A (resolvable by DNS-SD browsers), no loopback address, in one packet;
 *   SRV and A queries alone are answered; a query that already knows a node's record is not answered by it.
 * - An answer with two instances gives two peers, each with its own address.
 * - A network change makes a node ask and announce again at once; stop says goodbye (TTL 0).
 * - A p2pnode 0.1 node (@libp2p/mdns) and this version find each other.
 *
 * Needs root and iproute2; otherwise the suite is skipped with the reason.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { IdInfo, PeerInfo } from '../../src/api/types.ts'
import { cleanup, NodeProcess, tempDir, waitFor } from '../helpers/cli.ts'
import { type HeardPacket, MdnsProbe } from '../helpers/mdns-probe.ts'
import { NetnsLan, netnsSkipReason } from '../helpers/netns.ts'

const SKIP = netnsSkipReason()
const execFileP = promisify(execFile)
const SERVICE = '_p2pnode._udp.local'
const MDNS_HOST = fileURLToPath(new URL('../helpers/mdns-host.js', import.meta.url))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('mDNS on the wire: quiet, resolvable, goodbyes', { skip: SKIP ?? false }, () => {
  const lan = new NetnsLan({ subnet: '10.77.7', names: ['alice', 'bob', 'pat'], tag: 'm' })
  const [ALICE, BOB, PAT] = [0, 1, 2]
  const ip = (i: number) => lan.hosts[i].ip
  const probe = new MdnsProbe()
  const nodes: NodeProcess[] = []
  const dirs: string[] = []
  let started = 0
  /** When the last node was ready (its mDNS started before that). */
  let ready = 0

  const peersOf = (i: number) => nodes[i].json<PeerInfo[]>(['peers'])
  /** Records of a response, answers and additionals. */
  const records = (p: HeardPacket) => [...p.answers, ...p.additionals]

  before(async () => {
    await lan.up()
    await probe.start(lan.prefix(PAT))
    started = Date.now()
    for (const i of [ALICE, BOB]) {
      dirs.push(await tempDir(`p2pnode-mdns-${lan.hosts[i].name}-`))
      nodes[i] = await NodeProcess.start(
        dirs[i],
        ['--name', lan.hosts[i].name, '--listen', `/ip4/${ip(i)}/tcp/0`, '--listen', '/ip4/127.0.0.1/tcp/0'],
        { prefix: lan.prefix(i), timeout: 30_000 }
      )
    }
    ready = Date.now()
  })
  after(async () => {
    probe.stop()
    await Promise.allSettled(nodes.map((n) => n.stop()))
    await lan.down()
    await cleanup(...dirs)
  })

  it('finds each other, announces itself on start, then the LAN goes quiet', async () => {
    await waitFor(
      async () =>
        (await peersOf(ALICE)).some((p) => p.peerId === nodes[BOB].peerId && p.connected) &&
        (await peersOf(BOB)).some((p) => p.peerId === nodes[ALICE].peerId && p.connected),
      { timeout: 20_000, interval: 200, what: 'alice and bob to find each other' }
    )
    for (const i of [ALICE, BOB]) {
      const unasked = probe.from(ip(i), { type: 'response', since: started })
      assert.ok(unasked.length >= 1, `${lan.hosts[i].name} announced itself (pat asked nothing)`)
    }
    // From 3 s after the last start on, for 6 s: each asks at most twice (queries at +0, +1, +3, +7, +15 s from its
    // start), and nobody answers, as each query carries the other's record (and the asker's own) as known answers.
    const from = Math.max(Date.now(), ready + 3000)
    await sleep(from + 6000 - Date.now())
    for (const i of [ALICE, BOB]) {
      const queries = probe.from(ip(i), { type: 'query', since: from }).filter((p) => p.at < from + 6000)
      const answers = probe.from(ip(i), { type: 'response', since: from }).filter((p) => p.at < from + 6000)
      assert.ok(queries.length <= 2, `${lan.hosts[i].name} backs off: ${queries.length} queries in 6 s`)
      assert.equal(answers.length, 0, `${lan.hosts[i].name} answers nothing known: ${JSON.stringify(answers)}`)
      const known = queries.flatMap((q) => q.answers.map((a) => String(a.data)))
      const other = nodes[i === ALICE ? BOB : ALICE].peerId
      for (const q of queries) {
        const names = q.answers.map((a) => String(a.data))
        assert.ok(names.includes(`${other}.${SERVICE}`), `the query carries the other's PTR: ${JSON.stringify(q)}`)
        assert.ok(names.includes(`${nodes[i].peerId}.${SERVICE}`), 'and its own')
      }
      assert.ok(queries.length === 0 || known.length > 0)
    }
  })

  it('answers with PTR, SRV, TXT and A in one packet, no loopback address, and resolves SRV and A', async () => {
    const alice = nodes[ALICE]
    const port = Number(
      /\/tcp\/(\d+)/.exec((await alice.json<IdInfo>(['id'])).addrs.find((a) => a.includes(ip(ALICE))) ?? '')?.[1]
    )
    const since = await probe.send({ type: 'query', questions: [{ name: SERVICE, type: 'PTR' }] })
    const answer = await waitFor(() => probe.from(ip(ALICE), { type: 'response', since })[0], {
      timeout: 3000,
      what: "alice's answer"
    })
    const instance = `${alice.peerId}.${SERVICE}`
    const ptr = answer.answers.find((r) => r.type === 'PTR')
    assert.equal(ptr?.name, SERVICE)
    assert.equal(ptr?.data, instance)
    const srv = answer.additionals.find((r) => r.type === 'SRV' && r.name === instance)
    assert.ok(srv != null, `an SRV record: ${JSON.stringify(answer)}`)
    const srvData = srv.data as { port: number; target: string }
    assert.equal(srvData.port, port)
    const a = answer.additionals.filter((r) => r.type === 'A' && r.name === srvData.target)
    assert.deepEqual(
      a.map((r) => r.data),
      [ip(ALICE)],
      'A records for the SRV target: the LAN address only'
    )
    const txt = answer.additionals.filter((r) => r.type === 'TXT' && r.name === instance)
    assert.equal(txt.length, 1, 'one TXT record')
    const strings = txt[0].data as string[]
    assert.deepEqual(strings, [`dnsaddr=/ip4/${ip(ALICE)}/tcp/${port}/p2p/${alice.peerId}`])
    assert.ok(!JSON.stringify(answer).includes('127.0.0.1'), 'no loopback address on the LAN')
    assert.ok(answer.bytes > 0 && answer.bytes <= 1400, `one unfragmented packet: ${answer.bytes} bytes`)

    // A DNS-SD browser resolves the instance (SRV) and the host (A) on their own.
    const s2 = await probe.send({ type: 'query', questions: [{ name: instance, type: 'SRV' }] })
    const srvAnswer = await waitFor(() => probe.from(ip(ALICE), { type: 'response', since: s2 })[0], {
      timeout: 3000,
      what: "alice's SRV answer"
    })
    assert.ok(srvAnswer.answers.some((r) => r.type === 'SRV' && r.name === instance))
    const s3 = await probe.send({ type: 'query', questions: [{ name: srvData.target, type: 'A' }] })
    const aAnswer = await waitFor(
      () => probe.packets.find((p) => p.from === ip(ALICE) && p.at >= s3 && p.type === 'response'),
      { timeout: 3000, what: "alice's A answer" }
    )
    assert.deepEqual(
      aAnswer.answers.filter((r) => r.type === 'A').map((r) => r.data),
      [ip(ALICE)]
    )
  })

  it("does not answer a query that already knows its record; the others still answer", async () => {
    await sleep(1100) // past the once-a-second limit of the last answers
    const since = await probe.send({
      type: 'query',
      questions: [{ name: SERVICE, type: 'PTR' }],
      answers: [{ name: SERVICE, type: 'PTR', class: 'IN', ttl: 4500, data: `${nodes[ALICE].peerId}.${SERVICE}` }]
    })
    await waitFor(() => probe.from(ip(BOB), { type: 'response', since }).length > 0, {
      timeout: 3000,
      what: 'bob to answer (the control)'
    })
    await sleep(1500)
    assert.deepEqual(probe.from(ip(ALICE), { type: 'response', since }), [], 'alice is known: she does not answer')
  })

  it('an answer with two instances gives two peers, each with its own address', async () => {
    const [p1, p2] = await Promise.all([1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
    const rec = (id: string, port: number) => [
      { name: `${id}.${SERVICE}`, type: 'TXT' as const, ttl: 120, data: [`dnsaddr=/ip4/${ip(PAT)}/tcp/${port}/p2p/${id}`] }
    ]
    await probe.send({
      type: 'response',
      answers: [
        { name: SERVICE, type: 'PTR', ttl: 120, data: `${p1.toString()}.${SERVICE}` },
        { name: SERVICE, type: 'PTR', ttl: 120, data: `${p2.toString()}.${SERVICE}` }
      ],
      additionals: [...rec(p1.toString(), 1111), ...rec(p2.toString(), 2222)]
    })
    const peers = await waitFor(
      async () => {
        const list = await peersOf(ALICE)
        const a = list.find((p) => p.peerId === p1.toString())
        const b = list.find((p) => p.peerId === p2.toString())
        return a != null && b != null ? { a, b } : undefined
      },
      { timeout: 5000, what: 'alice to list both instances' }
    )
    assert.deepEqual(peers.a.addrs, [`/ip4/${ip(PAT)}/tcp/1111`])
    assert.deepEqual(peers.b.addrs, [`/ip4/${ip(PAT)}/tcp/2222`])
  })

  it('asks and announces again at once on a network change', async () => {
    const extra = `${lan.hosts[ALICE].ip.replace(/\.\d+$/, '')}.50`
    // Quiet before: nobody asks alice anything she does not know, so she sends no response.
    const quiet = Date.now()
    await sleep(2000)
    assert.deepEqual(probe.from(ip(ALICE), { type: 'response', since: quiet }), [], 'alice is quiet before the change')
    const since = Date.now()
    await execFileP('ip', ['-n', lan.hosts[ALICE].ns, 'addr', 'add', `${extra}/24`, 'dev', 'eth0'])
    const aliceIps = [ip(ALICE), extra]
    // Noticed within the 5 s interface check, long before the next backed-off query (16 s or more by now).
    await waitFor(
      () =>
        probe.from(aliceIps, { type: 'query', since }).length > 0 &&
        probe.from(aliceIps, { type: 'response', since }).length > 0,
      { timeout: 8000, interval: 100, what: 'alice to query and announce after the change' }
    )
  })

  it('p2pnode 0.1 (@libp2p/mdns) and this version find each other', async () => {
    // A 0.1-style node on pat's host: @libp2p/mdns as 0.1 ran it, with pat's address.
    const [cmd, ...args] = [...lan.prefix(PAT), process.execPath, MDNS_HOST, 'libp2p-mdns', ip(PAT)]
    const old = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines: string[] = []
    createInterface({ input: old.stdout }).on('line', (line) => lines.push(line))
    try {
      const oldId = await waitFor(() => /^id (\S+)$/m.exec(lines.join('\n'))?.[1], { what: 'the 0.1 node to start' })
      await waitFor(() => lines.some((l) => l.endsWith(` ${nodes[ALICE].peerId}`)), {
        timeout: 10_000,
        what: 'the 0.1 node to find alice'
      })
      const seen = await waitFor(async () => (await peersOf(ALICE)).find((p) => p.peerId === oldId), {
        timeout: 10_000,
        what: 'alice to find the 0.1 node'
      })
      assert.deepEqual(seen.addrs, [`/ip4/${ip(PAT)}/tcp/4001`])
    } finally {
      old.stdin.end()
      old.kill()
    }
  })

  it('says goodbye (TTL 0) when it stops', async () => {
    const since = Date.now()
    assert.equal(await nodes[BOB].stop(), 0)
    const bye = await waitFor(
      () =>
        probe
          .from(ip(BOB), { type: 'response', since })
          .find((p) => records(p).some((r) => r.type === 'PTR' && r.ttl === 0)),
      { timeout: 3000, what: `a goodbye from bob: ${JSON.stringify(probe.from(ip(BOB), { since }))}` }
    )
    assert.ok(records(bye).every((r) => r.ttl === 0), 'every record of the goodbye has TTL 0')
  })
})
