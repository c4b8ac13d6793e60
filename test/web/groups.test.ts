/** Groups in the web app (issue 10): listed with the conversations, who sent each message, "delivered to 2 of 2". */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import type { GroupInfo, HistoryEntry, IdInfo } from '../../src/api/types.ts'
import { launch, NO_BROWSER, openApp } from '../helpers/browser.ts'
import { cleanup, Fleet, type NodeProcess, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

describe('web app: groups (chromium)', { skip: NO_BROWSER }, () => {
  const fleet = new Fleet(LOCAL)
  let alice: NodeProcess
  let bob: NodeProcess
  let carol: NodeProcess
  let browser: BrowserContext
  let profile: string
  let page: Page
  let group: GroupInfo

  before(async () => {
    alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    bob = await fleet.start(await fleet.dir(), ['--name', 'bob', '--no-web'])
    carol = await fleet.start(await fleet.dir(), ['--name', 'carol', '--no-web'])
    for (const [a, b] of [[alice, bob], [alice, carol], [bob, carol]]) await a.json(['dial', (await b.json<IdInfo>(['id'])).addrs[0]])
    group = await bob.json<GroupInfo>(['group', 'create', 'team', 'alice', 'carol'])
    await waitFor(async () => (await alice.json<GroupInfo[]>(['groups'])).length === 1, { what: 'alice in the group' })
    ;({ browser, profile } = await launch())
    ;({ page } = await openApp(browser, alice))
  })
  after(async () => {
    await browser?.close()
    await fleet.close()
    if (profile != null) await cleanup(profile)
  })

  const log = () => page.getByRole('log', { name: 'Messages' })

  it('the group is listed with the conversations; its messages say who sent them, live', async () => {
    const row = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /#team/ })
    await row.waitFor()
    await row.click()
    await page.getByRole('heading', { name: '#team' }).waitFor()
    await page.getByText(/3 members: /).waitFor()
    await log().getByText('bob created the group team with alice, carol').waitFor()
    await bob.json(['send', 'team', 'from bob to the team'])
    await carol.json(['send', '#team', 'carol <b>here</b>'])
    const bobs = log().getByRole('listitem').filter({ hasText: 'from bob to the team' })
    await bobs.waitFor()
    assert.equal(await bobs.locator('.from').textContent(), 'bob')
    const carols = log().getByRole('listitem').filter({ hasText: 'carol <b>here</b>' })
    await carols.waitFor()
    assert.equal(await carols.locator('.from').textContent(), 'carol')
    assert.equal(await carols.locator('b').count(), 0, 'peer text is text')
  })

  it('what alice sends from the page reaches both and shows "delivered to 2 of 2"', async () => {
    await page.getByRole('textbox', { name: 'Message' }).fill('alice from the page')
    await page.getByRole('button', { name: 'Send' }).click()
    for (const n of [bob, carol]) {
      await waitFor(
        async () => (await n.json<HistoryEntry[]>(['history', group.id])).some((m) => m.text === 'alice from the page'),
        { what: 'it arrived' }
      )
    }
    await log().getByRole('listitem').filter({ hasText: 'alice from the page' }).getByText('delivered to 2 of 2').waitFor()
  })
})
