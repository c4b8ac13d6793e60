import { resolve } from 'node:path'
import type { Command } from 'commander'
import type { FileInfo } from '../api/files.ts'
import { ApiClient } from '../api/client.ts'
import type { ApiEvent } from '../api/events.ts'
import type { NodeApi } from '../api/types.ts'
import { dataPaths, resolveDataDir } from '../node/data-dir.ts'
import type { CommonOptions } from './commands.ts'
import type { PeerNames } from './peer-names.ts'
import { bytes, clock, displayText, out, padEnd, shortId, width } from './output.ts'
import { sendFile, type SendFileOptions } from './send-file.ts'

type Run = <A extends unknown[]>(fn: (...args: A) => Promise<unknown>) => (...args: A) => Promise<void>
type CommandFactory = (name: string, description: string) => Command

/** `send-file`, `files`, `accept`, `cancel`: registered on the program by cli/index.ts. */
export function registerFileCommands(command: CommandFactory, run: Run): void {
  command('send-file', 'send a file; waits until the peer has it, verified: {"id","name","size","sha256","status"}')
    .argument('<peer>', 'peer id, display name or multiaddr')
    .argument('<path>', 'the file to send')
    .option('--wait', 'wait even while the peer is offline or has to accept the file')
    .option('--no-wait', 'return once the file is queued (it goes out when the peer is here)')
    .action(
      run((peer: string, path: string, opts: SendFileOptions) => withFiles(opts, (api) => sendFile(api, peer, path, opts)))
    )
  command(
    'files',
    'transfers both ways: [{"id","peer","direction","name","size","received","status","sha256","path"}]'
  ).action(run((opts: CommonOptions) => filesCommand(opts)))
  command('accept', 'accept an incoming file that waits (over the auto-accept limit)')
    .argument('<id>', 'transfer id (p2pnode files)')
    .action(run((id: string, opts: CommonOptions) => byIdCommand('accept', id, opts)))
  command('cancel', 'cancel a transfer, either way; a partly received file is deleted')
    .argument('<id>', 'transfer id (p2pnode files)')
    .action(run((id: string, opts: CommonOptions) => byIdCommand('cancel', id, opts)))
}

