import type { TranscriptInfo } from './types.ts'

/** The voice-note part of the local API (`/v1/voice`). Field names are a contract (`--json` output). */

export interface VoiceSendResult {
  /** The note's id: its conversation entry and its file transfer. */
  id: string
  /** ms */
  duration: number
  /** The file transfer's status (`offered` until the peer has it; see `p2pnode files`). */
  status: string
  transcript: TranscriptInfo
}

export interface VoiceNoteInfo {
  id: string
  peer: string
  direction: 'in' | 'out'
  /** ms (0 until the note has arrived whole). */
  duration: number
  transcript: TranscriptInfo
}

export interface VoiceApi {
  /** Send a voice note (an absolute path to a .wav, .ogg/.opus or .webm recording on the node's machine). */
  sendVoice(peer: string, path: string): Promise<VoiceSendResult>
  /** A voice note and its transcript; `id` as for files (a unique prefix of 8+ characters will do). */
  transcript(id: string): Promise<VoiceNoteInfo>
}
