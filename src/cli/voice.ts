import { resolve } from 'node:path'
import type { Command } from 'commander'
import type { HistoryEntry, TranscriptInfo } from '../api/types.ts'
import type { VoiceNoteInfo, VoiceSendResult } from '../api/voice.ts'
import { type CommonOptions, show, withApi } from './commands.ts'
import { displayText } from './output.ts'

type Run = <A extends unknown[]>(fn: (...args: A) => Promise<unknown>) => (...args: A) => Promise<void>
type CommandFactory = (name: string, description: string) => Command

/** `send-voice`, `transcript`: registered on the program by cli/index.ts. */
export function registerVoiceCommands(command: CommandFactory, run: Run): void {
  command('send-voice', 'send a voice note (.wav, .ogg/.opus, .webm): {"id","duration","status","transcript"}')
    .argument('<peer>', 'peer id, display name or multiaddr; or a group (#name or its id): a note to each member')
    .argument('<audio>', 'the recording')
    .action(
      run(async (peer: string, path: string, opts: CommonOptions) => {
        const res = await withApi(opts, (api) => api.sendVoice(peer, resolve(path)))
        show(opts, res, (v: VoiceSendResult) => `${v.status} ${v.id} 🎤 ${clockOf(v.duration)} (transcript ${v.transcript.status})`)
      })
    )
  command('transcript', 'a voice note\'s transcript, made on this machine: {"id","peer","direction","duration","transcript"}')
    .argument('<id>', 'the voice note id (history shows it; 8+ characters will do)')
    .action(
      run(async (id: string, opts: CommonOptions) => {
        const res = await withApi(opts, (api) => api.transcript(id))
        show(opts, res, (v: VoiceNoteInfo) => `🎤 ${clockOf(v.duration)} ${transcriptText(v.transcript)}`)
      })
    )
}

/** A duration in ms as m:ss. */
export function clockOf(ms: number): string {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/**
 * A voice note in a conversation, for a person: its transcript, or, while it has not arrived, that it waits (for
 * this user's accept, with the command) or is on its way.
 */
export function voiceState(m: HistoryEntry): string {
  if (m.direction === 'in' && m.file?.status === 'waiting') return `(waiting for you to accept it: p2pnode accept ${m.id.slice(0, 8)})`
  if (m.direction === 'in' && (m.file?.status === 'transferring' || m.file?.status === 'offered')) return '(arriving…)'
  if (m.file?.status === 'failed' || m.file?.status === 'cancelled') return `(${m.file.status})`
  return transcriptText(m.transcript)
}

/** What a transcript says, for a person: the words in quotes, or why there are none. */
export function transcriptText(t: TranscriptInfo | undefined, max = Number.POSITIVE_INFINITY): string {
  if (t == null || t.status === 'pending') return '(transcribing…)'
  if (t.status === 'failed') return `(no transcript: ${displayText(t.error ?? 'failed')}${t.hint != null ? `; ${displayText(t.hint)}` : ''})`
  if (t.text === '') return '(no words heard)'
  const text = displayText(t.text)
  return `"${text.length > max ? `${text.slice(0, max - 1)}…` : text}"`
}
