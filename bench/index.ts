/**
 * `npm run bench`: p2pnode's figures beside baselines measured in the same run, on this machine.
 * Targets are printed for reference; nothing here fails on a slow machine.
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { P2pNode } from '../src/node/index.ts'
import { BIN, cleanup, NODE, tempDir } from '../test/helpers/cli.ts'
import { benchSearch } from './search.ts'
import { compareFiles } from './file-compare.ts'
import { fileBench } from './files.ts'
import { voiceBench } from './voice.ts'
import { groupBench } from './groups.ts'
import { webBench } from './web.ts'
import { reachBench } from './reach.ts'
import { IDLE_MS, memoryBench } from './memory.ts'
import { pct, type Row } from './stats.ts'

const ECHO = '/bench/echo/1.0'
const LATENCY_N = 2000
const THROUGHPUT_SECONDS = 5
const STARTS = 5



/** User + system CPU time of this process since `from`, µs. */
function cpuMicros(from: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(from)
  return user + system
}

function ms(n: number): string {
  return `${n.toFixed(3)} ms`
}

async function latencies(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < n; i++) await fn() // warm-up: JIT and LevelDB caches, so that figures are steady-state
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await fn()
    out.push(performance.now() - t)
  }
  return out.sort((a, b) => a - b)
}

async function echoHandler(stream: Stream): Promise<void> {
  const lp = lpStream(stream)
  try {
    for (;;) await lp.write(await lp.read())
  } catch {
    stream.abort(new Error('done'))
  }
}

/** Spawn `p2pnode start`, time it to the ready line, read its RSS once idle (IDLE_MS after ready), stop it. */
async function startOnce(): Promise<{ readyMs: number; rssMb: number }> {
  const dir = await tempDir('p2pnode-bench-')
  const t = performance.now()
  const child = spawn(NODE, [BIN, 'start', '--data', dir, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], {
    stdio: ['ignore', 'pipe', 'ignore']
  })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('ready ')) resolve()
    })
    child.on('exit', () => reject(new Error('p2pnode exited before ready')))
  })
  const readyMs = performance.now() - t
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS))
  const rssMb = await rssOf(child.pid ?? 0)
  child.kill('SIGTERM')
  await new Promise((resolve) => child.on('exit', resolve))
  await cleanup(dir)
  return { readyMs, rssMb }
}

