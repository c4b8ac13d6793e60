/**
 * Groups: a message to a 20-member group on loopback, from send to acked by all 19 others, beside the same-run
 * baseline of the same text sent one-to-one to the same 19 peers at once (19 outboxes, 19 streams, 19 acks).
 */
import { P2pNode } from '../src/node/index.ts'
import { cleanup, tempDir } from '../test/helpers/cli.ts'
import { pct, type Row } from './stats.ts'

const MEMBERS = 20
const N = 200

function ms(n: number): string {
  return `${n.toFixed(3)} ms`
}

export async function groupBench(): Promise<Row[]> {
  const dirs: string[] = []
  const nodes: P2pNode[] = []
  try {
    for (let i = 0; i < MEMBERS; i++) {
      const dir = await tempDir('p2pnode-bench-')
      dirs.push(dir)
      nodes.push(await P2pNode.start({ dataDir: dir, name: `m${i}`, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }))
    }
    const [sender, ...others] = nodes
    const peers = others.map((n) => n.libp2p.peerId.toString())
    for (const n of others) await sender.dial((await n.id()).addrs[0])
    const group = await sender.groups.createGroup('bench', peers)
    const all = async (id: string) => Promise.all(peers.map((p) => sender.chat.waitForDelivery(p, id)))
    const text = 'x'.repeat(64)
    const measure = async (fn: () => Promise<void>) => {
      for (let i = 0; i < N / 4; i++) await fn() // warm-up
      const out: number[] = []
      for (let i = 0; i < N; i++) {
        const t = performance.now()
        await fn()
        out.push(performance.now() - t)
      }
      return out.sort((a, b) => a - b)
    }
    const inGroup = await measure(async () => {
      const res = await sender.groups.send(sender.groups.match(`#${group.id}`)!, text, { waitMs: 0 })
      await all(res.id)
    })
    const oneToOne = await measure(async () => {
      await Promise.all(
        peers.map(async (p) => {
          const m = await sender.chat.send(p, text)
          await sender.chat.waitForDelivery(p, m.id)
        })
      )
    })
    return [
      {
        metric: `group of ${MEMBERS}: send → acked by all ${MEMBERS - 1} p50`,
        value: ms(pct(inGroup, 50)),
        baseline: `${ms(pct(oneToOne, 50))} (${MEMBERS - 1} one-to-one sends)`,
        target: ''
      },
      {
        metric: `group of ${MEMBERS}: send → acked by all ${MEMBERS - 1} p99`,
        value: ms(pct(inGroup, 99)),
        baseline: `${ms(pct(oneToOne, 99))} (${MEMBERS - 1} one-to-one sends)`,
        target: ''
      }
    ]
  } finally {
    await Promise.all(nodes.map((n) => n.stop()))
    await cleanup(...dirs)
  }
}
