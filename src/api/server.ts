import { chmod, rm } from 'node:fs/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import { ErrorCode, isP2pError } from '../errors.ts'
import { FILE_STATUS_CODES, registerFileRoutes } from './files.ts'
import type { ApiErrorBody, NodeApi } from './types.ts'

const STATUS: Record<string, number> = {
  [ErrorCode.PEER_NOT_FOUND]: 404,
  [ErrorCode.PEER_AMBIGUOUS]: 409,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.INVALID_MESSAGE]: 400,
  [ErrorCode.INVALID_MULTIADDR]: 400,
  [ErrorCode.DIAL_FAILED]: 502,
  ...FILE_STATUS_CODES
}

/** Largest request body: one maximum-size message plus JSON escaping. */
const BODY_LIMIT = 512 * 1024

/**
 * The local HTTP+JSON API over a unix socket (mode 0600). Routes map one to one onto NodeApi; errors cross as
 * `{ code, message, hint?, details? }` with a matching HTTP status.
 */
export async function startApiServer(api: NodeApi, socketPath: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT })

  app.setErrorHandler((err, _req, reply) => {
    let body: ApiErrorBody
    let status: number
    if (isP2pError(err)) {
      body = { code: err.code, message: err.message, hint: err.hint, details: err.details }
      status = STATUS[err.code] ?? 500
    } else if ((err as { validation?: unknown }).validation != null) {
      body = { code: ErrorCode.INVALID_ARGUMENT, message: (err as Error).message }
      status = 400
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
  app.get<{ Querystring: { peer: string; limit?: number } }>(
    '/v1/messages',
    {
      schema: {
        querystring: obj(
          { peer: { type: 'string', minLength: 1 }, limit: { type: 'integer', minimum: 1, maximum: 10000 } },
          ['peer']
        )
      }
    },
    async (req) => api.history(req.query.peer, { limit: req.query.limit })
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
