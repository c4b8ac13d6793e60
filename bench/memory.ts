/**
 * Memory under load, for `npm run bench` (alone: `npx node dist/bench/memory.js`): the RSS of a spawned
 * `p2pnode start` when idle, while it receives P2PNODE_BENCH_MESSAGES (1,000,000) chat messages from a node in this
 * process, and once it is idle again (the sender gone): does what the load grew come back?
 */
import { readFile } from 'node:fs/promises'
import { P2pNode } from '../src/node/index.ts'
import type { IdInfo } from '../src/api/types.ts'
import { cleanup, NodeProcess, tempDir } from '../test/helpers/cli.ts'
import { PeakRss } from './procs.ts'
import type { Row } from './stats.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** How long after its ready line a node counts as idle. */
export const IDLE_MS = 15_000

/**
 * Where a process's resident memory is (MB): the malloc heap ([heap] and glibc's other arenas are anonymous maps
 * too), anonymous maps (V8's heap pages, arenas, LevelDB), and pages of files (the node binary, native modules).
 */
async function residentParts(pid: number): Promise<{ anon: number; heap: number; file: number }> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8')
  const parts = { anon: 0, heap: 0, file: 0 }
  let kind: keyof typeof parts = 'anon'
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line)
    if (head != null) {
      const name = head[1]
      kind = name === '[heap]' ? 'heap' : name.startsWith('/') ? 'file' : 'anon'
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss != null) parts[kind] += (Number(rss[1]) * 1024) / 1e6 // smaps says kB: KiB
  }
  return parts
}

/** RSS of one process now, MB. */
async function rss(pid: number): Promise<number> {
  const peak = new PeakRss([[() => pid]], 1000)
  return (await peak.stop())[0]
}

/** The median of three readings a second apart: one reading can catch a collection half done. */
async function steadyRss(pid: number): Promise<number> {
  const xs: number[] = []
  for (let i = 0; i < 3; i++) {
    xs.push(await rss(pid))
    await sleep(1000)
  }
  return xs.sort((a, b) => a - b)[1]
}

export async function memoryBench(messages = Number(process.env.P2PNODE_BENCH_MESSAGES ?? 1_000_000)): Promise<Row[]> {
  const dirs = [await tempDir('p2pnode-bench-'), await tempDir('p2pnode-bench-')]
  const bob = await NodeProcess.start(dirs[0], ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--name', 'bob'])
  let alice: P2pNode | undefined
  try {
    const pid = bob.child.pid ?? 0
    // Idle: V8's memory reducer collects start-up's garbage ~9 s after start (bin/p2pnode's memory saver mode).
    await sleep(IDLE_MS)
    const idle = await steadyRss(pid)
    const idleParts = await residentParts(pid)
    alice = await P2pNode.start({ dataDir: dirs[1], name: 'alice', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    const a = alice
    await a.dial((await bob.json<IdInfo>(['id'])).addrs[0])
    const peak = new PeakRss([[() => pid]], 200)
    peak.start()
    let delivered = 0
    const onDelivered = (evt: CustomEvent<{ ids: string[] }>) => {
      delivered += evt.detail.ids.length
    }
    a.chat.addEventListener('delivered', onDelivered)
    const t0 = performance.now()
    const text = 'x'.repeat(64)
    for (let sent = 0; sent < messages; ) {
      if (sent - delivered >= 2000) {
        await sleep(2)
        continue
      }
      const burst = Math.min(500, messages - sent)
      await Promise.all(Array.from({ length: burst }, () => a.chat.send(bob.peerId, text)))
      sent += burst
    }
    while (delivered < messages) await sleep(20)
    const seconds = (performance.now() - t0) / 1000
    a.chat.removeEventListener('delivered', onDelivered)
    const [busy] = await peak.stop()
    await a.stop()
    alice = undefined
    await sleep(10_000)
    const after10 = await steadyRss(pid)
    await sleep(50_000)
    const after60 = await steadyRss(pid)
    const parts = await residentParts(pid)
    const show = (p: { anon: number; heap: number; file: number }) =>
      `anon ${p.anon.toFixed(0)}, [heap] ${p.heap.toFixed(0)}, files ${p.file.toFixed(0)}`
    const n = messages.toLocaleString('en')
    return [
      {
        metric: `RSS of a node receiving ${n} messages: idle before / peak / idle 10 s and 60 s after`,
        value: `${idle.toFixed(0)} / ${busy.toFixed(0)} / ${after10.toFixed(0)} / ${after60.toFixed(0)} MB`,
        baseline: `${(after60 / idle).toFixed(2)}× idle after 60 s (${(messages / seconds).toFixed(0)} messages/s); idle: ${show(idleParts)}; after: ${show(parts)} MB`,
        target: '≤ 1.3× idle; idle ≤ 100 MB'
      }
    ]
  } finally {
    await alice?.stop()
    await bob.stop()
    await cleanup(...dirs)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await memoryBench()) process.stdout.write(`| ${r.metric} | ${r.value} | ${r.baseline} | ${r.target} |\n`)
  process.exit(0)
}
