import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { ErrorCode, P2pError } from '../errors.ts'
import type { ApiEvent, EventLog, ResyncEvent } from './events.ts'
import { obj } from './validation.ts'

export interface EventStreamOptions {
  /** A comment line this often, so that clients and proxies notice a dead connection, ms. @default 15000 */
  heartbeatMs?: number
  /** Event streams open at once at most; more get 503. @default 16 */
  maxClients?: number
  /** A client that lets this many bytes pile up unread is dropped (it reconnects with Last-Event-ID). @default 1 MiB */
  maxBufferedBytes?: number
}

/** One SSE frame: `id`, `event` (the type) and the JSON. */
function frame(event: ApiEvent | ResyncEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
}

/**
 * `GET /v1/events`: the node's events as Server-Sent Events. With `Last-Event-ID` (header, or `?lastEventId=` for
 * clients that cannot set it; the header wins when both are sent) the events after it are sent first, or a
 * `resync` event when they are not all kept.
 */
export function registerEventRoute(app: FastifyInstance, log: EventLog, options: EventStreamOptions = {}): void {
  const heartbeatMs = options.heartbeatMs ?? 15_000
  const maxClients = options.maxClients ?? 16
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024
  const open = new Set<ServerResponse>()

  app.addHook('preClose', async () => {
    for (const res of open) res.end()
  })

  app.get<{ Querystring: { lastEventId?: string } }>(
    '/v1/events',
    { schema: { querystring: obj({ lastEventId: { type: 'string', maxLength: 128 } }) } },
    async (req, reply) => {
      if (open.size >= maxClients) {
        throw new P2pError(ErrorCode.BUSY, `too many event streams open (${maxClients})`, {
          hint: 'close another client of this node (a prompt, a browser tab), then try again'
        })
      }
      // The header wins: a browser reconnecting a stream opened with ?lastEventId= sends its newer last id in it.
      const header = req.headers['last-event-id']
      const lastEventId = (Array.isArray(header) ? header[0] : header) ?? req.query.lastEventId
      const res = reply.raw
      reply.hijack()
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no'
      })
      open.add(res)
      let unsubscribe = () => {}
      const heartbeat = setInterval(() => send(': heartbeat\n\n'), heartbeatMs)
      heartbeat.unref()
      const close = () => {
        clearInterval(heartbeat)
        unsubscribe()
        open.delete(res)
      }
      const send = (text: string) => {
        if (res.destroyed || res.writableEnded) return
        res.write(text)
        // A client that does not read gets no unbounded buffer: it is dropped and reconnects with its last id.
        if (res.writableLength > maxBuffered) {
          close()
          res.destroy()
        }
      }
      res.on('close', close)
      // The browser's EventSource waits this long before it reconnects, ms.
      send(`retry: 1000\n: p2pnode events ${log.lastId()}\n\n`)
      if (lastEventId != null && lastEventId !== '') {
        const replay = log.since(lastEventId)
        if ('resync' in replay) send(frame(replay.resync))
        else for (const e of replay.events) send(frame(e))
      }
      if (!res.destroyed) unsubscribe = log.subscribe((e) => send(frame(e)))
    }
  )
}