async function withFiles<T>(options: CommonOptions, fn: (api: ApiClient) => Promise<T>): Promise<T> {
  const dir = resolveDataDir(options.data)
  const client = new ApiClient(dataPaths(dir).socket, dir)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

export async function filesCommand(options: CommonOptions): Promise<void> {
  if (options.json === true) return out.json(await withFiles(options, (api) => api.files()))
  const [files, peers, contacts] = await withFiles(options, (api) =>
    Promise.all([api.files(), api.peers(), api.contacts()])
  )
  // Our name for a contact first, else the name the peer gave itself, else its short id.
  const names = new Map<string, string>()
  for (const p of peers) if (p.name !== '') names.set(p.peerId, p.name)
  for (const c of contacts.contacts) if (c.name !== '') names.set(c.peerId, c.name)
  out.line(formatFiles(files, names))
}

export function formatFiles(files: FileInfo[], names: ReadonlyMap<string, string> = new Map()): string {
  if (files.length === 0) return 'no file transfers yet (p2pnode send-file <peer> <path>)'
  const who = (peer: string) => names.get(peer) ?? shortId(peer)
  const columns = Math.max(...files.map((f) => width(who(f.peer))))
  return files
    .map((f) => {
      const arrow = f.direction === 'out' ? '→' : '←'
      const progress = f.status === 'complete' ? bytes(f.size) : `${bytes(f.received)}/${bytes(f.size)}`
      const where = f.status === 'complete' && f.direction === 'in' ? `  ${f.path}` : ''
      const why = f.error != null ? `  (${f.error})` : ''
      const peer = padEnd(who(f.peer), columns)
      return `${f.id}  ${arrow} ${peer}  ${f.status.padEnd(12)} ${progress.padStart(21)}  ${f.name}${where}${why}`
    })
    .join('\n')
}

async function byIdCommand(what: 'accept' | 'cancel', id: string, options: CommonOptions): Promise<void> {
  const res = await withFiles(options, (api) => (what === 'accept' ? api.accept(id) : api.cancel(id)))
  if (options.json === true) return out.json(res)
  out.line(`${res.status} ${res.id} ${res.name}`)
}

/** How often the interactive prompt prints a transfer's progress. */
const PROMPT_PROGRESS_MS = 2000

/**
 * File transfers in the interactive prompt: progress lines while a file moves, a line when one arrives, ends or
 * waits for `p2pnode accept`, from the node's `transfer` and `progress` events. `send` is the `/send <path>` handler.
 */
export function promptFiles(
  api: NodeApi,
  names: PeerNames,
  print: (text: string) => void,
  isHere: (peer: string) => boolean
): { send: (peer: string, path: string) => Promise<void>; onEvent: (e: ApiEvent) => Promise<void> } {
  const shown = new Map<string, number>()
  const t0 = new Map<string, { at: number; bytes: number }>()
  /** Incoming transfers already told of. */
  const seen = new Set<string>()
  const onEvent = async (e: ApiEvent) => {
    if (e.type === 'progress') {
      const { transferId: id, received, size } = e
      const now = Date.now()
      if (!t0.has(id)) t0.set(id, { at: now, bytes: received })
      if (t0.size > 1000) t0.delete(t0.keys().next().value ?? '')
      if (now - (shown.get(id) ?? 0) < PROMPT_PROGRESS_MS) return
      shown.set(id, now)
      if (shown.size > 1000) shown.delete(shown.keys().next().value ?? '')
      const start = t0.get(id) ?? { at: now, bytes: received }
      const rate = (received - start.bytes) / Math.max(0.001, (now - start.at) / 1000)
      const pct = size === 0 ? 100 : Math.floor((received / size) * 100)
      return print(`  ${id.slice(0, 8)} ${pct}% ${bytes(received)}/${bytes(size)} ${bytes(rate)}/s`)
    }
    if (e.type !== 'transfer') return
    const t = e.transfer
    const who = await names.of(t.peer)
    const first = t.direction === 'in' && !seen.has(t.id)
    if (t.direction === 'in') seen.add(t.id)
    if (seen.size > 10_000) seen.delete(seen.values().next().value ?? '')
    if (first && t.status === 'transferring') {
      // Its place in the conversation, among the messages (the offer arrives in order with them).
      print(`${clock(e.timestamp)} [${who}] sends a file: ${displayText(t.name)} (${bytes(t.size)})`)
    } else if (t.status === 'complete') {
      shown.delete(t.id)
      t0.delete(t.id)
      print(
        t.direction === 'in'
          ? `* received ${t.name} (${bytes(t.size)}) from ${who}: ${t.path}`
          : `* ${who} has ${t.name}, verified`
      )
    } else if (t.status === 'failed' || t.status === 'cancelled') {
      shown.delete(t.id)
      t0.delete(t.id)
      print(`* ${t.name} ${t.direction === 'in' ? 'from' : 'to'} ${who} ${t.status}${t.error ? `: ${t.error}` : ''}`)
    } else if (t.status === 'waiting' && t.direction === 'out') {
      print(`* ${who} must accept ${t.name} (${t.waitReason ?? 'it is over their auto-accept limit'}); it goes once they do`)
    } else if (t.status === 'waiting' && t.direction === 'in') {
      const what = t.voice === true ? `a voice note (${bytes(t.size)})` : `${t.name} (${bytes(t.size)})`
      print(`* ${who} offers ${what}: /accept ${t.id.slice(0, 8)} to take it, /cancel to refuse`)
    }
  }
  const send = async (peer: string, path: string) => {
    const t = await api.sendFile(peer, resolve(path))
    const who = await names.of(peer)
    print(`  sending ${t.name} (${bytes(t.size)}) to ${who} [${t.id}]`)
    if (!isHere(peer)) print(`  (${who} is offline: it goes out when they are back)`)
  }
  return { send, onEvent }
}
