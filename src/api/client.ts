import { stat } from 'node:fs/promises'
import { Client } from 'undici'
import { ErrorCode, P2pError } from '../errors.ts'
import type {
  ApiErrorBody,
  DialResult,
  HistoryEntry,
  IdInfo,
  NodeApi,
  PeerInfo,
  SendOptions,
  SendResult
} from './types.ts'

/** Upper bound for one API call (a dial waits up to 10 s, a send up to its waitMs). */
const REQUEST_TIMEOUT_MS = 70_000

/** NodeApi over the node's unix socket. */
export class ApiClient implements NodeApi {
  private readonly client: Client
  private readonly socketPath: string
  private readonly dataDir: string

  constructor(socketPath: string, dataDir: string) {
    this.socketPath = socketPath
    this.dataDir = dataDir
    this.client = new Client('http://localhost', {
      socketPath,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS
    })
  }

  id(): Promise<IdInfo> {
    return this.call('GET', '/v1/id')
  }

  peers(): Promise<PeerInfo[]> {
    return this.call('GET', '/v1/peers')
  }

  dial(multiaddr: string): Promise<DialResult> {
    return this.call('POST', '/v1/dial', { multiaddr })
  }

  send(peer: string, text: string, options: SendOptions = {}): Promise<SendResult> {
    return this.call('POST', '/v1/messages', { peer, text, ...options })
  }

  history(peer: string, options: { limit?: number } = {}): Promise<HistoryEntry[]> {
    const q = new URLSearchParams({ peer })
    if (options.limit != null) q.set('limit', String(options.limit))
    return this.call('GET', `/v1/messages?${q}`)
  }

  /** Ask the node to stop and wait (up to 15 s) until it has. */
  async stop(): Promise<void> {
    await this.call('POST', '/v1/stop', {})
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

  protected async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Awaited<ReturnType<Client['request']>>
    try {
      res = await this.client.request({
        method,
        path,
        headers: body != null ? { 'content-type': 'application/json' } : {},
        body: body != null ? JSON.stringify(body) : undefined
      })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTDIR') {
        throw new P2pError(ErrorCode.NO_NODE, `no node is running on ${this.dataDir}`, {
          hint: `start one with: p2pnode start${this.dataDir === '' ? '' : ` --data ${this.dataDir}`}`,
          cause: err
        })
      }
      throw err
    }
    const json = (await res.body.json()) as T | ApiErrorBody
    if (res.statusCode >= 400) {
      const e = json as ApiErrorBody
      const code = (Object.values(ErrorCode) as string[]).includes(e.code) ? (e.code as ErrorCode) : ErrorCode.INTERNAL
      throw new P2pError(code, e.message, { hint: e.hint, details: e.details })
    }
    return json as T
  }
}
