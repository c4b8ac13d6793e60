import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import type { ContactInfo, IdInfo, PeerInfo, VerifyResult } from '../../src/api/types.ts'
import { launch, NO_BROWSER, openApp } from '../helpers/browser.ts'
import { cleanup, Fleet, type NodeProcess, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

describe('web app: contacts, safety number, own id and addresses, dial (chromium)', { skip: NO_BROWSER }, () => {
  const fleet = new Fleet(LOCAL)
  let alice: NodeProcess
  let bob: NodeProcess
  let carol: NodeProcess
  let dave: NodeProcess
  let browser: BrowserContext
  let profile: string
  let page: Page

  before(async () => {
    alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    bob = await fleet.start(await fleet.dir(), ['--name', 'bob', '--no-web'])
    carol = await fleet.start(await fleet.dir(), ['--name', 'carol', '--no-web'])
    dave = await fleet.start(await fleet.dir(), ['--name', 'dave', '--no-web'])
    // Bob is here (connected), not a contact.
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
    ;({ browser, profile } = await launch())
    ;({ page } = await openApp(browser, alice))
  })
  after(async () => {
    await browser?.close()
    await fleet.close()
    if (profile != null) await cleanup(profile)
  })

  const contacts = () => alice.json<ContactInfo[]>(['contacts'])
  const contact = async (peerId: string) => (await contacts()).find((c) => c.peerId === peerId)
  const conversations = () => page.getByRole('navigation', { name: 'Conversations' })
  const status = () => page.getByRole('status')
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText())

  it('the dial box connects to a multiaddr and opens the conversation', async () => {
    const addr = (await carol.json<IdInfo>(['id'])).addrs[0]
    await page.getByRole('textbox', { name: 'Dial multiaddr' }).fill(addr)
    await page.getByRole('button', { name: 'Dial' }).click()
    await page.getByRole('heading', { name: 'carol' }).waitFor()
    const peers = await alice.json<PeerInfo[]>(['peers'])
    assert.ok(peers.some((p) => p.peerId === carol.peerId && p.connected), 'alice is connected to carol')
    await conversations().getByRole('button', { name: /carol/ }).waitFor()
  })

  it('add a contact by multiaddr ("Peer address", a name of ours); a wrong address says what the CLI says', async () => {
    await page.getByText('Add a contact').click()
    const form = page.getByRole('form', { name: 'Add a contact' })
    await form.getByRole('textbox', { name: 'Peer address' }).fill('/ip4/127.0.0.1/tcp/notaport')
    await form.getByRole('button', { name: 'Add' }).click()
    const cli = await alice.run(['contacts', 'add', '/ip4/127.0.0.1/tcp/notaport'])
    assert.notEqual(cli.code, 0)
    await status().filter({ hasText: /^error:/ }).waitFor()
    assert.equal(await status().textContent(), cli.stderr.trim(), 'the same message and hint as the CLI')

    const addr = (await dave.json<IdInfo>(['id'])).addrs[0]
    await form.getByRole('textbox', { name: 'Peer address' }).fill(addr)
    await form.getByRole('textbox', { name: 'Name' }).fill('Dave from work')
    await form.getByRole('button', { name: 'Add' }).click()
    await status().filter({ hasText: 'Dave from work is a contact' }).waitFor()
    const c = await contact(dave.peerId)
    assert.equal(c?.localName, 'Dave from work')
    await conversations().getByRole('button', { name: /Dave from work/ }).waitFor()
    assert.equal(await form.getByRole('textbox', { name: 'Peer address' }).inputValue(), '')
  })

  it('a peer here: add it from its conversation, mute and unmute it, remove it', async () => {
    await conversations().getByRole('button', { name: /bob/ }).click()
    await page.getByRole('heading', { name: 'bob' }).waitFor()
    assert.equal(await contact(bob.peerId), undefined)
    await page.getByRole('button', { name: 'Add contact' }).click()
    await waitFor(() => contact(bob.peerId), { what: 'bob a contact' })
    await page.getByRole('button', { name: 'Remove contact' }).waitFor()

    await page.getByRole('button', { name: 'Mute' }).click()
    await waitFor(async () => (await contact(bob.peerId))?.muted === true, { what: 'bob muted' })
    await page.getByRole('button', { name: 'Unmute' }).click()
    await waitFor(async () => (await contact(bob.peerId))?.muted === false, { what: 'bob unmuted' })

    await page.getByRole('button', { name: 'Remove contact' }).click()
    await waitFor(async () => (await contact(bob.peerId)) == null, { what: 'bob no longer a contact' })
    await page.getByRole('button', { name: 'Add contact' }).waitFor()
  })

  it('the safety number shown is the one both CLIs show', async () => {
    await page.getByRole('button', { name: 'Safety number' }).click()
    const mine = await alice.json<VerifyResult>(['verify', bob.peerId])
    const theirs = await bob.json<VerifyResult>(['verify', alice.peerId])
    assert.equal(mine.safetyNumber, theirs.safetyNumber)
    await page.getByText(mine.safetyNumber).waitFor()
  })

  it('own id and addresses, each with a copy button', async () => {
    await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin })
    const me = await alice.json<IdInfo>(['id'])
    await page.getByRole('button', { name: 'Copy my peer id' }).click()
    await status().filter({ hasText: 'Peer id copied' }).waitFor()
    assert.equal(await clipboard(), me.peerId)
    await page.getByText('My addresses').click()
    assert.ok(me.addrs.length > 0)
    for (const addr of me.addrs) {
      await page.getByText(addr, { exact: true }).waitFor()
      await page.getByRole('button', { name: `Copy address ${addr}` }).click()
      await waitFor(async () => (await clipboard()) === addr, { what: `${addr} copied` })
    }
  })
  it('the list: a peer that connects shows up without a reload, online; its message is the preview with an unread count, first; it leaves: offline', async () => {
    const erin = await fleet.start(await fleet.dir(), ['--name', 'erin', '--no-web'])
    await erin.json(['dial', (await alice.json<IdInfo>(['id'])).addrs[0]])
    const row = conversations().getByRole('button', { name: /erin/ })
    await row.getByRole('img', { name: 'online' }).waitFor()
    await erin.json(['send', 'alice', 'hi from erin'])
    await row.getByText('hi from erin').waitFor()
    await row.getByLabel('1 unread').waitFor()
    assert.match((await conversations().getByRole('button').first().textContent()) ?? '', /erin/, 'the newest conversation first')
    await row.click()
    await page.getByRole('heading', { name: 'erin' }).waitFor()
    await row.getByLabel('1 unread').waitFor({ state: 'hidden' })
    await erin.stop()
    await row.getByRole('img', { name: 'offline' }).waitFor({ timeout: 20_000 })
  })
})
