import type { Connection } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import { MAX_FRAME_BYTES, MAX_IN_FLIGHT, MAX_IN_FLIGHT_BYTES } from './constants.ts'
import { ChatTimeoutError, ProtocolViolationError } from './errors.ts'
import { fromHex, isEOF } from '../util.ts'
import { type InboundItem, isMailboxUpdate, itemId, itemSize, openFrames, readFrame, readHello, readInbound, readReach } from './frames.ts'
import { Frame } from './pb/chat.ts'
import type { SessionHost } from './session-host.ts'
import type { Stream } from '@libp2p/interface'

/**
 * A chat stream the peer opened: it greets first, we greet back, then its messages are stored and acked until the
 * stream ends (or idles out). Throws for a stream that breaks the rules; the caller resets it.
 */
export async function serveInbound(host: SessionHost, stream: Stream, connection: Connection): Promise<void> {
  const peer = connection.remotePeer.toString()
  const frames = openFrames(stream)
  const first = await readFrame(frames, { signal: AbortSignal.timeout(host.timeouts.hello) })
  const hello = readHello(first)
  await frames.write(Frame.encode(host.helloFrame()))
  host.onHello(peer, hello.name, connection, readReach(first))
  host.onMailboxFrame(peer, first)
  await new InboundSession(host, peer, frames).run()
}

/**
 * The peer's side of a chat stream as we receive it: frames are read as they come and queued; whatever is queued
 * is stored in one batch and acked in one frame. Under load that batches naturally; a lone message goes at once.
 */
export class InboundSession {
  private readonly host: SessionHost
  private readonly peer: string
  private readonly frames: LengthPrefixedStream
  private readonly queue: InboundItem[] = []
  private queuedBytes = 0
  private wakeup = Promise.withResolvers<void>()
  private ended = false

  constructor(host: SessionHost, peer: string, frames: LengthPrefixedStream) {
    this.host = host
    this.peer = peer
    this.frames = frames
  }

  async run(): Promise<void> {
    const reader = this.read().finally(() => {
      this.ended = true
      this.wakeup.resolve()
    })
    await Promise.all([reader, this.store()])
  }

  private async read(): Promise<void> {
    const idle = new AbortController()
    const timer = setTimeout(() => idle.abort(new ChatTimeoutError('idle')), this.host.timeouts.idle)
    try {
      for (;;) {
        let frame: Frame
        try {
          frame = await readFrame(this.frames, { signal: idle.signal })
        } catch (err) {
          if (isEOF(err) || idle.signal.aborted) return
          throw err
        }
        timer.refresh()
        if (isMailboxUpdate(frame)) {
          this.host.onMailboxFrame(this.peer, frame)
          continue
        }
        const item = readInbound(frame)
        this.queue.push(item)
        this.queuedBytes += itemSize(item)
        // An honest sender never has more than MAX_IN_FLIGHT messages or MAX_IN_FLIGHT_BYTES unacknowledged.
        if (this.queue.length > MAX_IN_FLIGHT) throw new ProtocolViolationError('too many unacknowledged messages')
        if (this.queuedBytes > MAX_IN_FLIGHT_BYTES + MAX_FRAME_BYTES) {
          throw new ProtocolViolationError('too many unacknowledged bytes')
        }
        this.wakeup.resolve()
      }
    } finally {
      clearTimeout(timer)
    }
  }

  private async store(): Promise<void> {
    const to = this.host.self
    for (;;) {
      if (this.queue.length === 0) {
        if (this.ended) return
        await this.wakeup.promise
        this.wakeup = Promise.withResolvers()
        continue
      }
      const batch = this.queue.splice(0)
      this.queuedBytes = 0
      // Persist first, then ack: an ack is a promise that the message is on disk.
      const acked: string[] = []
      const refused = new Map<string, string[]>()
      for (let i = 0; i < batch.length; ) {
        const item = batch[i]
        if (item.type === 'message') {
          // Consecutive one-to-one messages: one batch.
          let j = i
          while (j < batch.length && batch[j].type === 'message') j++
          const texts = batch.slice(i, j).map((b) => (b as Extract<InboundItem, { type: 'message' }>).message)
          const added = await this.host.store.addIncoming(texts.map((m) => ({ ...m, peer: this.peer, to })))
          for (const message of added) this.host.onMessage(message)
          acked.push(...texts.map((m) => m.id))
          i = j
          continue
        }
        const outcome = await this.host.receiveGroupItem(this.peer, item)
        if ('refused' in outcome) refused.set(outcome.refused, [...(refused.get(outcome.refused) ?? []), itemId(item)])
        else acked.push(itemId(item))
        i++
      }
      const answers: Uint8Array[] = []
      if (acked.length > 0) answers.push(Frame.encode({ ack: { ids: acked.map(fromHex) } }))
      for (const [reason, ids] of refused) answers.push(Frame.encode({ refused: { ids: ids.map(fromHex), reason } }))
      await this.frames.writeV(answers)
    }
  }
}
