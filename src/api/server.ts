import { chmod, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import { levelReadError } from '../store/index.ts'
import { FILE_STATUS_CODES, registerFileRoutes } from './files.ts'
import { API_BODY_LIMIT, type ApiErrorBody, type NodeApi, type Visibility } from './types.ts'
import { describeValidation, NO_QUERY, obj, TEXT, validatorCompiler } from './validation.ts'

const STATUS: Record<string, number> = {
  [ErrorCode.PEER_NOT_FOUND]: 404,
  [ErrorCode.PEER_AMBIGUOUS]: 409,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.INVALID_MESSAGE]: 400,
  [ErrorCode.INVALID_MULTIADDR]: 400,
  [ErrorCode.DIAL_FAILED]: 502,
  [ErrorCode.PEER_BLOCKED]: 409,
  [ErrorCode.PEER_NOT_P2PNODE]: 409,
  [ErrorCode.RECORD_TAMPERED]: 409,
  ...FILE_STATUS_CODES
}

export interface ApiServerOptions {
  /** A connection that sends no request for this long is closed, ms (also between requests). @default 10000 */
  idleTimeout?: number
  /** Time a client has to send a request's headers, ms. @default 5000 */
  headersTimeout?: number
  /** Time a client has to send a whole request, ms (handling it may take longer). @default 10000 */
  requestTimeout?: number
  /** Connections open at once at most; more are closed as they come. @default 64 */
  maxConnections?: number
}

/**
 * The local HTTP+JSON API over a unix socket (mode 0600). Routes map one to one onto NodeApi; errors cross as
 * `{ code, message, hint?, details? }` with a matching HTTP status. Requests are validated against their schemas
 * as sent (no coercion, no unknown fields), and a client that holds a connection without finishing a request is
 * cut off: the API cannot be made to hold sockets forever.
 */
/** LevelDB's complaint about a damaged database, as STORE_DAMAGED with the way out. */
function storeDamaged(err: unknown, dataDir: string): unknown {
  const mapped = levelReadError(err, join(dataDir, 'db'))
  if (mapped === err || !isP2pError(mapped)) return err
  return new P2pError(mapped.code, mapped.message, {
    hint: `stop the node (p2pnode stop), then run p2pnode doctor --repair --data ${dataDir}`,
    details: mapped.details,
    cause: err
  })
}

