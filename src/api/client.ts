import { stat } from 'node:fs/promises'
import { connect } from 'node:net'
import { type Client, undiciClient } from './undici.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import { type EventStreamRequest, type FollowOptions, followEvents, openEventStream, type StreamEvent } from './event-stream.ts'
import { type NodeApi, requestOf, ROUTES, type RouteSpec } from './routes.ts'
import { API_BODY_LIMIT, type ApiErrorBody } from './types.ts'

/** Upper bound for one API call (a dial waits up to 10 s, a send up to its waitMs). */
const REQUEST_TIMEOUT_MS = 70_000

/** Errors of a connection the node closed or reset before it answered. */
const CUT_OFF = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED'])

/**
 * Whether a node answers on the socket now: an HTTP request gets a response within `ms`. A socket whose process is
 * dying may still take a connection (the kernel's backlog) and never answer; that is not a node.
 */
function answers(socketPath: string, ms = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath)
    const done = (yes: boolean) => {
      clearTimeout(timer)
      s.destroy()
      resolve(yes)
    }
    const timer = setTimeout(() => done(false), ms)
    s.once('connect', () => s.write('GET /v1/id HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'))
    s.once('data', () => done(true))
    s.once('error', () => done(false))
    s.once('close', () => done(false))
  })
}

// One method per route of the table (stop is below: it also waits for the node to be gone).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface ApiClient extends NodeApi {}

/** The API over the node's unix socket: one method per route of ROUTES (routes.ts). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ApiClient {
  private readonly client: Client
  private readonly socketPath: string
  private readonly dataDir: string

  constructor(socketPath: string, dataDir: string) {
    this.socketPath = socketPath
    this.dataDir = dataDir
    const HttpClient = undiciClient()
    this.client = new HttpClient('http://localhost', {
      socketPath,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS
    })
  }

  /** The node's events (GET /v1/events) on a connection of their own, until the stream ends or `signal` aborts. */
  events(request: EventStreamRequest = {}): AsyncGenerator<StreamEvent> {
    return openEventStream(this.socketPath, request)
  }

  /** Follow the node's events, reconnecting with the last id (see followEvents). */
  async follow(onEvent: (event: StreamEvent) => void, options: FollowOptions = {}): Promise<void> {
    try {
      await followEvents(this.socketPath, onEvent, options)
    } catch (err) {
      throw await this.connectionError(err)
    }
  }

  /** Call a route of the table with the method's arguments. */
  async callRoute(spec: RouteSpec, args: readonly unknown[]): Promise<unknown> {
    const { method, path, body } = requestOf(spec, args)
    return this.call(method, path, body, { unbounded: spec.unbounded === true })
  }

  /** Ask the node to stop and wait (up to 15 s) until it has. */
  async stop(): Promise<void> {
    await this.callRoute(ROUTES.stop, [])
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      try {
        await stat(this.socketPath)
      } catch {
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new P2pError(ErrorCode.INTERNAL, `the node on ${this.dataDir} did not stop within 15 s`)
  }

  async close(): Promise<void> {
    await this.client.close()
  }

  /** `unbounded`: the call does work that grows with the data (hashing a file, an export): wait for it. */
  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    options: { unbounded?: boolean } = {}
  ): Promise<T> {
    const json = body != null ? JSON.stringify(body) : undefined
    // The server would answer 413 and close while we still send: say it here, clearly.
    if (json != null && Buffer.byteLength(json) > API_BODY_LIMIT) {
      throw new P2pError(ErrorCode.INVALID_MESSAGE, `the request is larger than ${API_BODY_LIMIT} bytes`)
    }
    let res: Awaited<ReturnType<Client['request']>>
    let answer: T | ApiErrorBody
    try {
      res = await this.client.request({
        method,
        path,
        headers: json != null ? { 'content-type': 'application/json' } : {},
        body: json,
        ...(options.unbounded === true ? { headersTimeout: 0 } : {})
      })
      answer = (await res.body.json()) as T | ApiErrorBody
    } catch (err) {
      throw await this.connectionError(err)
    }
    if (res.statusCode >= 400) {
      const e = answer as ApiErrorBody
      const code = (Object.values(ErrorCode) as string[]).includes(e.code) ? (e.code as ErrorCode) : ErrorCode.INTERNAL
      throw new P2pError(code, e.message, { hint: e.hint, details: e.details })
    }
    return answer as T
  }

  /** What a failed connection means for the user: no node, or a node that went away while answering. */
  private async connectionError(err: unknown): Promise<unknown> {
    const code = (err as NodeJS.ErrnoException).code ?? ''
    const again = `p2pnode start${this.dataDir === '' ? '' : ` --data ${this.dataDir}`}`
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return new P2pError(ErrorCode.NO_NODE, `no node is running on ${this.dataDir}`, {
        hint: `start one with: ${again}`,
        cause: err
      })
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return new P2pError(ErrorCode.DATA_DIR_INVALID, `permission denied on ${this.socketPath}: the node on ${this.dataDir} is another user's`, {
        hint: 'run p2pnode as the user who started that node, or use a data dir of your own: --data DIR',
        cause: err
      })
    }
    if (code === 'ECONNREFUSED') {
      return new P2pError(ErrorCode.NO_NODE, `no node is running on ${this.dataDir} (the last one did not stop cleanly)`, {
        hint: `start one with: ${again}`,
        cause: err
      })
    }
    if (CUT_OFF.has(code)) {
      if (await answers(this.socketPath)) {
        return new P2pError(ErrorCode.INTERNAL, `the node on ${this.dataDir} closed the connection without answering`, {
          hint: 'see the node\'s output (run it with DEBUG=p2pnode:* for details), then try again',
          cause: err
        })
      }
      return new P2pError(ErrorCode.NO_NODE, `the node on ${this.dataDir} stopped while answering (it crashed or was stopped)`, {
        hint: `see its output for why; start it again with: ${again} (what you asked may not have been done)`,
        cause: err
      })
    }
    return err
  }
}

for (const [name, spec] of Object.entries(ROUTES) as Array<[string, RouteSpec]>) {
  if (name in ApiClient.prototype) continue
  Object.defineProperty(ApiClient.prototype, name, {
    value: function (this: ApiClient, ...args: unknown[]) {
      return this.callRoute(spec, args)
    },
    writable: true,
    configurable: true
  })
}
