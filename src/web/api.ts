// The web app's side of the local API: fetch with the session cookie, errors as the CLI shows them.
import type { FileInfo } from '../api/files.ts'
import type {
  ContactInfo,
  ContactList,
  HistoryEntry,
  IdInfo,
  PeerInfo,
  PeerState,
  SearchResult,
  SendResult,
  VerifyResult,
  Visibility
} from '../api/types.ts'

/** An error the node answered with: `{ code, message, hint? }`, or NO_NODE when it did not answer at all. */
export class ApiError extends Error {
  readonly code: string
  readonly hint?: string
  readonly status: number

  constructor(code: string, message: string, status: number, hint?: string) {
    super(message)
    this.code = code
    this.status = status
    this.hint = hint
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v != null) q.set(k, String(v))
  return q.toString()
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers: body != null ? { 'content-type': 'application/json' } : {},
      body: body != null ? JSON.stringify(body) : undefined,
      credentials: 'same-origin'
    })
  } catch {
    throw new ApiError('NO_NODE', 'the node does not answer (stopped?)', 0, 'start it with: p2pnode start; this page reconnects by itself')
  }
  const answer = (await res.json().catch(() => ({}))) as T & { code?: string; message?: string; hint?: string }
  if (!res.ok) {
    throw new ApiError(answer.code ?? 'INTERNAL', answer.message ?? `HTTP ${res.status}`, res.status, answer.hint)
  }
  return answer
}

export const api = {
  id: () => call<IdInfo>('GET', '/v1/id'),
  peers: () => call<PeerInfo[]>('GET', '/v1/peers'),
  contacts: () => call<ContactList>('GET', '/v1/contacts'),
  blocked: () => call<PeerState[]>('GET', '/v1/blocked'),
  history: (peer: string, options: { limit?: number; before?: number; after?: number } = {}) =>
    call<HistoryEntry[]>('GET', `/v1/messages?${query({ peer, ...options })}`),
  send: (peer: string, text: string, replyTo?: string) =>
    call<SendResult>('POST', '/v1/messages', { peer, text, replyTo, waitMs: 0 }),
  dial: (multiaddr: string) => call<{ peerId: string; name: string }>('POST', '/v1/dial', { multiaddr }),
  search: (q: string) => call<SearchResult[]>('GET', `/v1/search?${query({ q, limit: 50 })}`),
  addContact: (peer: string, name?: string) => call<ContactInfo>('POST', '/v1/contacts', { peer, name }),
  rename: (peer: string, name: string) => call<ContactInfo>('POST', '/v1/contacts/rename', { peer, name }),
  removeContact: (peer: string) => call<PeerState>('POST', '/v1/contacts/remove', { peer }),
  setPeerState: (peer: string, change: { blocked?: boolean; muted?: boolean }) =>
    call<PeerState>('POST', '/v1/peer-state', { peer, ...change }),
  verify: (peer: string) => call<VerifyResult>('GET', `/v1/verify?${query({ peer })}`),
  visibility: (set?: Visibility) =>
    set == null
      ? call<{ visibility: Visibility }>('GET', '/v1/visibility')
      : call<{ visibility: Visibility }>('POST', '/v1/visibility', { visibility: set }),
  files: () => call<FileInfo[]>('GET', '/v1/files'),
  accept: (id: string) => call<FileInfo>('POST', `/v1/files/${encodeURIComponent(id)}/accept`, {}),
  cancel: (id: string) => call<FileInfo>('POST', `/v1/files/${encodeURIComponent(id)}/cancel`, {})
}

/**
 * Stream a file to the node (XMLHttpRequest: it reports upload progress, fetch does not); the node writes it to
 * disk as it comes and offers it to the peer as `send-file` does.
 */
export function upload(peer: string, file: File, progress: (sent: number, total: number) => void): Promise<FileInfo> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `/v1/files/upload?${query({ peer, name: file.name })}`)
    xhr.setRequestHeader('content-type', 'application/octet-stream')
    xhr.upload.onprogress = (e) => progress(e.loaded, e.total)
    xhr.onerror = () => reject(new ApiError('NO_NODE', 'the upload was cut off (is the node still running?)', 0))
    xhr.onload = () => {
      let body: { code?: string; message?: string; hint?: string } = {}
      try {
        body = JSON.parse(xhr.responseText) as typeof body
      } catch {
        // not JSON: reported by status below
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as FileInfo)
      else reject(new ApiError(body.code ?? 'INTERNAL', body.message ?? `HTTP ${xhr.status}`, xhr.status, body.hint))
    }
    xhr.send(file)
  })
}
