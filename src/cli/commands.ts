import { ApiClient } from '../api/client.ts'
import { API_BODY_LIMIT, type HistoryEntry, type NodeApi, type PeerInfo } from '../api/types.ts'
import { dataPaths, resolveDataDir } from '../node/data-dir.ts'
import { displayText, formatTime, out, padEnd, shortId, width } from './output.ts'
import { clockOf, voiceState } from './voice.ts'

export interface CommonOptions {
  data?: string
  json?: boolean
}

/** Run `fn` against the node on the data dir, closing the connection afterwards. */
export async function withApi<T>(options: CommonOptions, fn: (api: NodeApi) => Promise<T>): Promise<T> {
  const dir = resolveDataDir(options.data)
  const client = new ApiClient(dataPaths(dir).socket, dir)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/** Print `value` as JSON with --json, else as text. */
export function show<T>(options: CommonOptions, value: T, text: (v: T) => string): void {
  if (options.json === true) out.json(value)
  else out.line(text(value))
}

export async function idCommand(options: CommonOptions): Promise<void> {
  const id = await withApi(options, (api) => api.id())
  show(options, id, (v) =>
    [`peer id: ${v.peerId}`, `name:    ${v.name}`, 'addresses:', ...v.addrs.map((a) => `  ${a}`)].join('\n')
  )
}

export async function peersCommand(options: CommonOptions): Promise<void> {
  const peers = await withApi(options, (api) => api.peers())
  show(options, peers, formatPeers)
}

export function formatPeers(peers: PeerInfo[]): string {
  if (peers.length === 0)
    return 'no peers yet (others on your network appear by themselves; or: p2pnode dial <multiaddr>)'
  const columns = Math.max(4, ...peers.map((p) => width(p.name)))
  return peers
    .map(
      (p) =>
        `${p.connected ? '●' : '○'} ${padEnd(p.name || '-', columns)}  ${p.peerId}${p.connected ? (p.path != null && p.path !== 'direct' ? `  (${p.path})` : '') : '  (offline)'}`
    )
    .join('\n')
}

export async function dialCommand(multiaddr: string, options: CommonOptions): Promise<void> {
  const res = await withApi(options, (api) => api.dial(multiaddr))
  show(options, res, (v) => `connected to ${v.name || '(no name)'} ${v.peerId}`)
}

export async function sendCommand(peer: string, text: string, options: CommonOptions): Promise<void> {
  if (text === '-') text = await readStdin()
  const res = await withApi(options, (api) => api.send(peer, text))
  show(options, res, (v) => {
    if (v.recipients != null) return `${v.id} delivered to ${v.delivered ?? 0} of ${v.recipients} (the others get it when they are back)`
    return v.status === 'pending'
      ? `${v.status} ${v.id} (the peer is offline; it goes out when the peer is back)`
      : `${v.status} ${v.id}`
  })
}

/**
 * The message text from stdin (`p2pnode send bob -`), without its final newline. Reads at most one byte more than
 * the API takes, so that a huge input is refused as too large rather than read whole.
 */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) out.notice('type the message, then Ctrl+D on a line of its own')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    size += chunk.byteLength
    if (size > API_BODY_LIMIT) break
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

export async function historyCommand(
  peer: string,
  options: CommonOptions & { limit?: number; before?: number; after?: number }
): Promise<void> {
  const query = { limit: options.limit, before: options.before, after: options.after }
  const [res, peers] = await withApi(options, (api) =>
    Promise.all([api.history(peer, query), options.json === true ? [] : api.peers()])
  )
  const names = new Map(peers.map((p) => [p.peerId, p.name]))
  show(options, res, (v) => formatHistory(v, (id) => names.get(id) || shortId(id)))
}

export function formatHistory(entries: HistoryEntry[], nameOf: (peerId: string) => string = shortId): string {
  if (entries.length === 0) return 'no messages yet'
  return entries
    .map((m) => {
      if (m.kind === 'system') return `${formatTime(m.timestamp)}  * ${displayText(m.text)}`
      const who = m.direction === 'out' ? 'me' : (m.fromName ?? nameOf(m.from))
      const status =
        m.direction !== 'out' ? '' : m.recipients != null ? `  [delivered to ${m.delivered ?? 0} of ${m.recipients}]` : `  [${m.status}]`
      if (m.kind === 'voice') {
        return `${formatTime(m.timestamp)}  ${who}: 🎤 ${clockOf(m.duration ?? 0)} ${voiceState(m)}  [${m.id.slice(0, 8)}]${status}`
      }
      const text = m.kind === 'file' ? `[file] ${m.file?.name} (${m.file?.size} bytes, ${m.file?.status})` : m.text
      return `${formatTime(m.timestamp)}  ${who}: ${displayText(text)}${status}`
    })
    .join('\n')
}

export async function stopCommand(options: CommonOptions): Promise<void> {
  await withApi(options, (api) => api.stop())
  show(options, { stopped: true }, () => 'stopped')
}
