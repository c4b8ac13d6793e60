import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import type { FileInfo } from '../../src/api/files.ts'
import type { ContactInfo, HistoryEntry, IdInfo, PeerState, SearchResult } from '../../src/api/types.ts'
import { launch, NO_BROWSER, openApp, png } from '../helpers/browser.ts'
import { cleanup, Fleet, type NodeProcess, ROOT, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

describe('web app in a real browser (chromium)', { skip: NO_BROWSER }, () => {
  const fleet = new Fleet(LOCAL)
  let alice: NodeProcess
  let bob: NodeProcess
  let browser: BrowserContext
  let profile: string
  let page: Page
  let files: string
  const evil = '<img src=x onerror="window.pwned=1">'

  before(async () => {
    files = await fleet.dir()
    alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    // A peer name made of markup: it must show as text.
    bob = await fleet.start(await fleet.dir(), ['--name', evil, '--no-web'])
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

  const conversationWithBob = () => page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(escape(evil)) })

  it('1. type a message and press Enter: bob has it; bob answers from the CLI: it appears without a reload', async () => {
    await conversationWithBob().click()
    await page.getByRole('heading', { name: evil }).waitFor()
    const box = page.getByRole('textbox', { name: 'Message' })
    await box.fill('hello bob')
    await box.press('Shift+Enter')
    await box.pressSequentially('second line')
    await box.press('Enter')
    const mine = await waitFor(
      async () => (await bob.json<HistoryEntry[]>(['history', alice.peerId])).find((m) => m.text === 'hello bob\nsecond line'),
      { what: 'the message in bob\'s history' }
    )
    assert.equal(mine.direction, 'in')
    assert.equal(await box.inputValue(), '')
    await page.getByRole('log', { name: 'Messages' }).getByText('delivered').first().waitFor()

    // When the answer enters the DOM, by the page's clock (the same machine's as bob's).
    await page.evaluate(() => {
      const w = window as unknown as { arrived?: number }
      new MutationObserver((_records, observer) => {
        if (document.getElementById('message-list')?.textContent?.includes('answer from bob') === true) {
          w.arrived = Date.now()
          observer.disconnect()
        }
      }).observe(document.getElementById('message-list') as HTMLElement, { childList: true, subtree: true })
    })
    await bob.json(['send', 'alice', 'answer from bob'])
    await page.getByRole('log', { name: 'Messages' }).getByText('answer from bob').waitFor({ timeout: 15_000 })
    const answer = (await bob.json<HistoryEntry[]>(['history', alice.peerId])).find((m) => m.text === 'answer from bob')
    const arrived = await page.evaluate(() => (window as unknown as { arrived?: number }).arrived)
    assert.ok(answer != null && arrived != null)
    console.log(`# bob's send -> in alice's open page (DOM): ${arrived - answer.timestamp} ms`)
  })

  it('4. markup in a message text and a peer name is shown as text and runs nothing', async () => {
    const text = '<script>window.pwned=2</script><b>bold</b><img src=x onerror="window.pwned=3">'
    await bob.json(['send', 'alice', text])
    const log = page.getByRole('log', { name: 'Messages' })
    await log.getByText(text, { exact: true }).waitFor()
    assert.equal(await log.locator('b, script, img[src="x"]').count(), 0)
    assert.equal(await page.locator('#conversations img, #peer-head img').count(), 0)
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined)
    assert.equal(await page.getByRole('heading', { name: evil }).textContent(), evil)
  })

  it('2. a PNG renders inline at its natural size; a PDF is a card whose link downloads it byte-identical', async () => {
    const image = png(160, 90)
    await writeFile(join(files, 'picture.png'), image)
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(20_000)])
    await writeFile(join(files, 'paper.pdf'), pdf)
    await bob.json(['send-file', 'alice', join(files, 'picture.png')])
    await bob.json(['send-file', 'alice', join(files, 'paper.pdf')])
    const img = page.getByRole('img', { name: 'picture.png' })
    await img.waitFor({ timeout: 20_000 })
    await waitFor(() => img.evaluate((e) => (e as HTMLImageElement).complete && (e as HTMLImageElement).naturalWidth > 0), {
      what: 'the image loaded'
    })
    assert.deepEqual(
      await img.evaluate((e) => [(e as HTMLImageElement).naturalWidth, (e as HTMLImageElement).naturalHeight]),
      [160, 90]
    )
    const card = page.locator('.file-card', { hasText: 'paper.pdf' })
    const link = card.getByRole('link', { name: 'Download' })
    await link.waitFor({ timeout: 20_000 })
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()])
    assert.equal(download.suggestedFilename(), 'paper.pdf')
    assert.deepEqual(await readFile(await download.path()), pdf)
  })

  it('2. a 50 MB file attached in the page: the page showed progress, bob has it verified', async () => {
    const big = randomBytes(50 * 1024 * 1024)
    await writeFile(join(files, 'big.bin'), big)
    // Watch the upload's progress bar as it fills (it goes away when the upload is done).
    await page.evaluate(() => {
      const w = window as unknown as { seen: number[] }
      w.seen = []
      const timer = setInterval(() => {
        const bar = document.querySelector('progress[aria-label^="Uploading"]') as HTMLProgressElement | null
        if (bar != null) w.seen.push(bar.value)
        if (w.seen.length > 2000) clearInterval(timer)
      }, 5)
    })
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByRole('button', { name: 'Attach file' }).click()])
    await chooser.setFiles(join(files, 'big.bin'))
    const got = await waitFor(
      async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.name === 'big.bin' && f.status === 'complete'),
      { what: 'bob has big.bin', timeout: 120_000 }
    )
    // Known by its hash tree root (offer version 3); the bytes are what was attached.
    assert.match(got.root ?? '', /^[0-9a-f]{64}$/)
    assert.deepEqual(await readFile(got.path), big)
    const seen = await page.evaluate(() => (window as unknown as { seen: number[] }).seen)
    assert.ok(seen.length > 0, 'a progress bar was shown')
    assert.ok(new Set(seen).size > 1 || seen.length > 1, `the bar moved: ${seen.slice(0, 10).join(',')}`)
    await page.getByRole('log', { name: 'Messages' }).getByText('big.bin').first().waitFor()
  })

  it('4. a received .html / .svg with script runs nothing in the app: a download, not a page', async () => {
    await writeFile(join(files, 'trap.html'), '<script>window.opener && (window.opener.pwned = 4)</script>')
    await writeFile(join(files, 'trap.svg'), '<svg xmlns="http://www.w3.org/2000/svg"><script>parent.pwned=5</script></svg>')
    for (const name of ['trap.html', 'trap.svg']) {
      await bob.json(['send-file', 'alice', join(files, name)])
      const link = page.locator('.file-card', { hasText: name }).getByRole('link', { name: 'Download' })
      await link.waitFor({ timeout: 20_000 })
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()])
      assert.equal(download.suggestedFilename(), name)
      const res = await page.request.get(new URL((await link.getAttribute('href')) ?? '', page.url()).toString())
      assert.equal(res.headers()['content-type'], 'application/octet-stream')
      assert.match(res.headers()['content-disposition'], /^attachment/)
      assert.match(res.headers()['content-security-policy'], /^sandbox/)
      assert.equal(res.headers()['x-content-type-options'], 'nosniff')
    }
    assert.equal(await page.locator('iframe, object, embed').count(), 0)
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined)
  })

  it('3. search, rename, block and visibility from the page change what the CLI reports', async () => {
    await page.getByRole('searchbox', { name: 'Search' }).fill('answer')
    await page.getByRole('searchbox', { name: 'Search' }).press('Enter')
    const results = page.getByLabel('Search results')
    await results.getByText('answer from bob').waitFor()
    const cli = await alice.json<SearchResult[]>(['search', 'answer'])
    assert.equal(cli.length, 1)

    page.once('dialog', (d) => void d.accept('Bobby'))
    await page.getByRole('button', { name: 'Rename' }).click()
    await waitFor(async () => (await alice.json<ContactInfo[]>(['contacts'])).find((c) => c.peerId === bob.peerId)?.localName === 'Bobby', {
      what: 'bob renamed Bobby in the CLI'
    })
    await page.getByRole('heading', { name: 'Bobby' }).waitFor()

    await page.getByRole('button', { name: 'Block' }).click()
    await waitFor(async () => (await alice.json<PeerState[]>(['blocked'])).some((p) => p.peerId === bob.peerId), { what: 'bob blocked' })
    await page.getByRole('button', { name: 'Unblock' }).click()
    await waitFor(async () => (await alice.json<PeerState[]>(['blocked'])).length === 0, { what: 'bob unblocked' })

    await page.getByRole('combobox', { name: 'Visibility' }).selectOption('contacts')
    await waitFor(async () => (await alice.json<{ visibility: string }>(['visibility'])).visibility === 'contacts', { what: 'visibility contacts' })
  })

  it('a screenshot of the page (UPDATE_SCREENSHOT=1 writes it to docs/web-app.png for the README)', async () => {
    await page.getByRole('searchbox', { name: 'Search' }).fill('')
    await page.getByRole('searchbox', { name: 'Search' }).press('Enter')
    // A reply, so that the picture shows one with its quote.
    const log = page.getByRole('log', { name: 'Messages' })
    await log.getByRole('listitem').filter({ hasText: 'answer from bob' }).getByRole('button', { name: /^Reply/ }).click()
    await page.getByRole('textbox', { name: 'Message' }).fill('Thanks, the picture and the paper came through.')
    await page.getByRole('textbox', { name: 'Message' }).press('Enter')
    await log.getByRole('button', { name: '↪ answer from bob' }).waitFor()
    await page.getByRole('status').waitFor({ state: 'hidden' })
    const path = process.env.UPDATE_SCREENSHOT === '1' ? join(ROOT, 'docs', 'web-app.png') : join(files, 'web-app.png')
    await mkdir(join(path, '..'), { recursive: true })
    const shot = await page.screenshot({ path })
    assert.ok(shot.length > 10_000, 'a real picture')
  })
})

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
