import { ApiClient } from '../api/client.ts'
import type { HistoryEntry, NodeApi, PeerInfo } from '../api/types.ts'
import { dataPaths, resolveDataDir } from '../node/data-dir.ts'
import { displayText, formatTime, out, shortId } from './output.ts'

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
  const width = Math.max(4, ...peers.map((p) => p.name.length))
  return peers
    .map(
      (p) =>
        `${p.connected ? '●' : '○'} ${(p.name || '-').padEnd(width)}  ${p.peerId}${p.connected ? '' : '  (offline)'}`
    )
    .join('\n')
}

export async function dialCommand(multiaddr: string, options: CommonOptions): Promise<void> {
  const res = await withApi(options, (api) => api.dial(multiaddr))
  show(options, res, (v) => `connected to ${v.name || '(no name)'} ${v.peerId}`)
}

export async function sendCommand(peer: string, text: string, options: CommonOptions): Promise<void> {
  const res = await withApi(options, (api) => api.send(peer, text))
  show(options, res, (v) =>
    v.status === 'pending'
      ? `${v.status} ${v.id} (the peer is offline; it goes out when the peer is back)`
      : `${v.status} ${v.id}`
  )
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
      const who = m.direction === 'out' ? 'me' : nameOf(m.from)
      const status = m.direction === 'out' ? `  [${m.status}]` : ''
      const text = m.kind === 'file' ? `[file] ${m.file?.name} (${m.file?.size} bytes, ${m.file?.status})` : m.text
      return `${formatTime(m.timestamp)}  ${who}: ${displayText(text)}${status}`
    })
    .join('\n')
}

export async function stopCommand(options: CommonOptions): Promise<void> {
  await withApi(options, (api) => api.stop())
  show(options, { stopped: true }, () => 'stopped')
}
