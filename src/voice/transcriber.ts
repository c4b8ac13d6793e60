/**
 * Speech to text behind one engine-neutral interface. The default engine is Debian's pocketsphinx (its model comes
 * from the `pocketsphinx-en-us` package: nothing is downloaded); a better one plugs in by `--asr-engine` and
 * `--asr-model DIR` (a sherpa-onnx model directory the user brings, e.g. a Whisper or transducer export).
 */
import { PocketsphinxTranscriber } from './pocketsphinx.ts'
import { SherpaOnnxTranscriber } from './sherpa-onnx.ts'

export interface Transcriber {
  /** The engine's name, as reported with each transcript (e.g. `pocketsphinx`, `sherpa-onnx`). */
  readonly engine: string
  /**
   * Whether the engine can run here (its program, library and model are there); throws EngineUnavailableError with a
   * hint otherwise. Cheap: looks at files, loads nothing.
   */
  check(): Promise<void>
  /** Text of 16 kHz mono PCM. Throws TranscriptionError if the engine fails, AbortError when `signal` aborts. */
  transcribe(pcm: Int16Array, options?: { signal?: AbortSignal }): Promise<string>
}

export const ENGINES = ['pocketsphinx', 'sherpa-onnx'] as const
export type EngineName = (typeof ENGINES)[number]

export interface TranscriberOptions {
  /** @default 'pocketsphinx' */
  engine?: EngineName
  /** The engine's model directory. pocketsphinx: an acoustic model dir (default: pocketsphinx-en-us's). */
  model?: string
  /** pocketsphinx: the program to run. @default 'pocketsphinx_continuous' (found on PATH) */
  command?: string
}

/** Plain data: what a worker thread needs to build the same transcriber. */
export function createTranscriber(options: TranscriberOptions = {}): Transcriber {
  switch (options.engine ?? 'pocketsphinx') {
    case 'pocketsphinx':
      return new PocketsphinxTranscriber(options)
    case 'sherpa-onnx':
      return new SherpaOnnxTranscriber(options)
    default:
      throw new TypeError(`unknown speech-to-text engine ${String(options.engine)}: one of ${ENGINES.join(', ')}`)
  }
}
