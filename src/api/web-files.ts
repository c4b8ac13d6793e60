import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FastifyInstance, FastifyReply } from 'fastify'
import mime from 'mime-types'
import { ErrorCode, P2pError } from '../errors.ts'
import type { FilesApi } from './files.ts'
import type { VoiceApi } from './voice.ts'
import { obj, TEXT } from './validation.ts'

/**
 * Files for the browser: uploads stream to disk and are then offered as `send-file` does; a transfer's file is
 * served so that nothing in it can run in the app's origin.
 */

/** Types a browser shows inline without running anything: pictures (not SVG), sound, video. */
const INLINE = /^(image\/(png|jpeg|gif|webp|avif|bmp)|audio\/[\w.+-]+|video\/[\w.+-]+)$/

/** What a received file is served as, by its name (never by what the peer claims). */
export function servedType(name: string): { type: string; inline: boolean } {
  const type = mime.lookup(name)
  if (type !== false && INLINE.test(type)) return { type, inline: true }
  return { type: 'application/octet-stream', inline: false }
}

/** A file name from the browser, as a name in one directory: no path, no control characters, not empty. */
export function uploadName(raw: string): string {
  const name = basename(raw.replace(/\\/g, '/'))
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .trim()
  return name === '' || name === '.' || name === '..' ? 'upload' : name.slice(0, 255)
}

function disposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}

/** Write an upload's body to `uploads/<random>/<name>`, then hand its path to `send`; nothing is left if either fails. */
async function received<T>(body: unknown, uploads: string, name: string, send: (path: string) => Promise<T>): Promise<T> {
  if (body == null || typeof (body as Readable).pipe !== 'function') {
    throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'send the file as the body, with Content-Type: application/octet-stream')
  }
  const dir = join(uploads, randomBytes(8).toString('hex'))
  const path = join(dir, uploadName(name))
  await mkdir(dir, { recursive: true, mode: 0o700 })
  try {
    await pipeline(body as Readable, createWriteStream(path, { flags: 'wx', mode: 0o600 }))
    return await send(path)
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

export function registerWebFileRoutes(app: FastifyInstance, files: FilesApi, uploads: string, voice?: VoiceApi): void {
  // The body is the file itself, read as a stream by the route (no body limit: nothing is held in memory).
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))
  const uploadQuery = { schema: { querystring: obj({ peer: TEXT, name: { ...TEXT, maxLength: 1024 } }, ['peer', 'name']) } }

  app.post<{ Querystring: { peer: string; name: string }; Body: Readable }>('/v1/files/upload', uploadQuery, async (req) =>
    received(req.body, uploads, req.query.name, (path) => files.sendFile(req.query.peer, path))
  )
  // A recording from the page: kept as it came (byte for byte what the peer gets), sent as send-voice does.
  if (voice != null) {
    app.post<{ Querystring: { peer: string; name: string }; Body: Readable }>('/v1/voice/upload', uploadQuery, async (req) =>
      received(req.body, uploads, req.query.name, (path) => voice.sendVoice(req.query.peer, path))
    )
  }

  // Set in onSend, after @fastify/static's own headers: ours decide the type and how the file is shown.
  const served = new WeakMap<FastifyReply, Record<string, string>>()
  app.get<{ Params: { id: string } }>(
    '/v1/files/:id/content',
    {
      schema: { params: obj({ id: { type: 'string', minLength: 1, maxLength: 64 } }, ['id']) },
      onSend: async (_req, reply, payload) => {
        const headers = served.get(reply)
        if (headers != null && reply.statusCode < 400) reply.headers(headers)
        return payload
      }
    },
    async (req, reply) => {
      const info = await files.file(req.params.id)
      if (info.path === '' || (info.direction === 'in' && info.status !== 'complete')) {
        throw new P2pError(ErrorCode.TRANSFER_FAILED, `transfer ${info.id} has no file yet (${info.status})`, {
          hint: 'wait until it is complete'
        })
      }
      const { type, inline } = servedType(info.name)
      served.set(reply, {
        'content-type': type,
        'content-disposition': disposition(inline ? 'inline' : 'attachment', info.name),
        'x-content-type-options': 'nosniff',
        // Opened on its own, nothing in it runs in the app's origin, whatever it is.
        'content-security-policy': "sandbox; default-src 'none'; img-src 'self'; media-src 'self'",
        'cache-control': 'private, no-cache'
      })
      return reply.sendFile(basename(info.path), dirname(info.path))
    }
  )
}
