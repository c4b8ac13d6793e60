/**
 * Voice notes: the default engine's accuracy and speed on natural speech (Debian's LibriVox clips), and what a
 * 60 s note being transcribed does to chat latency and to the node's memory (two spawned nodes on loopback, both
 * transcribing, as two machines would, but here on the same two cores). Skipped without pocketsphinx.
 * Also alone: `node dist/bench/voice.js`.
 */
import { existsSync, readdirSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiClient } from '../src/api/client.ts'
import type { IdInfo } from '../src/api/types.ts'
import { POCKETSPHINX_MODEL, transcribeFile, wavBytes, wordErrorRate, words } from '../src/voice/index.ts'
import { Fleet } from '../test/helpers/cli.ts'
import { chatLatencies } from './files.ts'
import { pct, type Row } from './stats.ts'

const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox'

async function rssMb(pid: number): Promise<number> {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

/** RSS of a process's pocketsphinx children, MB. */
async function engineRssMb(pid: number): Promise<number> {
  let total = 0
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    const stat = await readFile(`/proc/${d}/stat`, 'utf8').catch(() => '')
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat)
    if (m != null && m[1].startsWith('pocketsphinx') && Number(m[2]) === pid) total += await rssMb(Number(d))
  }
  return total
}

async function clips(): Promise<Array<{ path: string; reference: string }>> {
  const text = await readFile(join(LIBRIVOX, 'transcription'), 'utf8')
  return [...text.matchAll(/^(.*)\(([^)]+)\)\s*$/gm)].map((m) => ({
    path: join(LIBRIVOX, `${m[2]}.wav`),
    reference: m[1].replace(/<\/?s>/g, '').trim()
  }))
}

/** Paced as a lively conversation (a message every 20 ms), not a flood: what a transcription does to chat. */
const CHAT_EVERY_MS = 20

export async function voiceBench(): Promise<Row[]> {
  if (!existsSync(join(POCKETSPHINX_MODEL, 'mdef')) || !existsSync(join(LIBRIVOX, 'transcription'))) {
    return [{ metric: 'voice notes', value: 'skipped: pocketsphinx, pocketsphinx-en-us or pocketsphinx-testdata missing', baseline: '', target: '' }]
  }
  const rows: Row[] = []
  // Accuracy and speed, clip by clip (each one job as the node runs it: a worker, a fresh engine process).
  let errors = 0
  let refWords = 0
  let audioMs = 0
  let wallMs = 0
  const all: Int16Array[] = []
  for (const clip of await clips()) {
    const t = performance.now()
    const r = await transcribeFile(clip.path, { engine: 'pocketsphinx' })
    wallMs += performance.now() - t
    audioMs += r.duration
    const n = words(clip.reference).length
    errors += wordErrorRate(clip.reference, r.text) * n
    refWords += n
    const b = await readFile(clip.path)
    all.push(new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + b.byteLength)))
  }
  rows.push({
    metric: `voice: word error rate, pocketsphinx, LibriVox (${refWords} words, ${(audioMs / 1000).toFixed(1)} s)`,
    value: `${((errors / refWords) * 100).toFixed(1)} %`,
    baseline: '',
    target: 'tracked (lower is better)'
  })
  rows.push({
    metric: 'voice: real-time factor per short clip (wall, engine start included)',
    value: (wallMs / audioMs).toFixed(2),
    baseline: '',
    target: '< 1'
  })

  // A 60 s note: the five clips three times over.
  const fleet = new Fleet(['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-web'])
  try {
    const dir = await fleet.dir()
    const pcm = new Int16Array(all.reduce((n, p) => n + p.length, 0) * 3)
    let at = 0
    for (let i = 0; i < 3; i++) {
      for (const p of all) {
        pcm.set(p, at)
        at += p.length
      }
    }
    const note = join(dir, 'sixty.wav')
    await writeFile(note, wavBytes(pcm))
    const t60 = performance.now()
    const alone = await transcribeFile(note, { engine: 'pocketsphinx' })
    const rtf60 = (performance.now() - t60) / alone.duration

    const alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    const bob = await fleet.start(await fleet.dir(), ['--name', 'bob'])
    await bob.json(['contacts', 'add', alice.peerId])
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
    const idle = await chatLatencies(alice, bob, () => true, 1000, CHAT_EVERY_MS)
    const idleRss = await rssMb(bob.child.pid ?? 0)

    const api = new ApiClient(join(bob.dataDir, 'api.sock'), bob.dataDir)
    const sent = await alice.json<{ id: string }>(['send-voice', 'bob', note])
    let pending = true
    let peakNode = idleRss
    let peakEngine = 0
    const t0 = performance.now()
    const watch = (async () => {
      while (pending) {
        peakNode = Math.max(peakNode, await rssMb(bob.child.pid ?? 0))
        peakEngine = Math.max(peakEngine, await engineRssMb(bob.child.pid ?? 0))
        const note = await api.transcript(sent.id).catch(() => undefined)
        if (note != null && note.transcript.status !== 'pending') pending = false
        else await new Promise((r) => setTimeout(r, 100))
        if (performance.now() - t0 > 600_000) pending = false
      }
    })()
    const busy = await chatLatencies(alice, bob, () => pending, 30_000, CHAT_EVERY_MS)
    await watch
    const doneMs = performance.now() - t0
    await api.close()
    rows.push(
      {
        metric: 'voice: real-time factor, one 60 s note (wall)',
        value: rtf60.toFixed(2),
        baseline: '',
        target: '< 1'
      },
      {
        metric: 'chat send→ack p50 / p99 (a message every 20 ms) while both nodes transcribe a 60 s note',
        value: busy.length > 0 ? `${pct(busy, 50).toFixed(2)} ms / ${pct(busy, 99).toFixed(2)} ms (${busy.length} msgs)` : 'n/a',
        baseline: `${pct(idle, 50).toFixed(2)} ms / ${pct(idle, 99).toFixed(2)} ms idle`,
        target: 'stays low'
      },
      {
        metric: 'voice: 60 s note sent → transcript on the receiver',
        value: `${(doneMs / 1000).toFixed(1)} s`,
        baseline: '',
        target: ''
      },
      {
        metric: "voice: receiver's peak RSS while transcribing (node / engine process)",
        value: `${peakNode.toFixed(1)} MB / ${peakEngine.toFixed(1)} MB`,
        baseline: `${idleRss.toFixed(1)} MB node idle`,
        target: 'bounded'
      }
    )
  } finally {
    await fleet.close()
  }
  return rows
}

if (process.argv[1]?.endsWith('voice.js')) {
  for (const r of await voiceBench()) console.log(`${r.metric}: ${r.value}${r.baseline !== '' ? ` (${r.baseline})` : ''}`)
}
