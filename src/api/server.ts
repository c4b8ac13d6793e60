import { chmod, rm } from 'node:fs/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import { ErrorCode, isP2pError } from '../errors.ts'
import { FILE_STATUS_CODES, registerFileRoutes } from './files.ts'
import { API_BODY_LIMIT, type ApiErrorBody, type NodeApi, type Visibility } from './types.ts'

const STATUS: Record<string, number> = {
  [ErrorCode.PEER_NOT_FOUND]: 404,
  [ErrorCode.PEER_AMBIGUOUS]: 409,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.INVALID_MESSAGE]: 400,
  [ErrorCode.INVALID_MULTIADDR]: 400,
  [ErrorCode.DIAL_FAILED]: 502,
  [ErrorCode.PEER_BLOCKED]: 409,
  [ErrorCode.RECORD_TAMPERED]: 409,
  ...FILE_STATUS_CODES
}


/**
 * The local HTTP+JSON API over a unix socket (mode 0600). Routes map one to one onto NodeApi; errors cross as
 * `{ code, message, hint?, details? }` with a matching HTTP status.
 */
export async function startApiServer(api: NodeApi, socketPath: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: API_BODY_LIMIT })

  app.setErrorHandler((err, _req, reply) => {
    let body: ApiErrorBody
    let status: number
    if (isP2pError(err)) {
      body = { code: err.code, message: err.message, hint: err.hint, details: err.details }
      status = STATUS[err.code] ?? 500
    } else if ((err as { validation?: unknown }).validation != null) {
      body = { code: ErrorCode.INVALID_ARGUMENT, message: (err as Error).message }
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

  app.get('/v1/id', async () => api.id())
  app.get('/v1/peers', async () => api.peers())
  app.post<{ Body: { multiaddr: string } }>(
    '/v1/dial',
    { schema: { body: obj({ multiaddr: { type: 'string', minLength: 1 } }, ['multiaddr']) } },
    async (req) => api.dial(req.body.multiaddr)
  )
  app.post<{ Body: { peer: string; text: string; replyTo?: string; waitMs?: number } }>(
    '/v1/messages',
    {
      schema: {
        body: obj(
          {
            peer: { type: 'string', minLength: 1 },
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
            peer: { type: 'string', minLength: 1 },
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
    schema: { body: obj({ peer: { type: 'string', minLength: 1 }, ...extra }, ['peer', ...required]) }
  })
  const name = { type: 'string', minLength: 1, maxLength: 256 }
  app.get('/v1/contacts', async () => api.contacts())
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
  app.get<{ Querystring: { peer: string } }>(
    '/v1/verify',
    { schema: { querystring: obj({ peer: { type: 'string', minLength: 1 } }, ['peer']) } },
    async (req) => api.verify(req.query.peer)
  )
  app.get('/v1/visibility', async () => api.visibility())
  app.post<{ Body: { visibility: Visibility } }>(
    '/v1/visibility',
    { schema: { body: obj({ visibility: { type: 'string' } }, ['visibility']) } },
    async (req) => api.visibility(req.body.visibility)
  )
  app.get<{ Querystring: { q: string; peer?: string; limit?: number } }>(
    '/v1/search',
    {
      schema: {
        querystring: obj(
          {
            q: { type: 'string', maxLength: 1024 },
            peer: { type: 'string', minLength: 1 },
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
    { schema: { body: obj({ out: { type: 'string', minLength: 1 }, anonymize: { type: 'boolean' } }, ['out']) } },
    async (req) => api.export(req.body)
  )
  registerFileRoutes(app, api)
  app.post('/v1/stop', async (_req, reply) => {
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
  return app
}

function obj(properties: Record<string, object>, required: string[]) {
  return { type: 'object', properties, required, additionalProperties: false }
}
