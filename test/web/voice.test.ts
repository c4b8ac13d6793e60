import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import type { FileInfo } from '../../src/api/files.ts'
import type { HistoryEntry, IdInfo, SearchResult } from '../../src/api/types.ts'
import { POCKETSPHINX_MODEL, wordErrorRate } from '../../src/voice/index.ts'
import { launch, NO_BROWSER, openApp } from '../helpers/browser.ts'
import { cleanup, Fleet, type NodeProcess, ROOT, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
/** The fake microphone's input: LibriVox, "he was not an ill disposed young man" (2.99 s), then silence. */
const SPEECH = join(ROOT, 'test', 'fixtures', 'voice', 'librivox-0880.wav')
const SAID = 'he was not an ill disposed young man'
const NO_ENGINE =
  existsSync('/usr/bin/pocketsphinx_continuous') && existsSync(join(POCKETSPHINX_MODEL, 'mdef'))
    ? false
    : 'pocketsphinx and pocketsphinx-en-us are not installed (.ci/run installs them)'

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

describe('voice notes in the web app (chromium, a fake microphone fed from a WAV)', { skip: NO_BROWSER || NO_ENGINE }, () => {
  const fleet = new Fleet(LOCAL)
  let alice: NodeProcess
  let bob: NodeProcess
  let browser: BrowserContext
  let profile: string
  let page: Page
  let bobPage: Page
  let noteId: string

  before(async () => {
    alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    bob = await fleet.start(await fleet.dir(), ['--name', 'bob'])
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
    await bob.json(['contacts', 'add', alice.peerId])
    ;({ browser, profile } = await launch({ microphone: SPEECH }))
    ;({ page } = await openApp(browser, alice))
    ;({ page: bobPage } = await openApp(browser, bob))
  })
  after(async () => {
    await browser?.close()
    await fleet.close()
    if (profile != null) await cleanup(profile)
  })

  const open = async (p: Page, name: string) => {
    await p.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(name) }).click()
    await p.getByRole('heading', { name }).waitFor()
  }

  it('record, see the time run, send: the recording arrives byte-identical and is a voice note on both sides', async () => {
    await open(page, 'bob')
    await page.getByRole('button', { name: 'Record voice note' }).click()
    const elapsed = page.locator('#record-elapsed')
    // The speech lasts 2.99 s: record past its end.
    await page.waitForFunction(() => /^0:0[4-9]$/.test(document.getElementById('record-elapsed')?.textContent ?? ''), undefined, { timeout: 30_000 })
    assert.match((await elapsed.textContent()) ?? '', /^0:0\d$/)
    await page.getByRole('button', { name: 'Send voice note' }).click()
    const mine = await waitFor(async () => (await alice.json<HistoryEntry[]>(['history', 'bob'])).find((m) => m.kind === 'voice'), {
      what: 'the voice note in alice\'s history'
    })
    noteId = mine.id
    assert.ok((mine.duration ?? 0) >= 3500 && (mine.duration ?? 0) < 12_000, `duration ${mine.duration}`)
    const theirs = await waitFor(
      async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.id === noteId && f.status === 'complete'),
      { what: 'bob to have the note' }
    )
    const sent = (await alice.json<FileInfo[]>(['files'])).find((f) => f.id === noteId)
    assert.ok(sent != null)
    assert.match(sent.name, /^voice-.*\.webm$/)
    assert.equal(sha256(theirs.path), sha256(sent.path), 'byte-identical')
    assert.equal(theirs.sha256, sent.sha256)
  })

  it('both sides transcribe it; the pages show the transcript under a player that plays', async () => {
    for (const [node, peer] of [[alice, 'bob'], [bob, 'alice']] as const) {
      const e = await waitFor(
        async () => {
          const m = (await node.json<HistoryEntry[]>(['history', peer])).find((x) => x.id === noteId)
          return m?.transcript?.status !== 'pending' ? m : undefined
        },
        { timeout: 300_000, interval: 500, what: `${peer === 'bob' ? 'alice' : 'bob'}'s transcript` }
      )
      assert.equal(e?.transcript?.status, 'done', JSON.stringify(e?.transcript))
      const wer = wordErrorRate(SAID, e?.transcript?.text ?? '')
      console.log(`# recorded in chromium, transcribed by ${peer === 'bob' ? 'alice' : 'bob'}: "${e?.transcript?.text}" (word error rate ${(wer * 100).toFixed(0)} %)`)
      assert.ok(wer <= 0.6, `heard "${e?.transcript?.text}" for "${SAID}"`)
    }
    await open(bobPage, 'alice')
    for (const p of [page, bobPage]) {
      const note = p.locator(`figure.voice[data-voice="${noteId}"]`)
      await note.locator('.transcript.done').waitFor({ timeout: 30_000 })
      assert.match((await note.locator('.voice-time').textContent()) ?? '', /🎤 0:0\d/)
      await note.getByRole('button', { name: 'Play voice note' }).click()
      await p.waitForFunction(
        (id) => ((document.querySelector(`figure.voice[data-voice="${id}"] audio`) as HTMLAudioElement | null)?.currentTime ?? 0) > 0.3,
        noteId,
        { timeout: 15_000 }
      )
      // The scrubber follows, and moves the playback.
      await p.waitForFunction((id) => Number((document.querySelector(`figure.voice[data-voice="${id}"] .voice-scrub`) as HTMLInputElement).value) > 0, noteId)
      await note.locator('.voice-scrub').fill('0')
    }
    // UPDATE_SCREENSHOT=1 writes the receiver's page to docs/web-voice.png for the README.
    const path = process.env.UPDATE_SCREENSHOT === '1' ? join(ROOT, 'docs', 'web-voice.png') : join(profile, 'web-voice.png')
    assert.ok((await bobPage.screenshot({ path })).length > 10_000, 'a real picture')
  })

  it('search finds a word said in it, on both sides, as a voice note', async () => {
    const text = (await bob.json<HistoryEntry[]>(['history', 'alice'])).find((m) => m.id === noteId)?.transcript?.text ?? ''
    const word = text.split(/\s+/).find((w) => w.length >= 4 && SAID.includes(w)) ?? 'young'
    for (const node of [alice, bob]) {
      const hits = await node.json<SearchResult[]>(['search', word])
      assert.ok(hits.some((h) => h.id === noteId && h.kind === 'voice'), `${word}: ${JSON.stringify(hits)}`)
    }
    await page.getByRole('searchbox', { name: 'Search' }).fill(word)
    await page.getByRole('searchbox', { name: 'Search' }).press('Enter')
    const results = page.locator('#search-results')
    await results.getByText('🎤 voice note:').first().waitFor()
    assert.match((await results.textContent()) ?? '', new RegExp(word))
  })

  it('a recording cancelled before sending sends nothing', async () => {
    const before = (await alice.json<FileInfo[]>(['files'])).length
    await page.getByRole('button', { name: 'Record voice note' }).click()
    await page.waitForFunction(() => /^0:0[1-9]$/.test(document.getElementById('record-elapsed')?.textContent ?? ''))
    await page.getByRole('button', { name: 'Cancel' }).click()
    await page.getByRole('button', { name: 'Record voice note' }).waitFor()
    assert.equal(await page.locator('#recorder').isHidden(), true)
    // Sending anything else now shows that nothing of the recording went before it.
    await alice.json(['send', 'bob', 'after the cancelled recording'])
    await waitFor(async () => (await bob.json<HistoryEntry[]>(['history', 'alice'])).some((m) => m.text === 'after the cancelled recording'))
    assert.equal((await alice.json<FileInfo[]>(['files'])).length, before)
  })
})
