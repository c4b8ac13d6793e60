/** Running one job on a voice worker thread (see worker.ts), from the main thread. */
import { Worker } from 'node:worker_threads'
import { AudioDecodeError, EngineUnavailableError, TranscriptionError } from './errors.ts'
import type { TranscriberOptions } from './transcriber.ts'

export type WorkerJob = { op: 'probe'; path: string } | { op: 'transcribe'; path: string; engine: TranscriberOptions }

export interface ProbeResult {
  format: 'wav' | 'ogg' | 'webm'
  /** ms */
  duration: number
  /** How long decoding took, ms. */
  decodeMs: number
}

export interface TranscribeResult extends ProbeResult {
  text: string
  engine: string
}

export type WorkerReply = ProbeResult | TranscribeResult | { error: { name: string; message: string; hint?: string; code?: string } }

/** After asking a worker to stop, how long it has before it is terminated. */
const ABORT_GRACE_MS = 2000
const WORKER_URL = new URL('./worker.js', import.meta.url)

export function probeAudio(path: string, options: { signal?: AbortSignal } = {}): Promise<ProbeResult> {
  return runJob({ op: 'probe', path }, options) as Promise<ProbeResult>
}

export function transcribeFile(path: string, engine: TranscriberOptions, options: { signal?: AbortSignal } = {}): Promise<TranscribeResult> {
  return runJob({ op: 'transcribe', path, engine }, options) as Promise<TranscribeResult>
}

async function runJob(job: WorkerJob, options: { signal?: AbortSignal }): Promise<ProbeResult | TranscribeResult> {
  options.signal?.throwIfAborted()
  // A small heap: a job holds at most one 10-minute recording (19 MB of PCM) and its file.
  const worker = new Worker(WORKER_URL, { workerData: job, resourceLimits: { maxOldGenerationSizeMb: 256 } })
  return new Promise((resolve, reject) => {
    let settled = false
    let kill: NodeJS.Timeout | undefined
    const onAbort = () => {
      worker.postMessage('abort')
      kill = setTimeout(() => void worker.terminate(), ABORT_GRACE_MS)
      finish(() => reject(options.signal?.reason ?? new Error('aborted')))
    }
    const finish = (f: () => void) => {
      if (settled) return
      settled = true
      options.signal?.removeEventListener('abort', onAbort)
      f()
    }
    worker.once('message', () => void worker.terminate())
    options.signal?.addEventListener('abort', onAbort, { once: true })
    worker.once('message', (reply: WorkerReply) => {
      finish(() => ('error' in reply ? reject(toError(reply.error)) : resolve(reply)))
    })
    worker.once('error', (err) => finish(() => reject(new TranscriptionError(`the voice worker failed: ${err.message}`, { cause: err }))))
    worker.once('exit', (code) => {
      clearTimeout(kill)
      finish(() => reject(new TranscriptionError(`the voice worker exited (${code}) without an answer`)))
    })
  })
}

function toError(e: { name: string; message: string; hint?: string; code?: string }): Error {
  switch (e.name) {
    case 'AudioDecodeError':
      return new AudioDecodeError(e.message)
    case 'EngineUnavailableError':
      return new EngineUnavailableError(e.message, e.hint ?? '')
    case 'TranscriptionError':
      return new TranscriptionError(e.message)
    default:
      return Object.assign(new Error(e.message), { name: e.name, ...(e.code != null ? { code: e.code } : {}) })
  }
}
