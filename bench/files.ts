/**
 * File-transfer figures for `npm run bench`: p2pnode file throughput beside a bare libp2p stream and a raw TCP
 * socket, measured in the same run between two processes on loopback; peak RSS of both p2pnode processes; chat
 * latency while two transfers run.
 *
 * Run alone: `node dist/bench/files.js [sizes in MiB...]`.
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { open, readFile, rm } from 'node:fs/promises'
import { connect as tcpConnect } from 'node:net'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { ApiClient } from '../src/api/client.ts'
import type { IdInfo } from '../src/api/types.ts'
import { cleanup, NodeProcess, tempDir, waitFor } from '../test/helpers/cli.ts'
import { pct } from './stats.ts'

const MiB = 1024 * 1024
const BLOCK = 256 * 1024
const BULK = '/bench/bulk/1.0'

export interface FileRow {
  metric: string
  value: string
  baseline: string
  target: string
}

function mbps(bytes: number, ms: number): number {
  return bytes / MiB / (ms / 1000)
}

/** Write a file of `size` random-ish bytes without holding it in memory (one random block, repeated, varied). */
async function makeFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w')
  const block = randomBytes(BLOCK)
  try {
    for (let off = 0; off < size; off += BLOCK) {
      block.writeUInt32LE(off / BLOCK, 0) // every chunk differs
      await fh.write(block, 0, Math.min(BLOCK, size - off), off)
    }
  } finally {
    await fh.close()
  }
}

/**
 * `size` bytes over one libp2p stream (TCP + Noise + Yamux) between this process and a child: the time, and the
 * CPU seconds both ends used meanwhile.
 */
async function bareLibp2p(size: number): Promise<{ ms: number; cpu: number; senderCpu: number }> {
  const child = spawn(process.execPath, [new URL('./bulk-sink.js', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const addr = await new Promise<string>((resolve) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = /^(\/ip4\S+)$/m.exec(out)
      if (m != null) resolve(m[1])
    })
  })
  const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  try {
    const stream: Stream = await node.dialProtocol(multiaddr(addr), BULK)
    const block = new Uint8Array(randomBytes(BLOCK))
    const t = performance.now()
    const cpu0 = process.cpuUsage()
    const sink0 = await cpuOf(child.pid ?? 0)
    for (let sent = 0; sent < size; sent += BLOCK) {
      if (!stream.send(block)) await stream.onDrain()
    }
    await stream.close()
    // The sink answers with one byte once it has read everything.
    for await (const _ of stream) break
    const ms = performance.now() - t
    const own = process.cpuUsage(cpu0)
    const senderCpu = (own.user + own.system) / 1e6
    return { ms, cpu: senderCpu + (await cpuOf(child.pid ?? 0)) - sink0, senderCpu }
  } finally {
    await node.stop()
    child.kill('SIGKILL')
  }
}

