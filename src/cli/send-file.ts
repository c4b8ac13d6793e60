import { resolve } from 'node:path'
import type { SingleBar } from 'cli-progress'
import type { FileInfo } from '../api/files.ts'
import type { ApiClient } from '../api/client.ts'
import type { StreamEvent } from '../api/event-stream.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import type { CommonOptions } from './commands.ts'
import { bytes, out, shortId } from './output.ts'

/** The rate shown is over this much recent time. */
const RATE_WINDOW_MS = 5000
const FINAL = new Set(['complete', 'failed', 'cancelled'])

export interface SendFileOptions extends CommonOptions {
  /** true: --wait (wait whatever happens); false: --no-wait (return once recorded); undefined: neither. */
  wait?: boolean
}

/** Where a transfer stands, seen from the sender: the receiver is away, must accept, or takes it. */
type Stage = 'offline' | 'accept' | 'moving' | 'over'

function stageOf(info: FileInfo, online: boolean): Stage {
  if (FINAL.has(info.status)) return 'over'
  // 'offered': the receiver has not answered the offer. Connected, it will at once: only away is it "offline".
  if (info.status === 'offered') return online ? 'moving' : 'offline'
  // The receiver answered WAITING: it is over its auto-accept limit.
  if (info.status === 'waiting') return 'accept'
  return 'moving'
}

/**
 * `send-file`: offer the file, then follow it. Waits until the peer has it, verified, while the peer is here; if
 * it is offline or must accept first, says so and returns (the transfer goes on by itself), unless --wait or on a
 * terminal, where it shows why it waits. Ctrl+C stops watching, not the transfer. Returns the exit status.
 * Follows the node's events (GET /v1/events): transfer states, progress, the peer coming and going; no polling.
 */
export async function sendFile(api: ApiClient, peer: string, path: string, options: SendFileOptions) {
  if (options.wait === false) return finish(await api.sendFile(peer, resolve(path)), peer, '', path, options)
  const stopWatching = new AbortController()
  const onSigint = () => stopWatching.abort()
  process.once('SIGINT', onSigint)
  const events = new EventQueue(stopWatching.signal)
  // Subscribed before the offer, so that nothing about it is missed (a small file may be over at once).
  const { promise: opened, resolve: onOpen } = Promise.withResolvers<void>()
  const following = api.follow((e) => events.push(e), { signal: stopWatching.signal, onOpen })
  following.catch((err: unknown) => events.fail(err))
  let view: ProgressView | undefined
  let info: FileInfo
  let who: string
  try {
    await Promise.race([opened, following])
    const started = await api.sendFile(peer, resolve(path))
    const terminal = process.stderr.isTTY && options.json !== true
    const keepWaiting = options.wait === true || terminal
    // cli-progress is loaded only for a terminal's progress line (every command, start included, would load it).
    view = terminal ? new ProgressView(await progressBar(), started.size) : undefined
    info = started
    const here = (await api.peers()).find((x) => x.peerId === started.peer)
    let online = here?.connected === true
    who = here != null && here.name !== '' ? here.name : shortId(started.peer)
    for (;;) {
      const stage = stageOf(info, online)
      if (stage === 'over' || (!keepWaiting && (stage === 'offline' || stage === 'accept'))) break
      view?.update(info, stage, who)
      const e = await events.next()
      if (e == null) {
        view?.stop()
        out.notice(
          `stopped watching; the transfer goes on (p2pnode files shows it, p2pnode cancel ${info.id.slice(0, 8)} stops it)`
        )
        return 130
      }
      if (e.type === 'transfer' && e.transfer.id === info.id) info = e.transfer
      else if (e.type === 'progress' && e.transferId === info.id) info = { ...info, received: e.received }
      else if (e.type === 'peer' && e.peerId === info.peer) {
        online = e.connected
        if (e.name !== '') who = e.name
      } else if (e.type === 'resync') info = await api.file(info.id)
    }
  } finally {
    process.removeListener('SIGINT', onSigint)
    // The bar's line ends before the result is printed.
    view?.stop()
    stopWatching.abort()
  }
  return finish(info, peer, who, path, options)
}

