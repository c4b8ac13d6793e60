/**
 * Paths through a relay (issue 12), in one process on loopback: a relay node, and pairs of nodes that reach each
 * other relayed (the dialler has no relay of its own, so it never tries WebRTC) or over WebRTC (both have the relay;
 * the dialler upgrades). Loopback has no NAT: what is measured is the cost of each path's machinery (an extra hop
 * through the relay process; DTLS/SCTP data channels), not of a real network. Start → reachable is a spawned
 * `p2pnode start --relay` until `relay ls` shows its circuit address.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiClient } from '../src/api/client.ts'
import { dataPaths } from '../src/node/data-dir.ts'
import { P2pNode } from '../src/node/index.ts'
import { BIN, cleanup, NODE, tempDir, waitFor } from '../test/helpers/cli.ts'
import { pct, type Row } from './stats.ts'

const LATENCY_N = 300
const FILE_MIB = { relayed: 1, direct: 20 }
const STARTS = 3

function ms(n: number): string {
  return `${n.toFixed(2)} ms`
}

async function sendAck(a: P2pNode, peer: string, n: number): Promise<number[]> {
  const text = 'x'.repeat(64)
  const once = async () => {
    const m = await a.chat.send(peer, text)
    await a.chat.waitForDelivery(peer, m.id)
  }
  for (let i = 0; i < 30; i++) await once()
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await once()
    out.push(performance.now() - t)
  }
  return out.sort((x, y) => x - y)
}

/** MB/s of one file of `mib` MiB from a to b (b accepts: it wrote to a first). */
async function fileRate(a: P2pNode, b: P2pNode, dir: string, mib: number): Promise<number> {
  const file = join(dir, `f-${mib}.bin`)
  await writeFile(file, randomBytes(mib * 1024 * 1024))
  const t = performance.now()
  const sent = await a.files.send(b.libp2p.peerId.toString(), file)
  await waitFor(async () => (await b.files.get(sent.id))?.status === 'complete', {
    timeout: 300_000,
    interval: 20,
    what: 'the file'
  })
  return (mib * 1024 * 1024) / 1e6 / ((performance.now() - t) / 1000)
}

async function startToReachable(relayAddr: string): Promise<number> {
  const dir = await tempDir('p2pnode-bench-reach-')
  const t = performance.now()
  const child = spawn(
    NODE,
    [BIN, 'start', '--data', dir, '--no-mdns', '--no-web', '--listen', '/ip4/127.0.0.1/tcp/0', '--relay', relayAddr],
    { stdio: ['ignore', 'ignore', 'ignore'] }
  )
  const client = new ApiClient(dataPaths(dir).socket, dir)
  try {
    await waitFor(async () => (await client.relays()).some((r) => r.circuitAddrs.length > 0), {
      timeout: 60_000,
      interval: 10,
      what: 'a reservation'
    })
    return performance.now() - t
  } finally {
    await client.close()
    child.kill('SIGTERM')
    await new Promise((resolve) => child.on('exit', resolve))
    await cleanup(dir)
  }
}

export async function reachBench(): Promise<Row[]> {
  const dirs: string[] = []
  const nodes: P2pNode[] = []
  const start = async (name: string, extra: Partial<Parameters<typeof P2pNode.start>[0]> = {}) => {
    const dir = await tempDir(`p2pnode-bench-${name}-`)
    dirs.push(dir)
    const node = await P2pNode.start({ dataDir: dir, name, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, ...extra })
    nodes.push(node)
    return node
  }
  const rows: Row[] = []
  try {
    const relay = await start('relay', { relayService: true })
    const relayAddr = `${relay.libp2p.getMultiaddrs()[0].toString()}`
    const b = await start('b', { relays: [relayAddr] })
    await waitFor(async () => (await b.connectivity.reach.list()).some((r) => r.circuitAddrs.length > 0), { what: 'b reserved' })
    const circuit = `${(await b.connectivity.reach.list())[0].circuitAddrs[0]}/p2p/${b.libp2p.peerId.toString()}`
    const bPeer = b.libp2p.peerId.toString()
    const pathAt = (x: P2pNode) => x.connectivity.pathTo(bPeer)

    // Relayed: a has no relay, so it does not try WebRTC; b never tries (it did not dial).
    const a = await start('a')
    await a.dial(circuit)
    await b.send(a.libp2p.peerId.toString(), 'hi', { waitMs: 5000 })
    if (pathAt(a) !== 'relayed') throw new Error(`expected relayed, got ${pathAt(a)}`)
    const relayed = await sendAck(a, bPeer, LATENCY_N)
    const relayedRate = await fileRate(a, b, dirs[2], FILE_MIB.relayed)

    // WebRTC: c has the relay; dialling b through it, c upgrades.
    const c = await start('c', { relays: [relayAddr] })
    await c.dial(circuit)
    await b.send(c.libp2p.peerId.toString(), 'hi', { waitMs: 5000 })
    await waitFor(() => pathAt(c) === 'webrtc', { timeout: 30_000, what: 'the WebRTC path' })
    const webrtc = await sendAck(c, bPeer, LATENCY_N)
    const webrtcRate = await fileRate(c, b, dirs[3], FILE_MIB.direct)

    // Direct TCP, the baseline: d dials b's loopback address.
    const d = await start('d')
    await d.dial(b.libp2p.getMultiaddrs().find((m) => !m.toString().includes('p2p-circuit'))?.toString() ?? '')
    await b.send(d.libp2p.peerId.toString(), 'hi', { waitMs: 5000 })
    const direct = await sendAck(d, bPeer, LATENCY_N)
    const directRate = await fileRate(d, b, dirs[4], FILE_MIB.direct)

    const reachable: number[] = []
    for (let i = 0; i < STARTS; i++) reachable.push(await startToReachable(relayAddr))
    reachable.sort((x, y) => x - y)

    const lat = (xs: number[]) => `${ms(pct(xs, 50))} / ${ms(pct(xs, 99))}`
    rows.push(
      { metric: 'relayed send→ack p50 / p99', value: lat(relayed), baseline: `${lat(direct)} (direct TCP)`, target: '' },
      { metric: 'webrtc send→ack p50 / p99', value: lat(webrtc), baseline: `${lat(direct)} (direct TCP)`, target: '' },
      {
        metric: `relayed file (${FILE_MIB.relayed} MiB, the largest that goes relayed)`,
        value: `${relayedRate.toFixed(1)} MB/s`,
        baseline: `${directRate.toFixed(1)} MB/s (direct TCP, ${FILE_MIB.direct} MiB)`,
        target: ''
      },
      {
        metric: `webrtc file (${FILE_MIB.direct} MiB)`,
        value: `${webrtcRate.toFixed(1)} MB/s`,
        baseline: `${directRate.toFixed(1)} MB/s (direct TCP)`,
        target: ''
      },
      {
        metric: `start → reachable via relay (median of ${STARTS})`,
        value: ms(reachable[Math.floor(STARTS / 2)]),
        baseline: '',
        target: ''
      }
    )
  } finally {
    for (const n of nodes.reverse()) await n.stop().catch(() => {})
    await cleanup(...dirs)
  }
  return rows
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await reachBench()) process.stdout.write(`| ${r.metric} | ${r.value} | ${r.baseline} | ${r.target} |\n`)
  process.exit(0)
}
