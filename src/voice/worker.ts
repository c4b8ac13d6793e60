/**
 * The voice worker thread: decodes a recording and, for a transcription, runs the engine on it, so that neither
 * the wasm Opus decoder nor a synchronous engine ever runs on the node's main thread. One job per worker (it ends
 * after answering): whatever an engine allocated goes with it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { decodeFile } from './decode.ts'
import { createTranscriber } from './transcriber.ts'
import type { WorkerJob, WorkerReply } from './worker-jobs.ts'

const job = workerData as WorkerJob
const abort = new AbortController()
parentPort?.on('message', (m: unknown) => {
  if (m === 'abort') abort.abort(new Error('the node is stopping'))
})

async function run(): Promise<WorkerReply> {
  const started = performance.now()
  const audio = await decodeFile(job.path)
  const decodeMs = performance.now() - started
  if (job.op === 'probe') return { format: audio.format, duration: audio.duration, decodeMs }
  const transcriber = createTranscriber(job.engine)
  const text = await transcriber.transcribe(audio.pcm, { signal: abort.signal })
  return { format: audio.format, duration: audio.duration, decodeMs, text, engine: transcriber.engine }
}

run().then(
  (reply) => parentPort?.postMessage(reply),
  (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err))
    parentPort?.postMessage({ error: { name: e.name, message: e.message, hint: (e as { hint?: string }).hint, code: (e as { code?: string }).code } })
  }
)
