import { resolve as resolvePath } from 'node:path'
import type { Interface } from 'node:readline'
import { enable, logger } from '@libp2p/logger'
import type { ApiClient } from '../api/client.ts'
import { startApiServer } from '../api/server.ts'
import { startWebServer, type WebServer } from '../api/web-server.ts'
import { dataPaths, resolveDataDir } from '../node/data-dir.ts'
import { P2pNode } from '../node/node.ts'
import { out } from './output.ts'

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
  /** Where the web app listens (`--web HOST:PORT`), or false for none. @default 127.0.0.1:7463, a free port if taken */
  web?: { host: string; port: number } | false
  /** Serve as a mailbox for others. */
  mailboxService?: boolean
  /** Voice notes' speech-to-text engine. @default pocketsphinx */
  asrEngine?: 'pocketsphinx' | 'sherpa-onnx'
  /** The engine's model directory. */
  asrModel?: string
  /** Serve others as a relay (circuit relay v2) and STUN server. */
  relayService?: boolean
  /** Relays to keep a reservation on (remembered). */
  relay?: string[]
  /** Addresses told to peers instead of the listen addresses. */
  announce?: string[]
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
    files: options.autoAcceptMax != null ? { autoAcceptMax: options.autoAcceptMax } : undefined,
    relayService: options.relayService,
    relays: options.relay,
    announce: options.announce,
    ...(options.mailboxService === true ? { mailbox: { service: true } } : {}),
    voice: { engine: options.asrEngine, model: options.asrModel != null ? resolvePath(options.asrModel) : undefined }
  })
  let api: Awaited<ReturnType<typeof startApiServer>>
  let web: WebServer | undefined
  try {
    if (options.web !== false) {
      web = await startWebServer(node.api, { dataDir, ...options.web, explicit: options.web != null })
      // `p2pnode web` asks the node for the link (GET /v1/web, on the socket).
      node.web.attach(web)
    }
    api = await startApiServer(node.api, dataPaths(dataDir).socket)
  } catch (err) {
    await web?.close()
    await node.stop()
    throw err
  }

  const { promise: finished, resolve } = Promise.withResolvers<number>()
  let promptApi: ApiClient | undefined
  let prompt: Interface | undefined
  let stopping = false
  const shutdown = async () => {
    if (stopping) return
    stopping = true
    prompt?.close()
    await web?.close()
    await promptApi?.close().catch(() => {})
    await node.stop()
    // The socket goes last: `p2pnode stop` returns once it is gone, and by then the data dir is free.
    await api.close()
    // Exit even if some library left a handle open; unref'd, so a clean exit is not delayed.
    setTimeout(() => process.exit(0), 2000).unref()
    resolve(0)
  }
  node.addEventListener('stopped', () => void shutdown())
  lastLineOfDefence(() => shutdown().then(() => process.exit(1)))
  process.once('SIGINT', () => void shutdown())
  process.once('SIGTERM', () => void shutdown())

  const id = await node.id()
  out.line(`ready ${id.peerId}`)
  for (const notice of node.notices) out.notice(notice)
  out.notice(`p2pnode: ${id.name} listening on ${id.addrs.join(' ')} (data: ${dataDir})`)
  for (const notice of web?.notices ?? []) out.notice(notice)
  if (web != null) out.notice(`p2pnode: web app on ${web.origin} (p2pnode web prints the link to open)`)
  // The prompt is a client of the API, as the CLI commands are. Loaded only on a terminal: the API client (undici)
  // is ~6 MB of a daemon's heap that it never uses.
  if (process.stdin.isTTY) {
    const [{ ApiClient }, { startPrompt }] = await Promise.all([import('../api/client.ts'), import('./prompt.ts')])
    promptApi = new ApiClient(dataPaths(dataDir).socket, dataDir)
    // It follows the events from the node's start on (`<run>-0`: all of this run's), so that what happened before it
    // subscribed (a --dial peer greeting while the servers started) is told too.
    prompt = startPrompt(promptApi, () => void shutdown(), { lastEventId: `${node.events.run}-0` })
  }
  return finished
}

/** Whether an uncaught error is a system error of one file or socket (an unheard 'error' event), not a bug mid-way. */
function isHandleError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException
  return err instanceof Error && typeof e.syscall === 'string' && typeof e.errno === 'number'
}

/**
 * Every error is meant to be handled where it happens; this is for the one that is not. A failed promise nobody
 * awaited, or an 'error' event of one file or socket nobody listened to, is logged and the node goes on: the
 * stack that failed was a callback's, not one half way through changing our state. Anything else may have left
 * the node inconsistent: it is logged and the node stops cleanly (database closed, api.sock removed), exit 1.
 */
function lastLineOfDefence(stop: () => Promise<unknown>): void {
  const log = logger('p2pnode:process')
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled rejection (a bug; the node keeps running): %s', (reason as Error)?.stack ?? String(reason))
  })
  process.on('uncaughtException', (err) => {
    if (isHandleError(err)) {
      log.error('unhandled error of a file or socket (a bug; the node keeps running): %s', err.stack)
      return
    }
    log.error('uncaught exception (a bug; the node stops): %s', err.stack)
    void stop()
  })
}
