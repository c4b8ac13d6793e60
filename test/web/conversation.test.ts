import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { ApiClient } from '../../src/api/client.ts'
import type { FileInfo } from '../../src/api/files.ts'
import type { HistoryEntry, IdInfo } from '../../src/api/types.ts'
import { dataPaths } from '../../src/node/data-dir.ts'
import { launch, NO_BROWSER, openApp, png } from '../helpers/browser.ts'
import { cleanup, Fleet, type NodeProcess, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

/** Width and height from a PNG's IHDR. */
function pngSize(b: Buffer): [number, number] {
  assert.equal(b.subarray(1, 4).toString('ascii'), 'PNG')
  return [b.readUInt32BE(16), b.readUInt32BE(20)]
}

/** Half a second of a 440 Hz tone, as a WAV file (8 kHz, 16-bit mono). */
function wav(): Buffer {
  const rate = 8000
  const samples = rate / 2
  const b = Buffer.alloc(44 + samples * 2)
  b.write('RIFF', 0, 'ascii')
  b.writeUInt32LE(36 + samples * 2, 4)
  b.write('WAVEfmt ', 8, 'ascii')
  b.writeUInt32LE(16, 16)
  b.writeUInt16LE(1, 20) // PCM
  b.writeUInt16LE(1, 22) // mono
  b.writeUInt32LE(rate, 24)
  b.writeUInt32LE(rate * 2, 28)
  b.writeUInt16LE(2, 32)
  b.writeUInt16LE(16, 34)
  b.write('data', 36, 'ascii')
  b.writeUInt32LE(samples * 2, 40)
  for (let i = 0; i < samples; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2)
  return b
}

/** Whether the element is within the visible part of the scrolled message log. */
function inView(item: Locator): Promise<boolean> {
  return item.evaluate((e) => {
    const box = e.getBoundingClientRect()
    const log = (document.getElementById('messages') as HTMLElement).getBoundingClientRect()
    return box.top >= log.top - 1 && box.bottom <= log.bottom + 1
  })
}

describe('web app: replies, the picture viewer, paste and the keyboard (chromium)', { skip: NO_BROWSER }, () => {
  const fleet = new Fleet(LOCAL)
  let alice: NodeProcess
  let bob: NodeProcess
  let browser: BrowserContext
  let profile: string
  let page: Page
  let files: string

  before(async () => {
    files = await fleet.dir()
    // Files over 100 kB wait for alice to accept them.
    alice = await fleet.start(await fleet.dir(), ['--name', 'alice', '--auto-accept-max', '100000'])
    bob = await fleet.start(await fleet.dir(), ['--name', 'bob', '--no-web'])
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
    // Bob takes alice's files without asking.
    await bob.json(['contacts', 'add', alice.peerId])
    ;({ browser, profile } = await launch())
    ;({ page } = await openApp(browser, alice))
  })
  after(async () => {
    await browser?.close()
    await fleet.close()
    if (profile != null) await cleanup(profile)
  })

  const log = () => page.getByRole('log', { name: 'Messages' })
  const item = (text: string) => log().getByRole('listitem').filter({ has: page.getByText(text, { exact: true }) })
  const box = () => page.getByRole('textbox', { name: 'Message' })
  const focused = (l: Locator) => l.evaluate((e) => e === document.activeElement)
  const bobHistory = () => bob.json<HistoryEntry[]>(['history', alice.peerId, '--limit', '500'])

  it('keyboard only: Tab to the conversation, Enter opens it, type, Tab to Send, Enter sends', async () => {
    await bob.json(['send', 'alice', 'hello alice'])
    const conversation = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /bob/ })
    await conversation.waitFor()
    await page.locator('body').focus()
    // Through the controls at the top (copy id, visibility, search, dial, ...) to the conversation list.
    for (let i = 0; i < 30 && !(await focused(conversation)); i++) await page.keyboard.press('Tab')
    assert.ok(await focused(conversation), 'the conversation is reached with Tab')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'bob' }).waitFor()
    await log().getByText('hello alice', { exact: true }).waitFor()
    assert.ok(await focused(box()), 'opening a conversation puts the focus in the message box')
    await page.keyboard.type('typed with the keyboard only')
    await page.keyboard.press('Tab')
    assert.ok(await focused(page.getByRole('button', { name: 'Send' })), 'Tab goes on to Send')
    await page.keyboard.press('Enter')
    await waitFor(async () => (await bobHistory()).some((m) => m.text === 'typed with the keyboard only'), { what: 'bob has it' })
  })

  it('the focused conversation keeps the focus when the list is redrawn (a message arrives)', async () => {
    const conversation = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /bob/ })
    await conversation.focus()
    await bob.json(['send', 'alice', 'arrives while the list has the focus'])
    // The preview shows it: the list was drawn again.
    await conversation.filter({ hasText: 'arrives while the list has the focus' }).waitFor()
    assert.ok(await focused(conversation), 'the focus stays on the conversation, not the page body')
  })

  it('reply: the Reply control of a message (by keyboard too), the composer shows what it answers and can cancel; the sent message carries replyTo', async () => {
    await bob.json(['send', 'alice', 'question from bob'])
    await item('question from bob').waitFor()
    const quoted = (await bobHistory()).find((m) => m.text === 'question from bob')
    assert.ok(quoted != null)

    // From the message box, Shift+Tab goes back past "Attach file" to the newest message's Reply.
    await box().focus()
    await page.keyboard.press('Shift+Tab')
    await page.keyboard.press('Shift+Tab')
    const reply = item('question from bob').getByRole('button', { name: /^Reply/ })
    assert.ok(await focused(reply), 'the newest message\'s Reply is the next control back')
    await page.keyboard.press('Enter')
    const replying = page.getByRole('group', { name: 'Reply' })
    await replying.getByText('Replying to: question from bob').waitFor()
    assert.ok(await focused(box()), 'the focus goes to the message box')
    await replying.getByRole('button', { name: 'Cancel reply' }).click()
    await replying.waitFor({ state: 'hidden' })
    // Escape cancels too.
    await reply.click()
    await replying.waitFor()
    await box().press('Escape')
    await replying.waitFor({ state: 'hidden' })

    await reply.click()
    await box().fill('the answer, as a reply')
    await box().press('Enter')
    await replying.waitFor({ state: 'hidden' })
    const mine = await waitFor(async () => (await bobHistory()).find((m) => m.text === 'the answer, as a reply'), {
      what: 'the reply in bob\'s history'
    })
    assert.equal(mine.replyTo, quoted.id)
    // Alice's own history says so too, and the page quotes the original above the reply.
    const hers = (await alice.json<HistoryEntry[]>(['history', bob.peerId])).find((m) => m.text === 'the answer, as a reply')
    assert.equal(hers?.replyTo, quoted.id)
    await item('the answer, as a reply').getByRole('button', { name: '↪ question from bob' }).waitFor()
  })

  it('what arrives meanwhile leaves the shown messages alone: a focused Reply keeps the focus', async () => {
    const reply = item('question from bob').getByRole('button', { name: /^Reply/ })
    await reply.focus()
    // A file's transfer events make the page reload the conversation's newest page.
    await writeFile(join(files, 'note.txt'), 'a note\n')
    await bob.json(['send-file', 'alice', join(files, 'note.txt')])
    await log().getByRole('listitem').filter({ hasText: 'note.txt' }).getByRole('link', { name: 'Download' }).waitFor({ timeout: 20_000 })
    assert.ok(await focused(reply), 'the Reply still has the focus')
  })

  it('a quote shows the original when clicked: the log scrolls to it and it gets the focus', async () => {
    // Enough messages after the original that it is out of sight.
    const api = new ApiClient(dataPaths(bob.dataDir).socket, bob.dataDir)
    try {
      for (let i = 0; i < 25; i++) await api.send(alice.peerId, `filler ${i}`, { waitMs: 0 })
    } finally {
      await api.close()
    }
    await item('filler 24').waitFor()
    await item('filler 24').scrollIntoViewIfNeeded()
    const original = item('question from bob')
    assert.equal(await inView(original), false, 'the original is out of sight first')
    await item('the answer, as a reply').scrollIntoViewIfNeeded()
    await item('the answer, as a reply').getByRole('button', { name: '↪ question from bob' }).click()
    await waitFor(() => inView(original), { what: 'the original scrolled into sight' })
    assert.ok(await focused(original), 'the original has the focus')
  })

  it('a picture opens full size in the page: a dialog with it at its natural size; Escape closes it and the focus comes back', async () => {
    const picture = png(900, 500)
    await writeFile(join(files, 'wide.png'), picture)
    await bob.json(['send-file', 'alice', join(files, 'wide.png')])
    const inline = log().getByRole('img', { name: 'wide.png' })
    await inline.waitFor({ timeout: 20_000 })
    await waitFor(() => inline.evaluate((e) => (e as HTMLImageElement).complete && (e as HTMLImageElement).naturalWidth > 0), {
      what: 'the picture loaded'
    })
    assert.ok((await inline.evaluate((e) => (e as HTMLImageElement).height)) < 500, 'shown smaller inline')
    const link = log().getByRole('link', { name: 'wide.png' })
    const pages = browser.pages().length
    await link.click()
    const viewer = page.getByRole('dialog', { name: 'wide.png' })
    await viewer.waitFor()
    const full = viewer.getByRole('img', { name: 'wide.png' })
    await waitFor(() => full.evaluate((e) => (e as HTMLImageElement).complete && (e as HTMLImageElement).naturalWidth > 0), {
      what: 'the full picture loaded'
    })
    assert.deepEqual(await full.evaluate((e) => [(e as HTMLImageElement).width, (e as HTMLImageElement).height]), [900, 500])
    assert.equal(browser.pages().length, pages, 'no new tab')
    await page.keyboard.press('Escape')
    await viewer.waitFor({ state: 'hidden' })
    assert.ok(await focused(link), 'the focus is back on the picture')
  })

  it('paste: a picture pasted into the message box is sent as a file (clipboard, Ctrl+V)', async () => {
    await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin })
    await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
      await navigator.clipboard.write([new ClipboardItem({ 'image/png': new Blob([bytes], { type: 'image/png' }) })])
    }, png(40, 30).toString('base64'))
    await box().focus()
    await page.keyboard.press('Control+V')
    // Chromium names a pasted picture image.png (and encodes it anew: same size, other bytes).
    const got = await waitFor(
      async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.direction === 'in' && f.name === 'image.png' && f.status === 'complete'),
      { what: 'bob has the pasted picture', timeout: 30_000 }
    )
    assert.deepEqual(pngSize(await readFile(got.path)), [40, 30])
    assert.equal(await box().inputValue(), '', 'nothing pasted as text')
    await log().getByRole('img', { name: 'image.png' }).waitFor()
  })
  it('drag and drop: a file dropped on the conversation is sent (the drop zone shows while dragging)', async () => {
    const drop = await page.evaluateHandle(() => {
      const dt = new DataTransfer()
      dt.items.add(new File(['dropped in the page\n'], 'dropped.txt', { type: 'text/plain' }))
      return dt
    })
    const chat = page.getByRole('main', { name: 'Conversation' })
    await chat.dispatchEvent('dragover', { dataTransfer: drop })
    assert.match((await chat.getAttribute('class')) ?? '', /\bdrop\b/)
    await chat.dispatchEvent('drop', { dataTransfer: drop })
    const got = await waitFor(
      async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.name === 'dropped.txt' && f.status === 'complete'),
      { what: 'bob has dropped.txt', timeout: 30_000 }
    )
    assert.equal(await readFile(got.path, 'utf8'), 'dropped in the page\n')
    assert.doesNotMatch((await chat.getAttribute('class')) ?? '', /\bdrop\b/)
  })

  it('a file over the auto-accept limit: Accept in the page fetches it; Cancel refuses another (bob\'s CLI sees both)', async () => {
    const first = randomBytes(300_000)
    await writeFile(join(files, 'large-one.bin'), first)
    await writeFile(join(files, 'large-two.bin'), randomBytes(300_000))
    await bob.json(['send-file', 'alice', join(files, 'large-one.bin')])
    const card = log().getByRole('listitem').filter({ hasText: 'large-one.bin' })
    await card.getByRole('button', { name: 'Accept' }).click({ timeout: 20_000 })
    await card.getByRole('link', { name: 'Download' }).waitFor({ timeout: 20_000 })
    const mine = await waitFor(
      async () => (await alice.json<FileInfo[]>(['files'])).find((f) => f.name === 'large-one.bin' && f.status === 'complete'),
      { what: 'alice has large-one.bin' }
    )
    assert.deepEqual(await readFile(mine.path), first)

    await bob.json(['send-file', 'alice', join(files, 'large-two.bin')])
    const second = log().getByRole('listitem').filter({ hasText: 'large-two.bin' })
    await second.getByRole('button', { name: 'Cancel' }).click({ timeout: 20_000 })
    await waitFor(
      async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.name === 'large-two.bin')?.status === 'cancelled',
      { what: 'bob sees large-two.bin cancelled' }
    )
    await second.getByText('cancelled').waitFor()
  })

  it('sound plays inline: a received WAV is an audio player with its length known', async () => {
    await writeFile(join(files, 'tone.wav'), wav())
    await bob.json(['send-file', 'alice', join(files, 'tone.wav')])
    const audio = log().getByRole('listitem').filter({ hasText: 'tone.wav' }).locator('audio[controls]')
    await audio.waitFor({ timeout: 20_000 })
    const duration = await waitFor(
      () => audio.evaluate((e) => ((e as HTMLAudioElement).readyState >= 1 ? (e as HTMLAudioElement).duration : 0)),
      { what: 'the audio metadata loaded' }
    )
    assert.ok(Math.abs(duration - 0.5) < 0.05, `duration ${duration}`)
  })

  it('history is paged: 50 at first, "Load older messages" until the first; a search result opens the conversation at its message', async () => {
    // Over two pages: the first and two more.
    const more = 110 - (await alice.json<HistoryEntry[]>(['history', bob.peerId, '--limit', '1000'])).length
    const api = new ApiClient(dataPaths(bob.dataDir).socket, bob.dataDir)
    try {
      for (let i = 0; i < more; i++) await api.send(alice.peerId, `more ${i}`, { waitMs: 0 })
    } finally {
      await api.close()
    }
    const last = `more ${more - 1}`
    const total = await waitFor(async () => {
      const n = (await alice.json<HistoryEntry[]>(['history', bob.peerId, '--limit', '1000'])).length
      return n >= 110 && n
    }, { what: 'alice has them all' })
    const open = async () => {
      await page.reload()
      await page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /bob/ }).click()
      await item(last).waitFor({ timeout: 20_000 })
    }

    // The oldest message is beyond the first page: the search result pages back to it.
    await open()
    assert.equal(await item('hello alice').count(), 0)
    await page.getByRole('searchbox', { name: 'Search' }).fill('hello')
    await page.getByRole('searchbox', { name: 'Search' }).press('Enter')
    await page.getByLabel('Search results').getByRole('button', { name: /hello alice/ }).click()
    await waitFor(async () => (await item('hello alice').count()) === 1 && (await inView(item('hello alice'))), {
      what: 'the found message shown and in sight'
    })
    assert.ok(await focused(item('hello alice')), 'the found message has the focus')

    await open()
    assert.equal(await log().getByRole('listitem').count(), 50)
    const older = page.getByRole('button', { name: 'Load older messages' })
    const items = log().getByRole('listitem')
    for (let i = 0; i < 10 && (await older.isVisible()); i++) {
      const shown = await items.count()
      await older.click()
      await waitFor(async () => (await items.count()) > shown, { what: 'an older page shown' })
    }
    assert.equal(await older.isVisible(), false, 'no older messages left')
    assert.equal(await log().getByRole('listitem').count(), total)
  })
})