/** A bare Node process doing nothing: the floor for startup time and RSS. */
async function bareNodeOnce(): Promise<{ readyMs: number; rssMb: number }> {
  const t = performance.now()
  const child = spawn(NODE, ['-e', 'console.log("ready"); setInterval(() => {}, 1000)'], {
    stdio: ['ignore', 'pipe', 'ignore']
  })
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
  const readyMs = performance.now() - t
  await new Promise((resolve) => setTimeout(resolve, 500))
  const rssMb = await rssOf(child.pid ?? 0)
  child.kill('SIGKILL')
  return { readyMs, rssMb }
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  // VmRSS is in KiB; MB here are 10^6 bytes, as in the memory and file rows (bench/procs.ts).
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return (kib * 1024) / 1e6
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** `npm run bench -- chat groups`: only those parts (chat, groups, start, memory, search, files, compare, web, reach, voice); all by default. */
const ONLY = new Set(process.argv.slice(2))
const part = (name: string) => ONLY.size === 0 || ONLY.has(name)

async function main(): Promise<void> {
  const rows: Row[] = []
  if (part('chat')) await chatBench(rows)
  if (part('groups')) rows.push(...(await groupBench()))
  if (part('start')) await startBench(rows)
  // RSS idle, while receiving 1,000,000 messages (P2PNODE_BENCH_MESSAGES) and idle again after (bench/memory.ts).
  if (part('memory')) rows.push(...(await memoryBench()))
  if (part('search')) await searchBench(rows)
  // File transfer: 256 MiB and 1 GiB between two spawned nodes, beside a bare stream and raw TCP (bench/files.ts).
  if (part('files')) rows.push(...(await fileBench()))
  // The same 1 GiB file between two netns hosts over p2pnode, scp and Syncthing (bench/file-compare.ts).
  if (part('compare')) rows.push(...(await compareFiles()))
  if (part('web')) rows.push(...(await webBench()))
  // Relayed and WebRTC paths beside direct TCP, and start → reachable via a relay (bench/reach.ts).
  if (part('reach')) rows.push(...(await reachBench()))
  // Voice notes: word error rate and real-time factor on LibriVox, chat latency during a transcription (bench/voice.ts).
  if (part('voice')) rows.push(...(await voiceBench()))
  printRows(rows)
}

async function chatBench(rows: Row[]): Promise<void> {
  const dirs = [await tempDir('p2pnode-bench-'), await tempDir('p2pnode-bench-')]
  const opts = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }
  const a = await P2pNode.start({ ...opts, dataDir: dirs[0], name: 'a' })
  const b = await P2pNode.start({ ...opts, dataDir: dirs[1], name: 'b' })
  try {
    const bPeer = b.libp2p.peerId.toString()
    await a.dial((await b.id()).addrs[0])
    await b.libp2p.handle(ECHO, (stream) => echoHandler(stream))

    // Baseline: a 64-byte echo round trip on one open libp2p stream (same connection, same machine).
    const payload = new Uint8Array(64)
    const echo = lpStream(await a.libp2p.dialProtocol(b.libp2p.peerId, ECHO))
    const bare = await latencies(LATENCY_N, async () => {
      await echo.write(payload)
      await echo.read()
    })
    // Baseline 2: a new stream per round trip.
    const perStream = await latencies(500, async () => {
      const s = lpStream(await a.libp2p.dialProtocol(b.libp2p.peerId, ECHO))
      await s.write(payload)
      await s.read()
      s.unwrap().abort(new Error('done'))
    })

    // p2pnode: send → stored by the receiver → ack → marked delivered by the sender, one message at a time.
    const text = 'x'.repeat(64)
    const chat = await latencies(LATENCY_N, async () => {
      const m = await a.chat.send(bPeer, text)
      await a.chat.waitForDelivery(bPeer, m.id)
    })
    rows.push(
      { metric: 'send→ack latency p50', value: ms(pct(chat, 50)), baseline: ms(pct(bare, 50)), target: '≤ 1 ms' },
      { metric: 'send→ack latency p99', value: ms(pct(chat, 99)), baseline: ms(pct(bare, 99)), target: '≤ 5 ms' },
      {
        metric: '(baseline: new stream per round trip p50/p99)',
        value: '',
        baseline: `${ms(pct(perStream, 50))} / ${ms(pct(perStream, 99))}`,
        target: ''
      }
    )

    // Sustained throughput: keep up to 2,000 messages outstanding for THROUGHPUT_SECONDS, count acked ones.
    let delivered = 0
    const onDelivered = (evt: CustomEvent<{ ids: string[] }>) => {
      delivered += evt.detail.ids.length
    }
    a.chat.addEventListener('delivered', onDelivered)
    let sent = 0
    const end = performance.now() + THROUGHPUT_SECONDS * 1000
    const t0 = performance.now()
    // CPU of this process (both nodes, LevelDB's threads): a figure the machine's load moves far less than rates.
    const cpu0 = process.cpuUsage()
    while (performance.now() < end) {
      if (sent - delivered < 2000) {
        const burst = []
        for (let i = 0; i < 500; i++) burst.push(a.chat.send(bPeer, text))
        await Promise.all(burst)
        sent += 500
      } else {
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
    }
    const acked = delivered
    const rate = acked / ((performance.now() - t0) / 1000)
    while (delivered < sent) await new Promise((resolve) => setTimeout(resolve, 10))
    const cpu = cpuMicros(cpu0) / sent
    a.chat.removeEventListener('delivered', onDelivered)
    // Baseline: the same 64-byte payload echoed on a bare stream with 1,000 in flight (no storage, no acks).
    const echoCount = 50_000
    const te = performance.now()
    const echoCpu0 = process.cpuUsage()
    const reader = (async () => {
      for (let i = 0; i < echoCount; i++) await echo.read()
    })()
    for (let i = 0; i < echoCount; i += 1000) {
      await echo.writeV(Array.from({ length: 1000 }, () => payload))
    }
    await reader
    const echoRate = echoCount / ((performance.now() - te) / 1000)
    const echoCpu = cpuMicros(echoCpu0) / echoCount
    rows.push(
      {
        metric: 'sustained acked messages/s',
        value: `${Math.round(rate).toLocaleString('en')}`,
        baseline: `${Math.round(echoRate).toLocaleString('en')} (bare echo, pipelined)`,
        target: '≥ 10,000'
      },
      {
        metric: 'CPU per acked message (both nodes), sustained',
        value: `${cpu.toFixed(1)} µs`,
        baseline: `${echoCpu.toFixed(1)} µs (bare echo, pipelined)`,
        target: ''
      }
    )
  } finally {
    await a.stop()
    await b.stop()
    await cleanup(...dirs)
  }
}

async function startBench(rows: Row[]): Promise<void> {
  const starts = []
  const bares = []
  for (let i = 0; i < STARTS; i++) {
    starts.push(await startOnce())
    bares.push(await bareNodeOnce())
  }
  rows.push(
    {
      metric: 'startup to ready (median of 5)',
      value: ms(median(starts.map((s) => s.readyMs))),
      baseline: `${ms(median(bares.map((s) => s.readyMs)))} (bare node)`,
      target: '≤ 1000 ms'
    },
    {
      metric: 'idle RSS (median of 5)',
      value: `${median(starts.map((s) => s.rssMb)).toFixed(1)} MB`,
      baseline: `${median(bares.map((s) => s.rssMb)).toFixed(1)} MB (bare node)`,
      target: '≤ 100 MB'
    }
  )
}

async function searchBench(rows: Row[]): Promise<void> {
  const search = await benchSearch()
  rows.push({
    metric: `search, ${search.messages.toLocaleString('en')} messages (loaded in ${search.loadSeconds.toFixed(0)} s)`,
    value: '',
    baseline: `${ms(search.historyP50)} (history, last 20)`,
    target: ''
  })
  for (const r of search.rows) {
    rows.push({ metric: `  ${r.query} p50 / p99`, value: `${ms(r.p50)} / ${ms(r.p99)}`, baseline: '', target: 'p50 ≤ 20 ms' })
  }
}

function printRows(rows: Row[]): void {
  const w = (k: keyof Row) => Math.max(k.length, ...rows.map((r) => r[k].length))
  const line = (r: Row) =>
    `| ${r.metric.padEnd(w('metric'))} | ${r.value.padEnd(w('value'))} | ${r.baseline.padEnd(w('baseline'))} | ${r.target.padEnd(w('target'))} |`
  process.stdout.write(
    `${line({ metric: 'metric', value: 'p2pnode', baseline: 'baseline (same run)', target: 'target' })}\n`
  )
  process.stdout.write(
    `|${['metric', 'value', 'baseline', 'target'].map((k) => '-'.repeat(w(k as keyof Row) + 2)).join('|')}|\n`
  )
  for (const r of rows) process.stdout.write(`${line(r)}\n`)
}

await main()
process.exit(0)
