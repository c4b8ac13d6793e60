/**
 * A pluggable better engine: sherpa-onnx (`npm install sherpa-onnx-node`, binaries inside the npm package) with a
 * model directory the user brings (`--asr-model DIR`): a Whisper export (`*encoder*.onnx`, `*decoder*.onnx`,
 * `*tokens.txt`), a transducer (encoder, decoder, joiner, tokens) or a single-file model such as SenseVoice
 * (`model*.onnx`, `tokens.txt`). p2pnode does not ship or download either. It runs in the transcription worker
 * thread, like every engine, so its synchronous decoding never holds up the node.
 */
import { readdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { SAMPLE_RATE } from './constants.ts'
import { EngineUnavailableError, TranscriptionError } from './errors.ts'
import type { Transcriber, TranscriberOptions } from './transcriber.ts'

const PACKAGE = 'sherpa-onnx-node'
const MODEL_HINT =
  'give --asr-model the directory of a sherpa-onnx model: a Whisper export (…encoder….onnx, …decoder….onnx, …tokens.txt), ' +
  'a transducer (encoder, decoder, joiner, tokens.txt) or a SenseVoice model (model.onnx, tokens.txt)'

interface SherpaModule {
  OfflineRecognizer: new (config: object) => {
    createStream(): { acceptWaveform(wave: { samples: Float32Array; sampleRate: number }): void }
    decode(stream: object): void
    getResult(stream: object): { text?: string }
  }
}

/** What a model directory holds, as sherpa-onnx's model config. */
export async function sherpaModelConfig(dir: string): Promise<object> {
  let names: string[]
  try {
    names = (await readdir(dir)).sort()
  } catch (err) {
    throw new EngineUnavailableError(`the model directory ${dir} cannot be read (${(err as Error).message})`, MODEL_HINT, { cause: err })
  }
  // int8 exports are smaller and faster: prefer them when both are there.
  const pick = (part: string) => {
    const hits = names.filter((n) => n.endsWith('.onnx') && n.includes(part))
    return hits.find((n) => n.includes('int8')) ?? hits[0]
  }
  const tokens = names.find((n) => n.endsWith('tokens.txt'))
  if (tokens == null) throw new EngineUnavailableError(`no tokens.txt in the model directory ${dir}`, MODEL_HINT)
  const at = (n: string) => join(dir, n)
  const [encoder, decoder, joiner, model] = [pick('encoder'), pick('decoder'), pick('joiner'), pick('model')]
  const common = { tokens: at(tokens), numThreads: 1, provider: 'cpu', debug: 0 }
  if (encoder != null && decoder != null && joiner != null) {
    return { ...common, transducer: { encoder: at(encoder), decoder: at(decoder), joiner: at(joiner) }, modelType: 'transducer' }
  }
  if (encoder != null && decoder != null) return { ...common, whisper: { encoder: at(encoder), decoder: at(decoder), task: 'transcribe' } }
  if (model != null) return { ...common, senseVoice: { model: at(model), useInverseTextNormalization: 1 } }
  throw new EngineUnavailableError(`no model files (.onnx) p2pnode knows in ${dir}`, MODEL_HINT)
}

export class SherpaOnnxTranscriber implements Transcriber {
  readonly engine = 'sherpa-onnx'
  private readonly model?: string

  constructor(options: TranscriberOptions = {}) {
    this.model = options.model
  }

  async check(): Promise<void> {
    await this.modelConfig()
    this.module()
  }

  async transcribe(pcm: Int16Array, options: { signal?: AbortSignal } = {}): Promise<string> {
    const sherpa = this.module()
    const modelConfig = await this.modelConfig()
    options.signal?.throwIfAborted()
    try {
      const recognizer = new sherpa.OfflineRecognizer({ featConfig: { sampleRate: SAMPLE_RATE, featureDim: 80 }, modelConfig })
      const stream = recognizer.createStream()
      const samples = new Float32Array(pcm.length)
      for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768
      stream.acceptWaveform({ samples, sampleRate: SAMPLE_RATE })
      recognizer.decode(stream)
      return (recognizer.getResult(stream).text ?? '').trim()
    } catch (err) {
      throw new TranscriptionError(`sherpa-onnx failed: ${(err as Error).message}`, { cause: err })
    }
  }

  private async modelConfig(): Promise<object> {
    if (this.model == null) {
      throw new EngineUnavailableError('the sherpa-onnx engine needs a model directory', `start the node with --asr-model DIR; ${MODEL_HINT}`)
    }
    return sherpaModelConfig(this.model)
  }

  private module(): SherpaModule {
    try {
      return createRequire(import.meta.url)(PACKAGE) as SherpaModule
    } catch (err) {
      throw new EngineUnavailableError(
        `the sherpa-onnx engine is not installed (${PACKAGE})`,
        `run npm install ${PACKAGE} in p2pnode's directory, or start without --asr-engine to use pocketsphinx`,
        { cause: err }
      )
    }
  }
}
