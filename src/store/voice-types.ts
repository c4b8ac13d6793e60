/** A voice note's record and its transcription job (sublevels `voice` and `voice-jobs`: see keys.ts). */

export type TranscriptStatus = 'pending' | 'done' | 'failed'

/** A voice note's transcript, made on this machine (never taken from the peer). */
export interface Transcript {
  status: TranscriptStatus
  /** The words ('' while pending or when failed). */
  text: string
  /** The engine that made it (or was to make it), e.g. `pocketsphinx`. */
  engine: string
  /** failed: why. */
  error?: string
  /** failed: what to do (e.g. install an engine). */
  hint?: string
}

export interface VoiceRecord {
  /** The conversation entry's id (= the file transfer's id). */
  id: string
  peer: string
  /** ms, as decoded on this machine. */
  duration: number
  transcript: Transcript
}

export interface VoiceJob {
  id: string
  peer: string
  /** The recording on this machine. */
  path: string
  /** When it was queued, ms since the epoch. */
  added: number
}
