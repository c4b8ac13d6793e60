/**
 * Web app figures for `npm run bench`: a message from a peer → in the open page's DOM (p50/p99), the first page
 * load to interactive, and the front end's shipped size. Real nodes (the bin), Debian's chromium.
 *
 * Run alone: `node dist/bench/web.js`.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { ApiClient } from '../src/api/client.ts'
import type { IdInfo } from '../src/api/types.ts'
import { API_MODULES, API_MODULES_DIR } from '../src/api/web-server.ts'
import { launch, NO_BROWSER } from '../test/helpers/browser.ts'
import { cleanup, Fleet, ROOT } from '../test/helpers/cli.ts'
import { pct, type Row } from './stats.ts'

const MESSAGES = Number(process.env.BENCH_WEB_MESSAGES ?? 200)



/** Every file the node serves for the app: raw and gzip bytes. */
async function shippedSize(): Promise<{ raw: number; gzip: number; files: number }> {
  let raw = 0
  let gzip = 0
  let files = 0
  const dirs = [join(ROOT, 'web'), join(ROOT, 'dist', 'src', 'web')]
  const paths = [
    ...(await Promise.all(dirs.map(async (dir) => (await readdir(dir)).map((name) => join(dir, name))))).flat(),
    // The route table the app builds its client from.
    ...API_MODULES.map((name) => join(API_MODULES_DIR, name))
  ]
  for (const path of paths) {
    if (path.endsWith('.map') || !(await stat(path)).isFile()) continue
    const body = await readFile(path)
    raw += body.length
    gzip += gzipSync(body).length
    files++
  }
  return { raw, gzip, files }
}

export async function webBench(): Promise<Row[]> {
  const size = await shippedSize()
  const rows: Row[] = [
    {
      metric: `web app shipped size (${size.files} files)`,
      value: `${(size.gzip / 1024).toFixed(1)} KiB gzip (${(size.raw / 1024).toFixed(1)} KiB)`,
      baseline: '',
      target: '< 200 KiB gzip'
    }
  ]
  if (NO_BROWSER !== false) {
    rows.push({ metric: 'web app in the browser', value: `skipped: ${NO_BROWSER}`, baseline: '', target: '' })
    return rows
  }
  const fleet = new Fleet(['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'])
  const { browser, profile } = await launch()
  try {
    const alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    const bob = await fleet.start(await fleet.dir(), ['--name', 'bob', '--no-web'])
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
    await bob.json(['send', 'alice', 'hello'])

    const { url } = await alice.json<{ url: string }>(['web'])
    const page = await browser.newPage()
    const t0 = performance.now()
    await page.goto(url)
    const conversation = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /bob/ })
    await conversation.waitFor()
    const loadMs = performance.now() - t0
    await conversation.click()
    await page.getByRole('log', { name: 'Messages' }).getByText('hello').waitFor()

    // The page notes when each message's text enters the DOM; bob's node is asked to send it over its socket.
    await page.evaluate(() => {
      const w = window as unknown as { seen: Record<string, number> }
      w.seen = {}
      new MutationObserver(() => {
        for (const p of document.querySelectorAll('#message-list .text')) {
          const text = p.textContent ?? ''
          if (text.startsWith('bench ') && w.seen[text] == null) w.seen[text] = Date.now()
        }
      }).observe(document.getElementById('message-list') as HTMLElement, { childList: true, subtree: true })
    })
    const api = new ApiClient(join(bob.dataDir, 'api.sock'), bob.dataDir)
    const delays: number[] = []
    try {
      for (let i = 0; i < MESSAGES; i++) {
        const text = `bench ${i}`
        const sent = Date.now()
        await api.send(alice.peerId, text, { waitMs: 0 })
        await page.waitForFunction((t) => (window as unknown as { seen: Record<string, number> }).seen[t] != null, text)
        const seen = await page.evaluate((t) => (window as unknown as { seen: Record<string, number> }).seen[t], text)
        delays.push(seen - sent)
      }
    } finally {
      await api.close()
    }
    delays.sort((a, b) => a - b)
    rows.push(
      {
        metric: `peer message → page DOM p50 / p99 (${MESSAGES})`,
        value: `${pct(delays, 50)} ms / ${pct(delays, 99)} ms`,
        baseline: '',
        target: 'p50 ≤ 50 ms'
      },
      { metric: 'web app first load (login link) → conversations shown', value: `${loadMs.toFixed(0)} ms`, baseline: '', target: '' }
    )
  } finally {
    await browser.close()
    await fleet.close()
    await cleanup(profile)
  }
  return rows
}

if (process.argv[1]?.endsWith('web.js')) {
  for (const r of await webBench()) console.log(`${r.metric}: ${r.value}${r.target !== '' ? ` (target ${r.target})` : ''}`)
}
