import { stat } from 'node:fs/promises'
import { Client } from 'undici'
import { ErrorCode, P2pError } from '../errors.ts'
import {
  API_BODY_LIMIT,
  type ApiErrorBody,
  type ContactInfo,
  type ContactList,
  type DialResult,
  type ExportResult,
  type HistoryEntry,
  type HistoryQuery,
  type IdInfo,
  type NodeApi,
  type PeerInfo,
  type PeerState,
  type SearchResult,
  type SendOptions,
  type SendResult,
  type VerifyResult,
  type Visibility
} from './types.ts'

/** Upper bound for one API call (a dial waits up to 10 s, a send up to its waitMs). */
const REQUEST_TIMEOUT_MS = 70_000

/** A query string of the defined values. */
function query(params: Record<string, string | number | undefined>): URLSearchParams {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v != null) q.set(k, String(v))
  return q
}

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

  history(peer: string, options: HistoryQuery = {}): Promise<HistoryEntry[]> {
    return this.call('GET', `/v1/messages?${query({ peer, ...options })}`)
  }

  contacts(): Promise<ContactList> {
    return this.call('GET', '/v1/contacts')
  }

  addContact(peer: string, options: { name?: string } = {}): Promise<ContactInfo> {
    return this.call('POST', '/v1/contacts', { peer, ...options })
  }

  renameContact(peer: string, name: string): Promise<ContactInfo> {
    return this.call('POST', '/v1/contacts/rename', { peer, name })
  }

  removeContact(peer: string): Promise<PeerState> {
    return this.call('POST', '/v1/contacts/remove', { peer })
  }

  verify(peer: string): Promise<VerifyResult> {
    return this.call('GET', `/v1/verify?${query({ peer })}`)
  }

  visibility(set?: Visibility): Promise<{ visibility: Visibility }> {
    return set == null ? this.call('GET', '/v1/visibility') : this.call('POST', '/v1/visibility', { visibility: set })
  }

  setPeerState(peer: string, change: { blocked?: boolean; muted?: boolean }): Promise<PeerState> {
    return this.call('POST', '/v1/peer-state', { peer, ...change })
  }

  search(q: string, options: { peer?: string; limit?: number } = {}): Promise<SearchResult[]> {
    return this.call('GET', `/v1/search?${query({ q, ...options })}`)
  }

  export(options: { out: string; anonymize?: boolean }): Promise<ExportResult> {
    return this.call('POST', '/v1/export', options)
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
    const json = body != null ? JSON.stringify(body) : undefined
    // The server would answer 413 and close while we still send: say it here, clearly.
    if (json != null && Buffer.byteLength(json) > API_BODY_LIMIT) {
      throw new P2pError(ErrorCode.INVALID_MESSAGE, `the request is larger than ${API_BODY_LIMIT} bytes`)
    }
    let res: Awaited<ReturnType<Client['request']>>
    try {
      res = await this.client.request({
        method,
        path,
        headers: json != null ? { 'content-type': 'application/json' } : {},
        body: json
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
    const answer = (await res.body.json()) as T | ApiErrorBody
    if (res.statusCode >= 400) {
      const e = answer as ApiErrorBody
      const code = (Object.values(ErrorCode) as string[]).includes(e.code) ? (e.code as ErrorCode) : ErrorCode.INTERNAL
      throw new P2pError(code, e.message, { hint: e.hint, details: e.details })
    }
    return answer as T
  }
}
