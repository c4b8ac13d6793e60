import { join } from 'node:path'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import { levelReadError } from '../store/index.ts'
import { type EventStreamOptions, registerEventRoute } from './events-route.ts'
import { FILE_STATUS_CODES } from './files.ts'
import { type ApiParts, argsOf, ROUTES, type RouteSpec } from './routes.ts'
import { API_BODY_LIMIT, type ApiErrorBody } from './types.ts'
import { describeValidation, obj, validatorCompiler } from './validation.ts'

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
  [ErrorCode.BUSY]: 503,
  [ErrorCode.WEB_OFF]: 409,
  [ErrorCode.MAILBOX_FAILED]: 502,
  [ErrorCode.GROUP_NOT_FOUND]: 404,
  [ErrorCode.NOT_GROUP_ADMIN]: 403,
  [ErrorCode.GROUP_FULL]: 400,
  ...FILE_STATUS_CODES
}

export interface RegisterOptions {
  /** The node's data dir: a damaged database is reported with the doctor command for it. */
  dataDir: string
  /** Heartbeat, client limit and buffer limit of `GET /v1/events`. */
  events?: EventStreamOptions
  /** Over HTTP (the web server): the socket-only routes (RouteSpec.socketOnly) are left out. */
  http?: boolean
}

/** LevelDB's complaint about a damaged database, as STORE_DAMAGED with the way out. */
function storeDamaged(err: unknown, dataDir: string): unknown {
  const mapped = levelReadError(err, join(dataDir, 'db'))
  if (mapped === err || !isP2pError(mapped)) return err
  if ((mapped.details as { problem?: string } | undefined)?.problem === 'unknown-version') return mapped
  return new P2pError(mapped.code, mapped.message, {
    hint: `stop the node (p2pnode stop), then run p2pnode doctor --repair --data ${dataDir}`,
    details: mapped.details,
    cause: err
  })
}

/** Any error as the API's `{ code, message, hint?, details? }` and its HTTP status. */
export function errorReply(caught: unknown, dataDir: string): { status: number; body: ApiErrorBody } {
  // A read that found the database damaged says so (STORE_DAMAGED, with what to do), not INTERNAL.
  const err = storeDamaged(caught, dataDir)
  if (isP2pError(err)) {
    return {
      status: STATUS[err.code] ?? 500,
      body: { code: err.code, message: err.message, hint: err.hint, details: err.details }
    }
  }
  if ((err as FastifyError).validation != null) {
    const { validation = [], validationContext } = err as FastifyError
    return { status: 400, body: { code: ErrorCode.INVALID_ARGUMENT, message: describeValidation(validation, validationContext) } }
  }
  if ((err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 413, body: { code: ErrorCode.INVALID_MESSAGE, message: `the request is larger than ${API_BODY_LIMIT} bytes` } }
  }
  const status = (err as { statusCode?: number }).statusCode ?? 500
  // Fastify's own client errors (malformed JSON, wrong content type): the caller's mistake.
  if (status < 500) return { status, body: { code: ErrorCode.INVALID_ARGUMENT, message: (err as Error).message } }
  return { status: 500, body: { code: ErrorCode.INTERNAL, message: (err as Error).message } }
}

/**
 * Register the whole local API (every route of ROUTES, strict validation, the error mapping) on a fastify
 * instance: the unix-socket server does, and so does the web server (adding its own checks in hooks, without the
 * socket-only routes).
 * Requests are validated as sent: no coercion, no unknown fields. Set the instance's bodyLimit to API_BODY_LIMIT.
 */
export function registerApiRoutes(app: FastifyInstance, api: ApiParts, options: RegisterOptions): void {
  app.setValidatorCompiler(validatorCompiler)
  app.setErrorHandler((caught, _req, reply) => {
    const { status, body } = errorReply(caught, options.dataDir)
    void reply.status(status).send(body)
  })
  for (const spec of Object.values(ROUTES) as RouteSpec[]) {
    if (spec.socketOnly === true && options.http === true) continue
    const part = api[spec.part] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
    const input = spec.input ?? obj({})
    app.route({
      method: spec.method,
      url: spec.path,
      schema: {
        ...(spec.method === 'GET' ? { querystring: input } : { body: input }),
        ...(spec.params != null ? { params: spec.params } : {})
      },
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const fields = {
          ...(req.params as Record<string, unknown>),
          ...((spec.method === 'GET' ? req.query : req.body) as Record<string, unknown>)
        }
        const args = argsOf(spec, fields)
        const call = () => part[spec.call](...args)
        if (spec.respondFirst !== undefined) {
          // Answer first, then call (stop: the caller waits for the socket to go away).
          reply.raw.on('finish', () => setImmediate(() => void call()))
          return spec.respondFirst
        }
        return call()
      }
    })
  }
  registerEventRoute(app, api.events, options.events)
}
