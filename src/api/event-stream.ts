import { undiciClient } from './undici.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import type { ApiEvent, ResyncEvent } from './events.ts'

export type StreamEvent = ApiEvent | ResyncEvent

/** The node sends a heartbeat every 15 s: a stream silent for this long is dead, ms. */
const SILENT_MS = 45_000

/**
 * Parse a Server-Sent Events body into its `data` payloads (JSON), ignoring comments and fields p2pnode does not
 * send. Bounded: a frame larger than `maxFrame` characters ends the stream with an error.
 */
export async function* parseSse(body: AsyncIterable<Buffer | string>, maxFrame = 1024 * 1024): AsyncGenerator<unknown> {
  let buffer = ''
  const decoder = new TextDecoder()
  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
      if (data.length > 0) yield JSON.parse(data.join('\n'))
    }
    if (buffer.length > maxFrame) throw new Error(`an event of more than ${maxFrame} characters`)
  }
}

export interface EventStreamRequest {
  /** Replay what came after this event (the `id` of the last event seen). */
  lastEventId?: string
  signal?: AbortSignal
  /** The node answered: events from now on arrive on this stream. */
  onOpen?: () => void
}

/**
 * One connection to `GET /v1/events` on the node's socket: yields events until the stream ends or `signal`
 * aborts. Its own connection (a stream holds it), closed when done.
 */
export async function* openEventStream(socketPath: string, request: EventStreamRequest = {}): AsyncGenerator<StreamEvent> {
  const HttpClient = undiciClient()
  const client = new HttpClient('http://localhost', { socketPath, headersTimeout: 10_000, bodyTimeout: SILENT_MS })
  try {
    const res = await client.request({
      method: 'GET',
      path: '/v1/events',
      headers: request.lastEventId != null ? { 'last-event-id': request.lastEventId } : {},
      signal: request.signal
    })
    if (res.statusCode !== 200) {
      const e = (await res.body.json().catch(() => ({}))) as { code?: string; message?: string; hint?: string }
      const code = (Object.values(ErrorCode) as string[]).includes(e.code ?? '') ? (e.code as ErrorCode) : ErrorCode.INTERNAL
      throw new P2pError(code, e.message ?? `the event stream answered ${res.statusCode}`, { hint: e.hint })
    }
    request.onOpen?.()
    for await (const data of parseSse(res.body)) yield data as StreamEvent
  } finally {
    await client.destroy().catch(() => {})
  }
}

export interface FollowOptions {
  signal?: AbortSignal
  /** Start after this event (e.g. the node's newest when the caller started), so that nothing since is missed. */
  lastEventId?: string
  /** Called when the stream broke and is tried again (after a pause that grows to 5 s). */
  onReconnect?: (err: unknown) => void
  /** The first connection is open (events from now on will arrive). */
  onOpen?: () => void
}

/**
 * Follow the node's events for as long as `signal` allows: a broken stream is reopened with the last event's id,
 * so nothing is missed while the node kept it (else a `resync` event comes: reload what you show). Stops when the
 * node is gone (NO_NODE) or the stream cannot be had (BUSY), with that error.
 */
export async function followEvents(
  socketPath: string,
  onEvent: (event: StreamEvent) => void,
  options: FollowOptions = {}
): Promise<void> {
  let lastEventId = options.lastEventId
  let pause = 100
  let opened = false
  const aborted = () => options.signal?.aborted === true
  while (!aborted()) {
    try {
      const onOpen = () => {
        if (!opened) options.onOpen?.()
        opened = true
      }
      for await (const event of openEventStream(socketPath, { lastEventId, signal: options.signal, onOpen })) {
        pause = 100
        lastEventId = event.id
        onEvent(event)
      }
    } catch (err) {
      if (aborted()) return
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'BUSY') throw err
      options.onReconnect?.(err)
    }
    await new Promise((resolve) => setTimeout(resolve, pause))
    pause = Math.min(5000, pause * 2)
  }
}
