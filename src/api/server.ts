import { chmod, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import type { EventStreamOptions } from './events-route.ts'
import { registerApiRoutes } from './register.ts'
import type { ApiParts } from './routes.ts'
import { API_BODY_LIMIT } from './types.ts'

export interface ApiServerOptions {
  /** A connection that sends no request for this long is closed, ms (also between requests). @default 10000 */
  idleTimeout?: number
  /** Time a client has to send a request's headers, ms. @default 5000 */
  headersTimeout?: number
  /** Time a client has to send a whole request, ms (handling it may take longer). @default 10000 */
  requestTimeout?: number
  /** Connections open at once at most; more are closed as they come. @default 64 */
  maxConnections?: number
  /** Heartbeat, client limit and buffer limit of `GET /v1/events`. */
  events?: EventStreamOptions
}

/**
 * The local HTTP+JSON API over a unix socket (mode 0600). Routes (routes.ts) map one to one onto the API; errors cross as
 * `{ code, message, hint?, details? }` with a matching HTTP status. Requests are validated against their schemas
 * as sent (no coercion, no unknown fields), and a client that holds a connection without finishing a request is
 * cut off: the API cannot be made to hold sockets forever.
 */
export async function startApiServer(
  api: ApiParts,
  socketPath: string,
  options: ApiServerOptions = {}
): Promise<FastifyInstance> {
  const idle = options.idleTimeout ?? 10_000
  const headersTimeout = options.headersTimeout ?? 5000
  const app = Fastify({
    logger: false,
    bodyLimit: API_BODY_LIMIT,
    connectionTimeout: idle,
    keepAliveTimeout: idle,
    requestTimeout: options.requestTimeout ?? 10_000,
    http: { headersTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeout / 2)) }
  })
  // The idle timeout is for connections that send nothing; once a request is in, handling it may take its time
  // (hashing a large file, waiting for an ack). Node sets the keep-alive timeout again after the response.
  app.addHook('onRequest', async (req) => {
    req.raw.socket.setTimeout(0)
  })

  registerApiRoutes(app, api, { dataDir: dirname(socketPath), events: options.events })

  // A socket left by a crashed node is stale: we hold the data dir's lock, so nobody else is using it.
  await rm(socketPath, { force: true })
  const umask = process.umask(0o177)
  try {
    await app.listen({ path: socketPath })
  } finally {
    process.umask(umask)
  }
  await chmod(socketPath, 0o600)
  // Beyond this, new connections are closed at once (net.Server): a flood cannot exhaust the node's descriptors.
  app.server.maxConnections = options.maxConnections ?? 64
  return app
}