export async function startApiServer(
  api: NodeApi,
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
  app.setValidatorCompiler(validatorCompiler)
  // The idle timeout is for connections that send nothing; once a request is in, handling it may take its time
  // (hashing a large file, waiting for an ack). Node sets the keep-alive timeout again after the response.
  app.addHook('onRequest', async (req) => {
    req.raw.socket.setTimeout(0)
  })

  app.setErrorHandler((caught, _req, reply) => {
    // A read that found the database damaged says so (STORE_DAMAGED, with what to do), not INTERNAL.
    const err = storeDamaged(caught, dirname(socketPath))
    let body: ApiErrorBody
    let status: number
    if (isP2pError(err)) {
      body = { code: err.code, message: err.message, hint: err.hint, details: err.details }
      status = STATUS[err.code] ?? 500
    } else if ((err as FastifyError).validation != null) {
      const { validation = [], validationContext } = err as FastifyError
      body = { code: ErrorCode.INVALID_ARGUMENT, message: describeValidation(validation, validationContext) }
      status = 400
    } else if ((err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      body = { code: ErrorCode.INVALID_MESSAGE, message: `the request is larger than ${API_BODY_LIMIT} bytes` }
      status = 413
    } else if (((err as { statusCode?: number }).statusCode ?? 500) < 500) {
      // Fastify's own client errors (malformed JSON, wrong content type): the caller's mistake.
      body = { code: ErrorCode.INVALID_ARGUMENT, message: (err as Error).message }
      status = (err as { statusCode: number }).statusCode
    } else {
      body = { code: ErrorCode.INTERNAL, message: (err as Error).message }
      status = 500
    }
    void reply.status(status).send(body)
  })

  app.get('/v1/id', NO_QUERY, async () => api.id())
  app.get('/v1/peers', NO_QUERY, async () => api.peers())
  app.post<{ Body: { multiaddr: string } }>(
    '/v1/dial',
    { schema: { body: obj({ multiaddr: TEXT }, ['multiaddr']) } },
    async (req) => api.dial(req.body.multiaddr)
  )
  app.post<{ Body: { peer: string; text: string; replyTo?: string; waitMs?: number } }>(
    '/v1/messages',
    {
      schema: {
        body: obj(
          {
            peer: TEXT,
            text: { type: 'string' },
            replyTo: { type: 'string', pattern: '^[0-9a-f]{32}$' },
            waitMs: { type: 'integer', minimum: 0, maximum: 60000 }
          },
          ['peer', 'text']
        )
      }
    },
    async (req) => api.send(req.body.peer, req.body.text, { replyTo: req.body.replyTo, waitMs: req.body.waitMs })
  )
  app.get<{ Querystring: { peer: string; limit?: number; before?: number; after?: number } }>(
    '/v1/messages',
    {
      schema: {
        querystring: obj(
          {
            peer: TEXT,
            limit: { type: 'integer', minimum: 1, maximum: 10000 },
            before: { type: 'integer', minimum: 0 },
            after: { type: 'integer', minimum: 0 }
          },
          ['peer']
        )
      }
    },
    async (req) => api.history(req.query.peer, req.query)
  )
  const peerBody = (extra: Record<string, object> = {}, required: string[] = []) => ({
    schema: { body: obj({ peer: TEXT, ...extra }, ['peer', ...required]) }
  })
  const name = { ...TEXT, maxLength: 256 }
  app.get('/v1/contacts', NO_QUERY, async () => api.contacts())
  app.post<{ Body: { peer: string; name?: string } }>('/v1/contacts', peerBody({ name }), async (req) =>
    api.addContact(req.body.peer, { name: req.body.name })
  )
  app.post<{ Body: { peer: string; name: string } }>('/v1/contacts/rename', peerBody({ name }, ['name']), async (req) =>
    api.renameContact(req.body.peer, req.body.name)
  )
  app.post<{ Body: { peer: string } }>('/v1/contacts/remove', peerBody(), async (req) => api.removeContact(req.body.peer))
  app.post<{ Body: { peer: string; blocked?: boolean; muted?: boolean } }>(
    '/v1/peer-state',
    peerBody({ blocked: { type: 'boolean' }, muted: { type: 'boolean' } }),
    async (req) => api.setPeerState(req.body.peer, { blocked: req.body.blocked, muted: req.body.muted })
  )
  app.get('/v1/blocked', NO_QUERY, async () => api.blocked())
  app.get<{ Querystring: { peer: string } }>(
    '/v1/verify',
    { schema: { querystring: obj({ peer: TEXT }, ['peer']) } },
    async (req) => api.verify(req.query.peer)
  )
  app.get('/v1/visibility', NO_QUERY, async () => api.visibility())
  app.post<{ Body: { visibility: Visibility } }>(
    '/v1/visibility',
    { schema: { body: obj({ visibility: { type: 'string', enum: ['everyone', 'contacts', 'hidden'] } }, ['visibility']) } },
    async (req) => api.visibility(req.body.visibility)
  )
  app.get<{ Querystring: { q: string; peer?: string; limit?: number } }>(
    '/v1/search',
    {
      schema: {
        querystring: obj(
          {
            q: { type: 'string', maxLength: 1024 },
            peer: TEXT,
            limit: { type: 'integer', minimum: 1, maximum: 10000 }
          },
          ['q']
        )
      }
    },
    async (req) => api.search(req.query.q, { peer: req.query.peer, limit: req.query.limit })
  )
  app.post<{ Body: { out: string; anonymize?: boolean } }>(
    '/v1/export',
    { schema: { body: obj({ out: TEXT, anonymize: { type: 'boolean' } }, ['out']) } },
    async (req) => api.export(req.body)
  )
  registerFileRoutes(app, api)
  app.post('/v1/stop', { schema: { body: obj({}) } }, async (_req, reply) => {
    // Answer first, then stop: the caller waits for the socket to go away.
    reply.raw.on('finish', () => setImmediate(() => void api.stop()))
    return { stopping: true }
  })

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
