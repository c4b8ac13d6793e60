import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { BrowserContext, CDPSession, Page } from 'playwright-core'
import type { HistoryEntry, IdInfo } from '../../src/api/types.ts'
import { launch, NO_BROWSER } from '../helpers/browser.ts'
import { cleanup, Fleet, type NodeProcess, waitFor } from '../helpers/cli.ts'
import { CutProxy } from '../helpers/cut-proxy.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

/** What the page's EventSource received (chromium's DevTools protocol sees each event on the stream). */
interface Received {
  id: string
  type: string
  text?: string
}

describe('web app: a broken connection and a stopped node (chromium)', { skip: NO_BROWSER }, () => {
  const fleet = new Fleet(LOCAL)
  let aliceDir: string
  let alice: NodeProcess
  let bob: NodeProcess
  let port: number
  let proxy: CutProxy
  let browser: BrowserContext
  let profile: string
  let page: Page
  let cdp: CDPSession
  const received: Received[] = []

  before(async () => {
    aliceDir = await fleet.dir()
    alice = await fleet.start(aliceDir, ['--name', 'alice'])
    bob = await fleet.start(await fleet.dir(), ['--name', 'bob', '--no-web'])
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
    port = (await alice.json<{ port: number }>(['web'])).port
    // Everything the browser sends goes through a proxy the test can cut, as a network that drops out.
    proxy = await CutProxy.start()
    ;({ browser, profile } = await launch({ proxy: proxy.url }))
    page = await browser.newPage()
    cdp = await browser.newCDPSession(page)
    await cdp.send('Network.enable')
    cdp.on('Network.eventSourceMessageReceived', (e) => {
      const data = JSON.parse(e.data) as { message?: HistoryEntry }
      received.push({ id: e.eventId, type: e.eventName, text: data.message?.text })
    })
    await page.goto((await alice.json<{ url: string }>(['web'])).url)
  })
  after(async () => {
    await browser?.close()
    await proxy?.close()
    await fleet.close()
    if (profile != null) await cleanup(profile)
  })

  const log = () => page.getByRole('log', { name: 'Messages' })
  const status = () => page.getByRole('status')

  it('a brief break: the page says it reconnects, and what it missed is replayed on the stream (Last-Event-ID)', async () => {
    await page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /bob/ }).click()
    await bob.json(['send', 'alice', 'before the break'])
    await log().getByText('before the break', { exact: true }).waitFor()
    const last = await waitFor(() => received.findLast((e) => e.text === 'before the break'), { what: 'the event on the stream' })
    await page.evaluate(() => ((window as unknown as { sameLoad: boolean }).sameLoad = true))

    proxy.cut()
    await status().filter({ hasText: /Cannot reach the node.*reconnecting/ }).waitFor()
    const streamsBefore = proxy.requests.length
    await bob.json(['send', 'alice', 'missed one'])
    await bob.json(['send', 'alice', 'missed two'])
    // Nothing reaches the page while the network is down.
    assert.equal(await log().getByText(/^missed/).count(), 0)

    proxy.restore()
    await log().getByText('missed two', { exact: true }).waitFor({ timeout: 20_000 })
    await log().getByText('missed one', { exact: true }).waitFor()
    await status().filter({ hasText: /Cannot reach/ }).waitFor({ state: 'hidden' })
    // The page may show the missed messages from a history refresh before the browser's EventSource has retried:
    // wait (bounded) for the stream itself to deliver them, then look at how it asked.
    await waitFor(() => received.slice(received.indexOf(last) + 1).some((e) => e.type === 'message' && e.text === 'missed two'), {
      what: '"missed two" on the resumed event stream'
    })
    // The stream was opened again asking for what came after the last event the page had (as the node got the
    // request: the header, or the query of a stream the page opened anew), and got it.
    const streams = proxy.requests
      .slice(streamsBefore)
      .filter((r) => r.path.startsWith('/v1/events'))
      .map((r) => String(r.headers['last-event-id'] ?? new URL(r.path, 'http://x').searchParams.get('lastEventId')))
    console.log(`# streams after the break, resuming after: ${streams.join(", ")} (last seen ${last.id})`)
    assert.ok(streams.includes(last.id), `a stream resumed after ${last.id}: ${streams.join(', ')}`)
    const after = received.slice(received.indexOf(last) + 1)
    for (const text of ['missed one', 'missed two']) {
      assert.ok(after.some((e) => e.type === 'message' && e.text === text), `"${text}" came on the event stream`)
    }
    assert.equal(after.filter((e) => e.type === 'resync').length, 0, 'replayed, not a resync')
    assert.equal(await page.evaluate(() => (window as unknown as { sameLoad?: boolean }).sameLoad), true, 'no reload')
  })

  it('the node stops: the page says it cannot reach it; started again, the page recovers by itself', async () => {
    await alice.stop()
    await status().filter({ hasText: /Cannot reach the node.*p2pnode start/ }).waitFor({ timeout: 20_000 })
    // The message box keeps what was typed when sending fails.
    const box = page.getByRole('textbox', { name: 'Message' })
    await box.fill('typed while it was down')
    await box.press('Enter')
    await waitFor(async () => (await box.inputValue()) === 'typed while it was down', { what: 'the text given back' })

    alice = await fleet.start(aliceDir, ['--name', 'alice', '--web', `127.0.0.1:${port}`])
    await status().filter({ hasText: /Cannot reach/ }).waitFor({ state: 'hidden', timeout: 20_000 })
    await box.press('Enter')
    await waitFor(
      async () => (await bob.json<HistoryEntry[]>(['history', alice.peerId])).some((m) => m.text === 'typed while it was down'),
      { what: 'the message sent once the node was back', timeout: 30_000 }
    )
    await bob.json(['send', 'alice', 'after the restart'])
    await log().getByText('after the restart', { exact: true }).waitFor({ timeout: 20_000 })
    assert.equal(await page.evaluate(() => (window as unknown as { sameLoad?: boolean }).sameLoad), true, 'no reload')
  })
})
