/** Thrown when a file is not audio p2pnode can read (WAV, Ogg/Opus, WebM/Opus), or is damaged. */
export class AudioDecodeError extends Error {
  override readonly name = 'AudioDecodeError'
}

/** Thrown when a speech-to-text engine cannot run here (not installed, model missing); `hint` says what to do. */
export class EngineUnavailableError extends Error {
  override readonly name = 'EngineUnavailableError'
  readonly hint: string

  constructor(message: string, hint: string, options?: ErrorOptions) {
    super(message, options)
    this.hint = hint
  }
}

/** Thrown when an engine ran but failed on one recording (crashed, timed out). */
export class TranscriptionError extends Error {
  override readonly name = 'TranscriptionError'
}
