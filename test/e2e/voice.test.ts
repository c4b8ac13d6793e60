import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FileInfo } from '../../src/api/files.ts'
import type { HistoryEntry, IdInfo, SearchResult } from '../../src/api/types.ts'
import type { VoiceNoteInfo, VoiceSendResult } from '../../src/api/voice.ts'
import { POCKETSPHINX_MODEL, wavBytes } from '../../src/voice/index.ts'
import { Fleet, type NodeProcess, ROOT, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
const FIXTURES = join(ROOT, 'test', 'fixtures', 'voice')
const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox'
const NO_ENGINE =
  existsSync('/usr/bin/pocketsphinx_continuous') && existsSync(join(POCKETSPHINX_MODEL, 'mdef'))
    ? false
    : 'pocketsphinx and pocketsphinx-en-us are not installed (.ci/run installs them)'

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

/** The voice note `id` in a node's history with the peer, once its transcript is no longer pending. */
async function transcribed(node: NodeProcess, peer: string, id: string, timeout = 300_000): Promise<HistoryEntry> {
  return waitFor(
    async () => {
      const e = (await node.json<HistoryEntry[]>(['history', peer])).find((m) => m.id === id)
      return e?.transcript != null && e.transcript.status !== 'pending' ? e : undefined
    },
    { timeout, interval: 500, what: `the transcript of ${id}` }
  )
}

/** Pids of this process's pocketsphinx children (a node transcribing right now). */
function engineChildren(pid: number): number[] {
  const found: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat)
      if (m != null && m[1].startsWith('pocketsphinx') && Number(m[2]) === pid) found.push(Number(d))
    } catch {
      // gone meanwhile
    }
  }
  return found
}