/** Events waiting to be looked at (bounded: the oldest go first), and a failure of the stream. */
class EventQueue {
  private readonly items: StreamEvent[] = []
  private failure: unknown
  private wake: (() => void) | undefined
  private readonly signal: AbortSignal

  constructor(signal: AbortSignal) {
    this.signal = signal
    signal.addEventListener('abort', () => this.wake?.(), { once: true })
  }

  push(e: StreamEvent): void {
    if (e.type !== 'transfer' && e.type !== 'progress' && e.type !== 'peer' && e.type !== 'resync') return
    this.items.push(e)
    if (this.items.length > 10_000) this.items.shift()
    this.wake?.()
  }

  fail(err: unknown): void {
    this.failure = err
    this.wake?.()
  }

  /** The next event; undefined once `signal` aborts; throws if the stream failed for good (the node is gone). */
  async next(): Promise<StreamEvent | undefined> {
    while (this.items.length === 0) {
      if (this.signal.aborted) return undefined
      if (this.failure !== undefined) throw this.failure
      await new Promise<void>((resolve) => (this.wake = resolve))
      this.wake = undefined
    }
    if (this.signal.aborted) return undefined
    return this.items.shift()
  }
}

function finish(info: FileInfo, peer: string, who: string, path: string, options: SendFileOptions): number {
  if (info.status === 'failed' || info.status === 'cancelled') {
    throw new P2pError(ErrorCode.TRANSFER_FAILED, `${info.name} was not delivered: ${info.error ?? info.status}`, {
      details: sendResult(info),
      hint: `p2pnode files shows every transfer; to try again: p2pnode send-file ${peer} ${path}`
    })
  }
  const them = who || 'the peer'
  if (options.json === true) out.json(sendResult(info))
  else if (info.status === 'complete') out.line(`delivered ${info.id} ${info.name} (${bytes(info.size)})`)
  else if (info.status === 'waiting') {
    const why = info.waitReason ?? 'it is over their auto-accept limit'
    out.line(`waiting ${info.id} ${info.name}: ${them} must accept it (${why})`)
  } else if (who !== '' && info.status === 'offered') {
    out.line(`queued ${info.id} ${info.name}: ${them} is offline; it goes out when ${them} is back`)
  } else out.line(`${info.status} ${info.id} ${info.name} (it goes out when the peer is here; p2pnode files)`)
  return 0
}

function sendResult(f: FileInfo) {
  return { id: f.id, name: f.name, size: f.size, sha256: f.sha256, ...(f.root != null ? { root: f.root } : {}), status: f.status }
}

async function progressBar(): Promise<SingleBar> {
  const { default: cliProgress } = await import('cli-progress')
  return new cliProgress.SingleBar(
    { format: '{bar} {percentage}% | {done}/{total_bytes} {rate}{state}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic
  )
}

/** The progress line on a terminal: bytes and rate while the file moves, else why it waits. */
class ProgressView {
  private readonly bar: SingleBar
  private readonly samples: Array<{ at: number; bytes: number }> = []

  constructor(bar: SingleBar, size: number) {
    this.bar = bar
    this.bar.start(size, 0, { done: bytes(0), total_bytes: bytes(size), rate: '', state: '' })
  }

  update(info: FileInfo, stage: Stage, who: string): void {
    const now = Date.now()
    if (stage === 'moving') this.samples.push({ at: now, bytes: info.received })
    else this.samples.length = 0
    while (this.samples.length > 2 && now - this.samples[0].at > RATE_WINDOW_MS) this.samples.shift()
    const first = this.samples[0]
    const seconds = first == null ? 0 : (now - first.at) / 1000
    const rate = seconds > 0.5 ? `| ${bytes((info.received - first.bytes) / seconds)}/s` : ''
    const state =
      stage === 'offline'
        ? `| waiting for ${who} to come online`
        : stage === 'accept'
          ? `| waiting for ${who} to accept it`
          : ''
    this.bar.update(info.received, { done: bytes(info.received), rate, state })
  }

  stop(): void {
    this.bar.stop()
  }
}
