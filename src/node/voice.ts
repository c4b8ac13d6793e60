/**
 * Voice notes in the node: a voice note is a file transfer with Offer.voice, shown as `kind: 'voice'`, with its
 * duration and a transcript made on this machine (each side transcribes its own copy; a receiver never takes the
 * sender's word for what was said). Transcription runs in the background, one note at a time, in a worker thread
 * (see src/voice), from a queue in the store that survives restarts and crashes.
 */
import type { Logger } from '@libp2p/interface'
import type { HistoryEntry, TranscriptInfo } from '../api/types.ts'
import type { VoiceApi, VoiceNoteInfo, VoiceSendResult } from '../api/voice.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import type { FileTransferProtocol, TransferInfo } from '../protocols/file/index.ts'
import { type Store, type VoiceRecord, VoiceNotes } from '../store/index.ts'
import {
  AudioDecodeError,
  createTranscriber,
  EngineUnavailableError,
  MAX_VOICE_BYTES,
  probeAudio,
  type TranscriberOptions,
  TranscriptQueue
} from '../voice/index.ts'
import { type FileTarget, type NodeFiles, toFileInfo } from './files.ts'
import { checkPath } from './people.ts'

/** Which engine transcribes, with what model (`--asr-engine`, `--asr-model`). */
export type NodeVoiceOptions = TranscriberOptions

export interface NodeVoiceComponents {
  store: Store
  files: FileTransferProtocol
  fileApi: NodeFiles
  /** A peer or group reference to whom a note goes (as for send-file: a group's members get one each). */
  resolveTarget(ref: string): Promise<FileTarget>
  log: Logger
  /** A transcript is ready (or failed). */
  transcribed(record: VoiceRecord, direction: 'in' | 'out', timestamp: number): void
}

export class NodeVoice implements VoiceApi {
  private readonly c: NodeVoiceComponents
  private readonly notes: VoiceNotes
  private readonly engine: TranscriberOptions
  private readonly engineName: string
  private queue?: TranscriptQueue
  /** Notes being queued now (the transfer event and the start-up scan may both see one). */
  private readonly arriving = new Set<string>()
  /** Set at start when the engine cannot run here: every transcript fails with it (notes still arrive and play). */
  unavailable?: EngineUnavailableError

  constructor(components: NodeVoiceComponents, options: NodeVoiceOptions = {}) {
    this.c = components
    this.notes = new VoiceNotes(components.store)
    this.engine = options
    this.engineName = options.engine ?? 'pocketsphinx'
    // Incoming notes are queued once they have arrived whole and verified.
    components.files.addEventListener('transfer', (evt) => {
      const t = evt.detail
      if (t.voice === true && t.direction === 'in' && t.status === 'complete') void this.arrived(t)
    })
  }

  async start(): Promise<void> {
    this.unavailable = await checkEngine(this.engine)
    if (this.unavailable != null) {
      this.c.log.error('voice notes will not be transcribed: %s (%s)', this.unavailable.message, this.unavailable.hint)
    }
    this.queue = new TranscriptQueue(this.notes, {
      engine: this.engine,
      engineName: this.engineName,
      unavailable: this.unavailable,
      log: this.c.log,
      onDone: (record) => {
        void this.c.files.get(record.id).then((t) => t != null && this.c.transcribed(record, t.direction, t.timestamp))
      }
    })
    // Notes that arrived just before a crash (complete, but not yet queued) are queued now.
    for (const t of await this.c.files.list()) {
      if (t.voice === true && t.direction === 'in' && t.status === 'complete') await this.arrived(t)
    }
    this.queue.start()
  }

  async stop(): Promise<void> {
    await this.queue?.stop()
  }

  /** Resolves once no transcription waits or runs (tests, bench). */
  async idle(): Promise<void> {
    await this.queue?.idle()
  }

