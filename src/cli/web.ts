import { spawn } from 'node:child_process'
import { ApiClient } from '../api/client.ts'
import { dataPaths, resolveDataDir } from '../node/data-dir.ts'
import type { CommonOptions } from './commands.ts'
import { show } from './commands.ts'
import { out } from './output.ts'

export interface WebOptions extends CommonOptions {
  open?: boolean
  rotate?: boolean
}

/** The system's way to open a URL in the browser, if it has one. */
function opener(): string {
  if (process.platform === 'darwin') return 'open'
  if (process.platform === 'win32') return 'explorer'
  return 'xdg-open'
}

/** `p2pnode web`: print (and with --open, open) the link that signs a browser in to the node's web app. */
export async function webCommand(options: WebOptions): Promise<void> {
  const dir = resolveDataDir(options.data)
  const client = new ApiClient(dataPaths(dir).socket, dir)
  let link
  try {
    link = options.rotate === true ? await client.rotateWebToken() : await client.webLink()
  } finally {
    await client.close()
  }
  show(options, link, (v) => v.url)
  if (options.open === true) {
    const child = spawn(opener(), [link.url], { stdio: 'ignore', detached: true })
    child.once('error', () => out.notice(`p2pnode: no browser could be started (${opener()}): open the link above yourself`))
    child.unref()
  }
}
