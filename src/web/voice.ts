// Voice notes in the page: recording (MediaRecorder), and a note's player (duration, scrubber) with its transcript.
import type { HistoryEntry } from '../api/types.ts'
import { el } from './dom.ts'

/** Types MediaRecorder is asked for, in order: Chromium records WebM, Firefox Ogg (both Opus). */
const RECORD_TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm']
/** Longest recording: the node takes voice notes of at most 10 minutes. */
export const MAX_RECORD_MS = 10 * 60_000

/** m:ss */
export function clockOf(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/**
 * One recording from the microphone. The browser's echo cancellation, noise suppression and automatic gain are off:
 * they make the recording worse for speech recognition (measured: 0.75 correlation with the source with them, 0.98
 * without).
 */
export class Recording {
  readonly started = performance.now()
  private readonly recorder: MediaRecorder
  private readonly stream: MediaStream
  private readonly parts: Blob[] = []
  private readonly done: Promise<void>

  private constructor(stream: MediaStream) {
    this.stream = stream
    const mimeType = RECORD_TYPES.find((t) => MediaRecorder.isTypeSupported(t))
    this.recorder = new MediaRecorder(stream, mimeType != null ? { mimeType } : {})
    this.recorder.ondataavailable = (e) => {
      if (e.data.size > 0) this.parts.push(e.data)
    }
    this.done = new Promise((resolve) => (this.recorder.onstop = () => resolve()))
    this.recorder.start(1000)
  }

  static async start(): Promise<Recording> {
    if (navigator.mediaDevices?.getUserMedia == null) throw new Error('this browser cannot record here (it needs https or localhost)')
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }
    })
    return new Recording(stream)
  }

  elapsed(): number {
    return performance.now() - this.started
  }

  /** Stop and give the recording as a file named for its type. */
  async finish(): Promise<File> {
    await this.stopped()
    const type = this.recorder.mimeType || 'audio/webm'
    const ext = type.startsWith('audio/ogg') ? 'ogg' : 'webm'
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)
    return new File(this.parts, `voice-${stamp}.${ext}`, { type: type.split(';')[0] })
  }

  /** Stop and throw the recording away. */
  async cancel(): Promise<void> {
    await this.stopped()
    this.parts.length = 0
  }

  private async stopped(): Promise<void> {
    if (this.recorder.state !== 'inactive') this.recorder.stop()
    await this.done
    for (const t of this.stream.getTracks()) t.stop()
  }
}

/**
 * A voice note: play/pause, a scrubber over its duration (the node's, decoded: a browser's WebM recording does not
 * say its own), the time, and the transcript under it.
 */
export function voiceBody(m: HistoryEntry, ready: boolean): HTMLElement {
  const duration = m.duration ?? 0
  const src = `/v1/files/${m.id}/content`
  const figure = el('figure', { class: 'voice', 'data-voice': m.id })
  const time = el('span', { class: 'voice-time' }, `🎤 ${clockOf(duration)}`)
  if (ready) {
    const audio = el('audio', { src, preload: 'metadata' })
    const play = el('button', { type: 'button', class: 'voice-play', 'aria-label': 'Play voice note' }, '▶')
    const scrub = el('input', {
      type: 'range',
      class: 'voice-scrub',
      min: '0',
      max: String(Math.max(1, duration)),
      step: '10',
      value: '0',
      'aria-label': 'Position in the voice note'
    })
    play.addEventListener('click', () => {
      if (audio.paused) void audio.play()
      else audio.pause()
    })
    audio.addEventListener('play', () => (play.textContent = '❚❚'))
    audio.addEventListener('pause', () => (play.textContent = '▶'))
    audio.addEventListener('ended', () => (play.textContent = '▶'))
    audio.addEventListener('timeupdate', () => {
      const at = audio.currentTime * 1000
      scrub.value = String(Math.min(duration, at))
      time.textContent = `🎤 ${clockOf(at)} / ${clockOf(duration)}`
    })
    scrub.addEventListener('input', () => {
      audio.currentTime = Number(scrub.value) / 1000
    })
    figure.append(audio, play, scrub, time)
  } else {
    figure.append(time, el('span', { class: 'file-status' }, ` ${m.file?.status ?? ''}`))
  }
  figure.append(transcriptLine(m))
  return figure
}

function transcriptLine(m: HistoryEntry): HTMLElement {
  const t = m.transcript
  if (t == null || t.status === 'pending') return el('figcaption', { class: 'transcript pending' }, 'Transcribing…')
  if (t.status === 'failed') {
    return el('figcaption', { class: 'transcript failed' }, `No transcript: ${t.error ?? 'failed'}${t.hint != null ? ` (${t.hint})` : ''}`)
  }
  return el('figcaption', { class: 'transcript done', title: `transcribed by ${t.engine} on this machine` }, t.text === '' ? '(no words heard)' : t.text)
}
