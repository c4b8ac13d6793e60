/**
 * Search over 1,000,000 stored messages (real LevelDB on disk), beside a plain history read in the same run.
 */
import { randomBytes } from 'node:crypto'
import { openStore } from '../src/store/index.ts'
import { cleanup, tempDir } from '../test/helpers/cli.ts'
import { pct } from './stats.ts'

const MESSAGES = Number(process.env.BENCH_SEARCH_MESSAGES ?? 1_000_000)
const PEERS = 50
const BATCH = 1000
const QUERIES = 200

// A vocabulary with a few very common words and a long tail, some accented, like real chat.
const COMMON = ['the', 'and', 'you', 'to', 'ok', 'yes', 'no', 'lol', 'see', 'later', 'today', 'tomorrow']
const TAIL = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}`)
const ACCENTED = ['café', 'crème', 'naïve', 'façade', 'jalapeño', 'über', 'smörgåsbord', 'déjà']

function rand(n: number): number {
  return Math.floor(Math.random() * n)
}

function sentence(): string {
  const words: string[] = []
  const len = 4 + rand(10)
  for (let i = 0; i < len; i++) {
    const r = Math.random()
    words.push(r < 0.5 ? COMMON[rand(COMMON.length)] : r < 0.53 ? ACCENTED[rand(ACCENTED.length)] : TAIL[rand(TAIL.length)])
  }
  return words.join(' ')
}


async function time(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await fn(i)
    out.push(performance.now() - t)
  }
  return out.sort((a, b) => a - b)
}

export interface SearchBench {
  messages: number
  loadSeconds: number
  rows: Array<{ query: string; p50: number; p99: number }>
  historyP50: number
}

export async function benchSearch(): Promise<SearchBench> {
  const dir = await tempDir('p2pnode-bench-search-')
  const store = await openStore(`${dir}/db`, new Uint8Array(randomBytes(32)))
  const peers = Array.from({ length: PEERS }, (_, i) => `12D3KooWBenchPeer${i}`)
  try {
    const t0 = performance.now()
    const start = Date.now() - MESSAGES * 1000
    for (let done = 0; done < MESSAGES; done += BATCH) {
      const peer = peers[(done / BATCH) % PEERS]
      await store.addIncoming(
        Array.from({ length: BATCH }, (_, i) => ({
          id: randomBytes(16).toString('hex'),
          peer,
          to: 'me',
          text: sentence(),
          timestamp: start + (done + i) * 1000
        }))
      )
    }
    const loadSeconds = (performance.now() - t0) / 1000
    const queries: Array<[string, (i: number) => Promise<unknown>]> = [
      ['common word ("today")', () => store.search('today')],
      ['rare word', (i) => store.search(TAIL[(i * 97) % TAIL.length])],
      ['prefix ("tomo")', () => store.search('tomo')],
      ['accent-folded ("CAFE")', () => store.search('CAFE')],
      ['two words ("cafe later")', () => store.search('cafe later')],
      ['word + --peer', (i) => store.search('yes', { peer: peers[i % PEERS] })]
    ]
    const rows = []
    for (const [query, fn] of queries) {
      await time(20, fn) // warm-up
      const t = await time(QUERIES, fn)
      rows.push({ query, p50: pct(t, 50), p99: pct(t, 99) })
    }
    const hist = await time(QUERIES, (i) => store.history(peers[i % PEERS], { limit: 20 }))
    return { messages: MESSAGES, loadSeconds, rows, historyP50: pct(hist, 50) }
  } finally {
    await store.close()
    await cleanup(dir)
  }
}
