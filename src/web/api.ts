// The web app's side of the local API: fetch with the session cookie, errors as the CLI shows them.
// Its calls are built from the route table (src/api/routes.ts, served as /api/routes.js).
import type { FileInfo } from '../api/files.ts'
import type { VoiceSendResult } from '../api/voice.ts'
import { type NodeApi, requestOf, ROUTES, type RouteSpec } from '../api/routes.ts'

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

async function call(request: { method: 'GET' | 'POST'; path: string; body?: unknown }): Promise<unknown> {
  let res: Response
  try {
    res = await fetch(request.path, {
      method: request.method,
      headers: request.body != null ? { 'content-type': 'application/json' } : {},
      body: request.body != null ? JSON.stringify(request.body) : undefined,
      credentials: 'same-origin'
    })
  } catch {
    throw new ApiError('NO_NODE', 'the node does not answer (stopped?)', 0, 'start it with: p2pnode start; this page reconnects by itself')
  }
  const answer = (await res.json().catch(() => ({}))) as { code?: string; message?: string; hint?: string }
  if (!res.ok) {
    throw new ApiError(answer.code ?? 'INTERNAL', answer.message ?? `HTTP ${res.status}`, res.status, answer.hint)
  }
  return answer
}

/** The node's API over HTTP: one call per route of the table (src/api/routes.ts), as ApiClient is on the socket. */
export const api = {} as Omit<NodeApi, 'stop' | 'webLink' | 'rotateWebToken'>
for (const [name, spec] of Object.entries(ROUTES) as Array<[string, RouteSpec]>) {
  if (spec.socketOnly === true) continue
  ;(api as Record<string, unknown>)[name] = (...args: unknown[]) => call(requestOf(spec, args))
}

/**
 * Stream a file to the node (XMLHttpRequest: it reports upload progress, fetch does not); the node writes it to
 * disk as it comes and offers it to the peer as `send-file` does.
 */
export function upload(peer: string, file: File, progress: (sent: number, total: number) => void): Promise<FileInfo> {
  return post<FileInfo>('/v1/files/upload', peer, file, progress)
}

/** Send a recording as a voice note (POST /v1/voice/upload: the node keeps it as it came, then does send-voice). */
export function uploadVoice(peer: string, file: File, progress: (sent: number, total: number) => void): Promise<VoiceSendResult> {
  return post<VoiceSendResult>('/v1/voice/upload', peer, file, progress)
}

function post<T>(path: string, peer: string, file: File, progress: (sent: number, total: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `${path}?${query({ peer, name: file.name })}`)
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
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T)
      else reject(new ApiError(body.code ?? 'INTERNAL', body.message ?? `HTTP ${xhr.status}`, xhr.status, body.hint))
    }
    xhr.send(file)
  })
}