/** `size` bytes over a raw TCP socket to a child process. */
async function rawTcp(size: number): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer((c) => { let n = 0; c.on('data', (d) => { n += d.length; if (n >= ${size}) c.end('x') }) }).listen(0, '127.0.0.1', () => console.log(s.address().port))`
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  )
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d)))))
  try {
    const block = randomBytes(BLOCK)
    const t = performance.now()
    await new Promise<void>((resolve, reject) => {
      const sock = tcpConnect(port, '127.0.0.1', async () => {
        for (let sent = 0; sent < size; sent += BLOCK) {
          if (!sock.write(block)) await new Promise((r) => sock.once('drain', r))
        }
      })
      sock.on('data', () => {
        sock.destroy()
        resolve()
      })
      sock.on('error', reject)
    })
    return performance.now() - t
  } finally {
    child.kill('SIGKILL')
  }
}

async function rssOf(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

/** CPU seconds (user + system) a process has used. */
async function cpuOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * CPU ms per MiB of the work a verified transfer must add to the stream, measured here: SHA-256 (done twice: each
 * chunk and the whole file), writing a new file, reading the sender's file.
 */
async function requiredWork(dir: string): Promise<{ sha: number; write: number; read: number }> {
  const size = 256 * MiB
  const block = randomBytes(BLOCK)
  const perMiB = async (work: () => Promise<void> | void) => {
    const c = process.cpuUsage()
    await work()
    const d = process.cpuUsage(c)
    return (d.user + d.system) / 1000 / (size / MiB)
  }
  const path = join(dir, 'required-work.bin')
  const sha = await perMiB(() => {
    const h = createHash('sha256')
    for (let off = 0; off < size; off += BLOCK) h.update(block)
    h.digest()
  })
  const write = await perMiB(async () => {
    const fh = await open(path, 'w')
    for (let off = 0; off < size; off += BLOCK) await fh.write(block, 0, BLOCK, off)
    await fh.close()
  })
  const read = await perMiB(async () => {
    const fh = await open(path, 'r')
    for (let off = 0; off < size; off += BLOCK) await fh.read(block, 0, BLOCK, off)
    await fh.close()
  })
  await rm(path)
  return { sha, write, read }
}

/** Send a file between two spawned nodes; returns transfer time (offer acked → verified) and peak RSS. */
async function p2pnodeFile(
  alice: NodeProcess,
  bob: NodeProcess,
  path: string
): Promise<{
  ms: number
  totalMs: number
  rss: number
  sender: number
  receiver: number
  cpu: number
  senderCpu: number
}> {
  const api = new ApiClient(join(alice.dataDir, 'api.sock'), alice.dataDir)
  let peak = 0
  const peaks = [0, 0]
  const sampler = setInterval(async () => {
    const [a, b] = [await rssOf(alice.child.pid ?? 0), await rssOf(bob.child.pid ?? 0)]
    peaks[0] = Math.max(peaks[0], a)
    peaks[1] = Math.max(peaks[1], b)
    peak = Math.max(peak, a, b)
  }, 100)
  try {
    const t0 = performance.now()
    const sent = await api.sendFile(bob.peerId, path)
    const t1 = performance.now()
    const cpu0 = [await cpuOf(alice.child.pid ?? 0), await cpuOf(bob.child.pid ?? 0)]
    await waitFor(async () => (await api.file(sent.id)).status === 'complete', { timeout: 600_000, interval: 20 })
    const t2 = performance.now()
    const cpu1 = [await cpuOf(alice.child.pid ?? 0), await cpuOf(bob.child.pid ?? 0)]
    const senderCpu = cpu1[0] - cpu0[0]
    const cpu = senderCpu + cpu1[1] - cpu0[1]
    return { ms: t2 - t1, totalMs: t2 - t0, rss: peak, sender: peaks[0], receiver: peaks[1], cpu, senderCpu }
  } finally {
    clearInterval(sampler)
    await api.close()
  }
}

export async function fileBench(sizesMiB: number[] = [256, 1024]): Promise<FileRow[]> {
  const rows: FileRow[] = []
  const dirs = [await tempDir('p2pnode-bench-'), await tempDir('p2pnode-bench-'), await tempDir('p2pnode-bench-')]
  const local = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--auto-accept-max', String(64 * 1024 * MiB)]
  const alice = await NodeProcess.start(dirs[0], [...local, '--name', 'alice'])
  const bob = await NodeProcess.start(dirs[1], [...local, '--name', 'bob'])
  try {
    // Files are fetched without asking only from contacts (or peers we wrote to).
    await bob.json(['contacts', 'add', alice.peerId])
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
    for (const mib of sizesMiB) {
      const size = mib * MiB
      const path = join(dirs[2], `bench-${mib}.bin`)
      await makeFile(path, size)
      // Each measured twice: the first run also pays for warming up (the JIT, and on a VM the first touch of guest
      // memory that the page cache of a new file needs, which costs the receiver several times the copy itself).
      const runs: Array<Awaited<ReturnType<typeof p2pnodeFile>>> = []
      const bares: Array<Awaited<ReturnType<typeof bareLibp2p>>> = []
      for (let i = 0; i < 2; i++) {
        runs.push(await p2pnodeFile(alice, bob, path))
        await rm(join(dirs[1], 'downloads'), { recursive: true, force: true })
        bares.push(await bareLibp2p(size))
      }
      await rm(path)
      const raw = await rawTcp(size)
      const [cold, warm] = runs
      const label = mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`
      const ratio = (file: { ms: number }, bare: { ms: number }) => (mbps(size, file.ms) / mbps(size, bare.ms)).toFixed(2)
      rows.push({
        metric: `file ${label}: throughput (offer → verified), second run`,
        value: `${mbps(size, warm.ms).toFixed(0)} MiB/s (${ratio(warm, bares[1])}×)`,
        baseline: `${mbps(size, bares[1].ms).toFixed(0)} MiB/s libp2p stream, ${mbps(size, raw).toFixed(0)} MiB/s raw TCP`,
        target: '≥ 0.85× stream'
      })
      rows.push({
        metric: `file ${label}: throughput, first run (cold)`,
        value: `${mbps(size, cold.ms).toFixed(0)} MiB/s (${ratio(cold, bares[0])}×)`,
        baseline: `${mbps(size, bares[0].ms).toFixed(0)} MiB/s libp2p stream`,
        target: ''
      })
      // What a byte costs, whatever the machine's load: with every core busy, the throughput ratio cannot beat the
      // inverse of the CPU ratio.
      const perMiB = (cpu: number) => (cpu * 1000) / mib
      const split = (run: { cpu: number; senderCpu: number }) =>
        `${perMiB(run.cpu).toFixed(1)} ms (sender ${perMiB(run.senderCpu).toFixed(1)} + receiver ${perMiB(run.cpu - run.senderCpu).toFixed(1)})`
      const cores = availableParallelism()
      const most = (run: { cpu: number }) => ((cores * 1000) / perMiB(run.cpu)).toFixed(0)
      rows.push({
        metric: `file ${label}: CPU per MiB, both ends (second run)`,
        value: split(warm),
        baseline: `${split(bares[1])} libp2p stream; ${cores} cores: at most ${most(warm)} vs ${most(bares[1])} MiB/s`,
        target: ''
      })
      rows.push({
        metric: `file ${label}: send-file to verified (with hashing)`,
        value: `${mbps(size, warm.totalMs).toFixed(0)} MiB/s`,
        baseline: '',
        target: ''
      })
      const peak = (k: 'rss' | 'sender' | 'receiver') => Math.max(cold[k], warm[k]).toFixed(1)
      rows.push({
        metric: `file ${label}: peak RSS (either node)`,
        value: `${peak('rss')} MB`,
        baseline: `sender ${peak('sender')} MB, receiver ${peak('receiver')} MB`,
        target: '≤ 160 MB'
      })
    }
    const work = await requiredWork(dirs[2])
    const extra = 2 * work.sha + work.write + work.read
    rows.push({
      metric: 'CPU per MiB the required work adds to the stream (2 × SHA-256, write a new file, read)',
      value: `${extra.toFixed(1)} ms`,
      baseline: `SHA-256 ${work.sha.toFixed(2)}, write ${work.write.toFixed(2)}, read ${work.read.toFixed(2)} ms`,
      target: ''
    })
    rows.push(...(await chatDuringTransfers(alice, bob, local, dirs)))
  } finally {
    await alice.stop()
    await bob.stop()
    await cleanup(...dirs)
  }
  return rows
}


