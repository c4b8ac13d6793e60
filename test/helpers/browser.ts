import { existsSync } from 'node:fs'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { tempDir } from './cli.ts'
import type { NodeProcess } from './cli.ts'

/** Debian's chromium (.ci/run installs it); never a browser download. */
export const CHROMIUM = '/usr/bin/chromium'

/** A reason to skip the browser tests, or false. */
export const NO_BROWSER = existsSync(CHROMIUM) ? false : `${CHROMIUM} missing (apt-get install chromium; .ci/run does)`

/** Headless chromium with a fresh profile (given to playwright, which passes it as --user-data-dir). */
export async function launch(): Promise<{ browser: BrowserContext; profile: string }> {
  const profile = await tempDir('p2pnode-chromium-')
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1200, height: 760 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync'
    ]
  })
  return { browser, profile }
}

/** The node's web app in a new page, signed in with the link `p2pnode web` prints. */
export async function openApp(browser: BrowserContext, node: NodeProcess): Promise<{ page: Page; url: string; origin: string }> {
  const { url } = await node.json<{ url: string; port: number }>(['web'])
  const page = await browser.newPage()
  await page.goto(url)
  return { page, url, origin: new URL(url).origin }
}
