/**
 * The transcription queue: one job at a time, in the order queued, each in a worker thread (see worker-jobs.ts).
 * Jobs live in the store until their transcript is stored, so a restart, or a crash mid-job, resumes them.
 */
import type { Logger } from '@libp2p/interface'
import type { Transcript, VoiceJob, VoiceRecord } from '../store/index.ts'
import type { EngineUnavailableError } from './errors.ts'
import type { TranscriberOptions } from './transcriber.ts'
import { transcribeFile } from './worker-jobs.ts'

/** What the queue needs from storage (src/store's VoiceNotes). */
export interface JobStore {
  jobs(): Promise<VoiceJob[]>
  finish(job: VoiceJob, transcript: Transcript): Promise<VoiceRecord | undefined>
}

export interface QueueOptions {
  engine: TranscriberOptions
  /** The engine's name for transcripts. */
  engineName: string
  /** Set when the engine cannot run here: every job fails at once with this (and its hint). */
  unavailable?: EngineUnavailableError
  log: Logger
  /** A transcript was stored. */
  onDone?(record: VoiceRecord): void
  /** Runs one job; the worker thread by default (tests may count or slow jobs). */
  run?: typeof transcribeFile
}

export class TranscriptQueue {
  private readonly store: JobStore
  private readonly options: QueueOptions
  private running?: Promise<void>
  private again = false
  private abort = new AbortController()
  private stopped = true

  constructor(store: JobStore, options: QueueOptions) {
    this.store = store
    this.options = options
  }

  /** Start working through the stored jobs (those left from before a restart too). */
  start(): void {
    this.stopped = false
    this.abort = new AbortController()
    this.kick()
  }

  /** Stop; the job under way is abandoned and stays queued for the next start. */
  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort(new Error('the node is stopping'))
    await this.running
  }

  /** Look for new jobs (call after queuing one). */
  kick(): void {
    if (this.stopped) return
    if (this.running != null) {
      this.again = true
      return
    }
    this.running = this.drain().finally(() => {
      this.running = undefined
      if (this.again) {
        this.again = false
        this.kick()
      }
    })
  }

  /** Resolves when no job is waiting or running (tests). */
  async idle(): Promise<void> {
    while (this.running != null) await this.running
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return
      const [job] = await this.store.jobs()
      if (job == null) return
      const transcript = await this.runOne(job)
      if (transcript == null) return // stopping: the job stays
      const record = await this.store.finish(job, transcript)
      if (record != null) this.options.onDone?.(record)
    }
  }

  private async runOne(job: VoiceJob): Promise<Transcript | undefined> {
    const { engineName: engine, unavailable, log } = this.options
    if (unavailable != null) {
      return { status: 'failed', text: '', engine, error: unavailable.message, hint: unavailable.hint }
    }
    const started = performance.now()
    try {
      const run = this.options.run ?? transcribeFile
      const result = await run(job.path, this.options.engine, { signal: this.abort.signal })
      const ms = performance.now() - started
      log('transcribed %s (%d ms of audio) in %d ms: real-time factor %s', job.id, result.duration, Math.round(ms), (ms / Math.max(1, result.duration)).toFixed(2))
      return { status: 'done', text: result.text, engine: result.engine }
    } catch (err) {
      if (this.abort.signal.aborted) return undefined
      const e = err as Error & { hint?: string; code?: string }
      log.error('transcribing %s failed: %s', job.id, e.message)
      const hint = e.hint ?? (e.code === 'ENOENT' ? 'the recording is no longer there' : undefined)
      return { status: 'failed', text: '', engine, error: e.message, ...(hint != null && hint !== '' ? { hint } : {}) }
    }
  }
}
