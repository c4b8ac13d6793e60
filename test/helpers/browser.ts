import { existsSync } from 'node:fs'
import { deflateSync } from 'node:zlib'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { tempDir } from './cli.ts'
import type { NodeProcess } from './cli.ts'

/** Debian's chromium (.ci/run installs it); never a browser download. */
export const CHROMIUM = '/usr/bin/chromium'

/** A reason to skip the browser tests, or false. */
export const NO_BROWSER = existsSync(CHROMIUM) ? false : `${CHROMIUM} missing (apt-get install chromium; .ci/run does)`

/**
 * Headless chromium with a fresh profile (given to playwright, which passes it as --user-data-dir). `proxy`: every
 * request goes through this HTTP proxy, loopback ones too (see CutProxy). With `microphone`, a fake microphone that
 * plays that WAV once (then silence), allowed without asking.
 */
export async function launch(options: { proxy?: string; microphone?: string } = {}): Promise<{ browser: BrowserContext; profile: string }> {
  const profile = await tempDir('p2pnode-chromium-')
  const mic =
    options.microphone == null
      ? []
      : ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${options.microphone}%noloop`]
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    ...(options.proxy != null ? { proxy: { server: options.proxy } } : {}),
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1200, height: 760 },
    ...(options.microphone != null ? { permissions: ['microphone'] } : {}),
    args: [
      ...mic,
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

/** A real PNG of `width` x `height` (grey), so the page's image has a natural size to check. */
export function png(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (b: Buffer) => {
    let c = 0xffffffff
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const sum = Buffer.alloc(4)
    sum.writeUInt32BE(crc(body))
    return Buffer.concat([len, body, sum])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 0 // greyscale
  // A grey gradient, row by row; each row starts with filter type 0.
  const rows = Buffer.alloc((width + 1) * height)
  for (let y = 0; y < height; y++) rows.fill(64 + Math.floor((160 * y) / height), y * (width + 1) + 1, (y + 1) * (width + 1))
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0))
  ])
}