describe('voice notes between two nodes (send-voice, history, transcript, search, export)', { skip: NO_ENGINE }, () => {
  const fleet = new Fleet(LOCAL)
  let alice: NodeProcess
  let bob: NodeProcess
  let bobDir: string
  let work: string
  const sent: Record<string, VoiceSendResult> = {}

  before(async () => {
    work = await fleet.dir()
    alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    bobDir = await fleet.dir()
    bob = await fleet.start(bobDir, ['--name', 'bob', '--auto-accept-max', '1000'])
    await bob.json(['contacts', 'add', alice.peerId])
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
  })
  after(() => fleet.close())

  it('a WAV and a WebM/Opus note arrive byte-identical, over the auto-accept limit, as kind voice', async () => {
    for (const name of ['librivox-0880.wav', 'librivox-0880.webm']) {
      const res = await alice.json<VoiceSendResult>(['send-voice', 'bob', join(FIXTURES, name)])
      assert.match(res.id, /^[0-9a-f]{32}$/)
      assert.ok(res.duration > 2500 && res.duration < 3600, `${name}: ${res.duration} ms`)
      assert.equal(res.transcript.status, 'pending')
      assert.equal(res.transcript.engine, 'pocketsphinx')
      sent[name] = res
    }
    for (const [name, res] of Object.entries(sent)) {
      const got = await waitFor(
        async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.id === res.id && f.status === 'complete'),
        { what: `bob to have ${name}` }
      )
      assert.equal(sha256(got.path), sha256(join(FIXTURES, name)), `${name} byte-identical`)
    }
  })

  it('both sides transcribe on their own: history --json carries kind, duration and transcript', async () => {
    for (const res of Object.values(sent)) {
      for (const [node, peer] of [[alice, 'bob'], [bob, 'alice']] as const) {
        const e = await transcribed(node, peer, res.id)
        assert.equal(e.kind, 'voice')
        assert.ok(Math.abs((e.duration ?? 0) - res.duration) < 400, `duration ${e.duration} vs ${res.duration}`)
        assert.equal(e.transcript?.status, 'done', JSON.stringify(e.transcript))
        assert.equal(e.transcript?.engine, 'pocketsphinx')
        // "he was not an ill disposed young man": the engine hears at least "young man" (measured: all but 2 words).
        assert.match(e.transcript?.text ?? '', /young man/, `what ${peer === 'bob' ? 'alice' : 'bob'} heard`)
      }
    }
    const text = await bob.run(['history', 'alice'])
    assert.match(text.stdout, /alice: 🎤 0:03 ".*young man.*"/)
  })

  it('transcript <id> prints one; search finds words said, and says it is a voice note', async () => {
    const id = sent['librivox-0880.wav'].id
    const one = await bob.json<VoiceNoteInfo>(['transcript', id.slice(0, 8)])
    assert.equal(one.id, id)
    assert.equal(one.direction, 'in')
    assert.equal(one.peer, alice.peerId)
    assert.match(one.transcript.text, /young man/)
    assert.match((await bob.run(['transcript', id])).stdout, /^🎤 0:03 ".*young man.*"/)
    for (const node of [alice, bob]) {
      const hits = await node.json<SearchResult[]>(['search', 'young'])
      assert.deepEqual(new Set(hits.map((h) => h.id)), new Set(Object.values(sent).map((s) => s.id)))
      assert.ok(hits.every((h) => h.kind === 'voice' && /young man/.test(h.text)))
    }
    assert.match((await bob.run(['search', 'young', 'man'])).stdout, /🎤 voice note: ".*young man/)
    const missing = await bob.run(['transcript', 'ffffffffffff'])
    assert.equal(missing.code, 4, missing.stderr)
  })

  it('export includes transcripts; --anonymize scrubs them like text', async () => {
    // Alice says bob's name: it is scrubbed from the transcript as from text.
    const out = join(work, 'bob.jsonl')
    await bob.json(['export', '--out', out])
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const voice = lines.filter((l) => l.kind === 'voice')
    assert.equal(voice.length, 2)
    for (const v of voice) assert.match((v.transcript as { text: string }).text, /young man/)
    const anon = join(work, 'bob-anon.jsonl')
    await bob.json(['export', '--anonymize', '--out', anon])
    const anonLines = (await readFile(anon, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const anonVoice = anonLines.filter((l) => l.kind === 'voice')
    assert.equal(anonVoice.length, 2)
    for (const v of anonVoice) {
      assert.equal(typeof (v.transcript as { text: string }).text, 'string')
      assert.equal(v.file && (v.file as { name?: string }).name, undefined)
    }
    assert.match(await readFile(`${anon}.card.md`, 'utf8'), /`transcript`/)
  })

  it('not audio, or damaged: a clear error, exit 2, nothing stored', async () => {
    const before = (await alice.json<FileInfo[]>(['files'])).length
    const notAudio = join(work, 'notes.txt')
    await writeFile(notAudio, 'this is text, not a recording')
    const r = await alice.run(['send-voice', 'bob', notAudio])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /not an audio file.*\.wav.*\.ogg.*\.webm/)
    const damaged = join(work, 'damaged.ogg')
    const ogg = Buffer.from(await readFile(join(FIXTURES, 'librivox-0880.ogg')))
    for (let i = 200; i < ogg.length; i += 97) ogg[i] ^= 0x5a
    await writeFile(damaged, ogg)
    const d = await alice.run(['send-voice', 'bob', damaged, '--json'])
    assert.equal(d.code, 2, d.stderr)
    assert.match(d.stdout + d.stderr, /damaged ogg file/)
    const gone = await alice.run(['send-voice', 'bob', join(work, 'nothing-here.wav')])
    assert.notEqual(gone.code, 0)
    assert.match(gone.stderr, /ENOENT|no such file/)
    assert.equal((await alice.json<FileInfo[]>(['files'])).length, before)
  })

  it('to a group: each member gets the note as a voice note of its own, and the group says so', async () => {
    const group = await alice.json<{ id: string }>(['group', 'create', 'club', 'bob'])
    await waitFor(async () => (await bob.json<Array<{ id: string }>>(['groups'])).find((g) => g.id === group.id), {
      what: 'bob to be in the club'
    })
    const note = join(work, 'short.wav')
    await writeFile(note, wavBytes(new Int16Array(16000 * 2)))
    const res = await alice.json<VoiceSendResult>(['send-voice', 'club', note])
    assert.equal(res.duration, 2000)
    const got = await waitFor(
      async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.id === res.id && f.status === 'complete'),
      { what: 'bob to have the group voice note' }
    )
    assert.equal(sha256(got.path), sha256(note))
    const said = (m: HistoryEntry) => m.text === '[voice note] 0:02, sent to each member'
    assert.ok((await alice.json<HistoryEntry[]>(['history', 'club'])).some(said), 'the line in the sender\'s group')
    await waitFor(async () => (await bob.json<HistoryEntry[]>(['history', 'club'])).find(said), {
      what: 'the line in bob\'s group'
    })
    const e = await transcribed(bob, 'alice', res.id)
    assert.equal(e.kind, 'voice')
  })

  it('kill -9 during a transcription: it is done after the restart', async () => {
    // 9 s of natural speech (two LibriVox clips that say "amiable"): the engine takes seconds on it, long enough to
    // be caught mid-transcription (it is looked for every 50 ms), short enough for a loaded machine.
    const pcm: Int16Array[] = []
    for (const f of readdirSync(LIBRIVOX).filter((n) => /-09[23]0\.wav$/.test(n)).sort()) {
      const b = readFileSync(join(LIBRIVOX, f))
      pcm.push(new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + b.byteLength)))
    }
    const all = new Int16Array(pcm.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of pcm) {
      all.set(p, at)
      at += p.length
    }
    const long = join(work, 'long.wav')
    await writeFile(long, wavBytes(all))
    const t0 = performance.now()
    const res = await alice.json<VoiceSendResult>(['send-voice', 'bob', long])
    const pid = bob.child.pid ?? 0
    await waitFor(() => engineChildren(pid).length > 0, { timeout: 120_000, interval: 50, what: "bob's engine to start on the note" })
    const orphans = engineChildren(pid)
    const caught = performance.now() - t0
    await bob.crash()
    assert.equal(
      (await waitFor(async () => (await alice.json<HistoryEntry[]>(['history', 'bob'])).find((m) => m.id === res.id))).kind,
      'voice'
    )
    bob = await fleet.start(bobDir, ['--name', 'bob'])
    const restarted = performance.now() - t0
    const e = await transcribed(bob, 'alice', res.id, 300_000)
    console.log(`# kill -9 at ${(caught / 1000).toFixed(1)} s, restarted at ${(restarted / 1000).toFixed(1)} s, transcript at ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    assert.equal(e.transcript?.status, 'done', JSON.stringify(e.transcript))
    assert.match(e.transcript?.text ?? '', /amiable/)
    // The engine of the killed node does not outlive it for long (it reads its input file and ends).
    await waitFor(() => orphans.every((p) => !existsSync(`/proc/${p}`)), { timeout: 120_000, what: 'the old engine to end' })
  })
})
