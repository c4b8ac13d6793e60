/**
 * Voice notes: decoding recordings (WAV, Ogg/Opus, WebM/Opus → 16 kHz mono PCM), speech to text behind the
 * engine-neutral Transcriber interface (pocketsphinx by default, sherpa-onnx with a model the user brings), and the
 * persistent transcription queue. Nothing here talks to the network.
 */
export * from './constants.ts'
export { type AudioFormat, type DecodedAudio, decodeAudio, decodeFile, sniff, wavBytes } from './decode.ts'
export { AudioDecodeError, EngineUnavailableError, TranscriptionError } from './errors.ts'
export { POCKETSPHINX_MODEL } from './pocketsphinx.ts'
export { type JobStore, type QueueOptions, TranscriptQueue } from './queue.ts'
export { createTranscriber, ENGINES, type EngineName, type Transcriber, type TranscriberOptions } from './transcriber.ts'
export { type ProbeResult, probeAudio, type TranscribeResult, transcribeFile } from './worker-jobs.ts'
export { wordErrorRate, wordErrors, words } from './wer.ts'
