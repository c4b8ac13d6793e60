import { resolve as resolvePath } from 'node:path'
import { enable } from '@libp2p/logger'
import { startApiServer } from '../api/server.ts'
import { dataPaths, resolveDataDir } from '../node/data-dir.ts'
import { P2pNode } from '../node/node.ts'
import { out } from './output.ts'
import { startPrompt } from './prompt.ts'

export interface StartOptions {
  data?: string
  name?: string
  listen?: string[]
  dial?: string[]
  mdns?: boolean
  visibility?: 'everyone' | 'contacts' | 'hidden'
  /** Where received files go. @default DATA/downloads */
  downloads?: string
  /** Larger files wait for `p2pnode accept`. @default 100 MiB */
  autoAcceptMax?: number
}

/**
 * Run the node in the foreground until SIGINT, SIGTERM, `p2pnode stop` or /quit. Prints `ready <peerId>` on
 * stdout once listening with the API up. Resolves with the exit status.
 */
export async function startCommand(options: StartOptions): Promise<number> {
  const dataDir = resolveDataDir(options.data)
  // Everything the node writes (LevelDB files, keys, exports) is for this user only.
  process.umask(0o077)
  // Errors of our own components (a peer's malformed frame, a failed save) go to stderr unless DEBUG says otherwise.
  if (process.env.DEBUG == null) enable('p2pnode:*:error')
  const node = await P2pNode.start({
    dataDir,
    name: options.name,
    listen: options.listen,
    dial: options.dial,
    mdns: options.mdns,
    visibility: options.visibility,
    downloads: options.downloads != null ? resolvePath(options.downloads) : undefined,
    files: options.autoAcceptMax != null ? { autoAcceptMax: options.autoAcceptMax } : undefined
  })
  let api: Awaited<ReturnType<typeof startApiServer>>
  try {
    api = await startApiServer(node, dataPaths(dataDir).socket)
  } catch (err) {
    await node.stop()
    throw err
  }

  const { promise: finished, resolve } = Promise.withResolvers<number>()
  let stopping = false
  const shutdown = async () => {
    if (stopping) return
    stopping = true
    prompt?.close()
    await node.stop()
    // The socket goes last: `p2pnode stop` returns once it is gone, and by then the data dir is free.
    await api.close()
    // Exit even if some library left a handle open; unref'd, so a clean exit is not delayed.
    setTimeout(() => process.exit(0), 2000).unref()
    resolve(0)
  }
  node.addEventListener('stopped', () => void shutdown())
  process.once('SIGINT', () => void shutdown())
  process.once('SIGTERM', () => void shutdown())

  const id = await node.id()
  out.line(`ready ${id.peerId}`)
  for (const notice of node.notices) out.notice(notice)
  out.notice(`p2pnode: ${id.name} listening on ${id.addrs.join(' ')} (data: ${dataDir})`)
  const prompt = process.stdin.isTTY ? startPrompt(node, () => void shutdown()) : undefined
  return finished
}