/**
 * One message at a time alice → bob through the API, each until bob has stored it (acked); latencies sorted.
 * `everyMs` paces them (a message at most that often), as a conversation rather than a flood.
 */
export async function chatLatencies(alice: NodeProcess, bob: NodeProcess, until: () => boolean, max = 500, everyMs = 0): Promise<number[]> {
  const api = new ApiClient(join(alice.dataDir, 'api.sock'), alice.dataDir)
  const out: number[] = []
  try {
    while (out.length < max && until()) {
      const t = performance.now()
      const res = await api.send(bob.peerId, 'x'.repeat(64))
      if (res.status !== 'delivered') throw new Error(`message not delivered: ${res.status}`)
      const took = performance.now() - t
      out.push(took)
      if (took < everyMs) await new Promise((r) => setTimeout(r, everyMs - took))
    }
  } finally {
    await api.close()
  }
  return out.sort((x, y) => x - y)
}

/** Chat latency alice → bob while alice sends 256 MiB files to bob and to carol at the same time. */
async function chatDuringTransfers(
  alice: NodeProcess,
  bob: NodeProcess,
  local: string[],
  dirs: string[]
): Promise<FileRow[]> {
  const carolDir = await tempDir('p2pnode-bench-')
  const carol = await NodeProcess.start(carolDir, [...local, '--name', 'carol'])
  try {
    await carol.json(['contacts', 'add', alice.peerId])
    await alice.json(['dial', (await carol.json<IdInfo>(['id'])).addrs[0]])
    const idle = await chatLatencies(alice, bob, () => true, 300)
    const files = [join(dirs[2], 'to-bob.bin'), join(dirs[2], 'to-carol.bin')]
    for (const f of files) await makeFile(f, 256 * MiB)
    const api = new ApiClient(join(alice.dataDir, 'api.sock'), alice.dataDir)
    let running = true
    const t0 = performance.now()
    const transfers = Promise.all(
      [bob, carol].map(async (peer, i) => {
        const sent = await api.sendFile(peer.peerId, files[i])
        await waitFor(async () => (await api.file(sent.id)).status === 'complete', { timeout: 600_000, interval: 50 })
      })
    ).finally(() => {
      running = false
    })
    const busy = await chatLatencies(alice, bob, () => running, 100_000)
    await transfers
    const seconds = (performance.now() - t0) / 1000
    await api.close()
    return [
      {
        metric: 'chat send→ack p50 / p99 during 2 file transfers (API)',
        value: `${busy.length > 0 ? `${pct(busy, 50).toFixed(2)} ms / ${pct(busy, 99).toFixed(2)} ms` : 'n/a'}`,
        baseline: `${pct(idle, 50).toFixed(2)} ms / ${pct(idle, 99).toFixed(2)} ms idle`,
        target: 'stays low'
      },
      {
        metric: '(2 × 256 MiB to two peers at once, while chatting)',
        value: `${((512 / seconds) | 0).toString()} MiB/s total, ${busy.length} messages`,
        baseline: '',
        target: ''
      }
    ]
  } finally {
    await carol.stop()
    await cleanup(carolDir)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv.slice(2).map(Number)
  const rows = await fileBench(sizes.length > 0 ? sizes : undefined)
  for (const r of rows) process.stdout.write(`${r.metric} | ${r.value} | ${r.baseline} | ${r.target}\n`)
  process.exit(0)
}