  async sendVoice(ref: string, path: string): Promise<VoiceSendResult> {
    checkPath(path, 'the path')
    let duration: number
    try {
      ;({ duration } = await probeAudio(path))
    } catch (err) {
      throw audioError(path, err)
    }
    const target = await this.c.resolveTarget(ref)
    if (typeof target === 'string') return this.sendOne(target, path, duration)
    // To a group: a note to each member (each transcribes its own copy), and a line in the group saying so.
    let first: VoiceSendResult | undefined
    for (const peer of target.peers) first ??= await this.sendOne(peer, path, duration)
    if (first == null) throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'nobody else is in that group')
    const info = await this.c.files.get(first.id)
    if (info != null) await target.sent(toFileInfo(info), `[voice note] ${minutes(duration)}, sent to each member`)
    return first
  }

  private async sendOne(peer: string, path: string, duration: number): Promise<VoiceSendResult> {
    const info = await this.c.files.send(peer, path, { voice: true })
    const record = await this.notes.add({ id: info.id, peer, path }, duration, this.engineName)
    this.queue?.kick()
    return { id: info.id, duration, status: info.status, transcript: transcriptOf(record, this.engineName) }
  }

  async transcript(ref: string): Promise<VoiceNoteInfo> {
    const id = await this.c.fileApi.resolveId(ref)
    const t = await this.c.files.get(id)
    if (t == null || t.voice !== true) {
      throw new P2pError(ErrorCode.TRANSFER_NOT_FOUND, `no voice note ${ref}`, { hint: 'p2pnode history <peer> shows voice notes with their ids' })
    }
    const record = await this.notes.get(t.peer, id)
    return { id, peer: t.peer, direction: t.direction, duration: record?.duration ?? 0, transcript: transcriptOf(record, this.engineName) }
  }

  async record(peer: string, id: string): Promise<VoiceRecord | undefined> {
    return this.notes.get(peer, id)
  }

  /** Voice notes in a conversation as `kind: 'voice'` with their duration and transcript. */
  async decorate(entries: HistoryEntry[]): Promise<HistoryEntry[]> {
    return Promise.all(
      entries.map(async (e) => {
        if (e.kind !== 'voice') return e
        // A note is kept under the other side of its conversation (voice notes go one to one).
        const record = await this.notes.get(e.direction === 'out' ? e.to : e.from, e.id)
        return { ...e, duration: record?.duration ?? 0, transcript: transcriptOf(record, this.engineName) }
      })
    )
  }

  private async arrived(t: TransferInfo): Promise<void> {
    if (this.arriving.has(t.id)) return
    this.arriving.add(t.id)
    try {
      if ((await this.notes.get(t.peer, t.id)) != null) return
      // The sender's idea of the duration is not taken either: decoded here (a damaged note: 0, and its job fails).
      const duration = await probeAudio(t.path).then(
        (p) => p.duration,
        () => 0
      )
      await this.notes.add({ id: t.id, peer: t.peer, path: t.path }, duration, this.engineName)
      this.queue?.kick()
    } catch (err) {
      this.c.log.error('queuing voice note %s failed: %s', t.id, (err as Error).message)
    } finally {
      this.arriving.delete(t.id)
    }
  }
}

/**
 * Whether the engine can run here: undefined if it can, else why not. An engine asked for by name (--asr-engine,
 * --asr-model) that cannot run is the user's mistake, said at once (INVALID_ARGUMENT); the default engine missing
 * is not: notes still arrive and play, and their transcripts say how to install it.
 */
export async function checkEngine(options: TranscriberOptions): Promise<EngineUnavailableError | undefined> {
  try {
    await createTranscriber(options).check()
    return undefined
  } catch (err) {
    if (!(err instanceof EngineUnavailableError)) throw err
    if (options.engine != null || options.model != null) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `--asr-engine ${options.engine ?? 'pocketsphinx'}: ${err.message}`, { hint: err.hint, cause: err })
    }
    return err
  }
}

export function transcriptOf(record: VoiceRecord | undefined, engine: string): TranscriptInfo {
  return record?.transcript ?? { status: 'pending', text: '', engine }
}

/** 67 000 ms → "1:07". */
function minutes(ms: number): string {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

function audioError(path: string, err: unknown): unknown {
  if (err instanceof AudioDecodeError) {
    return new P2pError(ErrorCode.INVALID_ARGUMENT, `cannot send ${path} as a voice note: ${err.message}`, {
      hint: `give a .wav, .ogg/.opus or .webm (Opus) recording of at most 10 minutes and ${MAX_VOICE_BYTES / 1024 / 1024} MiB; other files go with p2pnode send-file`,
      cause: err
    })
  }
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') {
    return new P2pError(ErrorCode.FILE_NOT_READABLE, `cannot send ${path}: ${(err as Error).message}`, {
      hint: 'give the path of a recording you can read',
      cause: err
    })
  }
  return err
}
