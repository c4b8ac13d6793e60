/**
 * Audio files → 16 kHz mono 16-bit PCM, in-process (no system ffmpeg): WAV (PCM 8/16/24/32-bit or float, any rate
 * and channel count), Ogg/Opus and WebM/Opus (what browsers record) through prism-media's demuxers and opusscript
 * (libopus in wasm), which decodes straight to 16 kHz mono. Anything else, or a damaged file, is AudioDecodeError.
 */
import { readFile, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { Transform } from 'node:stream'
import { MAX_DURATION_MS, MAX_VOICE_BYTES, SAMPLE_RATE } from './constants.ts'
import { AudioDecodeError } from './errors.ts'

export type AudioFormat = 'wav' | 'ogg' | 'webm'

export interface DecodedAudio {
  format: AudioFormat
  /** 16 kHz mono samples. */
  pcm: Int16Array
  /** Duration in ms. */
  duration: number
}

/** The container a file's first bytes name, or undefined (not a format we read). */
export function sniff(head: Uint8Array): AudioFormat | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to))
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'wav'
  if (head.length >= 4 && ascii(0, 4) === 'OggS') return 'ogg'
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'webm'
  return undefined
}

/** Read and decode a file (at most MAX_VOICE_BYTES). */
export async function decodeFile(path: string): Promise<DecodedAudio> {
  const st = await stat(path)
  if (!st.isFile()) throw new AudioDecodeError(`${path} is not a file`)
  if (st.size > MAX_VOICE_BYTES) {
    throw new AudioDecodeError(`${path} is ${st.size} bytes; a voice note may have at most ${MAX_VOICE_BYTES}`)
  }
  return decodeAudio(await readFile(path))
}

export async function decodeAudio(data: Uint8Array): Promise<DecodedAudio> {
  const format = sniff(data)
  if (format == null) {
    throw new AudioDecodeError('not an audio file p2pnode reads: give a .wav, .ogg/.opus (Opus) or .webm (Opus) recording')
  }
  const pcm = format === 'wav' ? decodeWav(data) : await decodeOpus(data, format)
  if (pcm.length === 0) throw new AudioDecodeError(`the ${format} file holds no audio`)
  return { format, pcm, duration: Math.round((pcm.length * 1000) / SAMPLE_RATE) }
}

// ---- WAV ---------------------------------------------------------------------------------------------------------

function decodeWav(data: Uint8Array): Int16Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  let fmt: { tag: number; channels: number; rate: number; bits: number } | undefined
  let samples: DataView | undefined
  for (let at = 12; at + 8 <= data.byteLength; ) {
    const id = String.fromCharCode(...data.subarray(at, at + 4))
    const size = view.getUint32(at + 4, true)
    const body = at + 8
    if (id === 'fmt ' && size >= 16 && body + 16 <= data.byteLength) {
      let tag = view.getUint16(body, true)
      // WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of the sub-format GUID.
      if (tag === 0xfffe && size >= 40 && body + 26 <= data.byteLength) tag = view.getUint16(body + 24, true)
      fmt = { tag, channels: view.getUint16(body + 2, true), rate: view.getUint32(body + 4, true), bits: view.getUint16(body + 14, true) }
    } else if (id === 'data') {
      // A streamed WAV may say 0 or 0xffffffff: take what is there.
      const end = Math.min(data.byteLength, size === 0 || size === 0xffffffff ? data.byteLength : body + size)
      samples = new DataView(data.buffer, data.byteOffset + body, end - body)
      break
    }
    at = body + size + (size % 2)
  }
  if (fmt == null || samples == null) throw new AudioDecodeError('damaged WAV file: no fmt or data chunk')
  const { tag, channels, rate, bits } = fmt
  const pcmInt = tag === 1 && [8, 16, 24, 32].includes(bits)
  const pcmFloat = tag === 3 && (bits === 32 || bits === 64)
  if (!pcmInt && !pcmFloat) throw new AudioDecodeError(`WAV encoding ${tag}/${bits}-bit is not supported: use PCM`)
  if (channels < 1 || channels > 8 || rate < 4000 || rate > 384000) {
    throw new AudioDecodeError(`damaged WAV file: ${channels} channels at ${rate} Hz`)
  }
  const bytes = bits / 8
  const frames = Math.floor(samples.byteLength / (bytes * channels))
  if ((frames * 1000) / rate > MAX_DURATION_MS) throw tooLong((frames * 1000) / rate)
  const read = (off: number): number => {
    if (pcmFloat) return bits === 32 ? samples.getFloat32(off, true) : samples.getFloat64(off, true)
    switch (bits) {
      case 8:
        return (samples.getUint8(off) - 128) / 128
      case 16:
        return samples.getInt16(off, true) / 32768
      case 24:
        return ((samples.getUint8(off) | (samples.getUint8(off + 1) << 8) | (samples.getInt8(off + 2) << 16)) / 8388608)
      default:
        return samples.getInt32(off, true) / 2147483648
    }
  }
  const mono = new Float32Array(frames)
  for (let i = 0; i < frames; i++) {
    let sum = 0
    for (let c = 0; c < channels; c++) sum += read((i * channels + c) * bytes)
    mono[i] = sum / channels
  }
  return toInt16(resample(mono, rate, SAMPLE_RATE))
}

/**
 * Linear-interpolation resampling, after a moving average over the ratio when going down (a crude low-pass that
 * keeps aliasing out of the speech band; recognition does not need better).
 */
export function resample(input: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return input
  let src = input
  const ratio = from / to
  if (ratio > 1) {
    const w = Math.max(1, Math.round(ratio))
    src = new Float32Array(input.length)
    let acc = 0
    for (let i = 0; i < input.length; i++) {
      acc += input[i] - (i >= w ? input[i - w] : 0)
      src[i] = acc / Math.min(i + 1, w)
    }
  }
  const out = new Float32Array(Math.floor(input.length / ratio))
  for (let i = 0; i < out.length; i++) {
    const x = i * ratio
    const j = Math.floor(x)
    const a = src[j] ?? 0
    const b = src[j + 1] ?? a
    out[i] = a + (b - a) * (x - j)
  }
  return out
}

function toInt16(f: Float32Array): Int16Array {
  const out = new Int16Array(f.length)
  for (let i = 0; i < f.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(f[i] * 32768)))
  return out
}

function tooLong(ms: number): AudioDecodeError {
  return new AudioDecodeError(`the recording is ${Math.round(ms / 1000)} s long; a voice note may last at most ${MAX_DURATION_MS / 60000} min`)
}

// ---- Opus in Ogg or WebM -----------------------------------------------------------------------------------------

interface OpusDecoder {
  decode(packet: Buffer): Buffer
  delete(): void
}

interface Prism {
  opus: { OggDemuxer: new () => Transform; WebmDemuxer: new () => Transform }
}

const require = createRequire(import.meta.url)

async function decodeOpus(data: Uint8Array, format: 'ogg' | 'webm'): Promise<Int16Array> {
  const prism = require('prism-media') as Prism
  const OpusScript = require('opusscript') as new (rate: number, channels: number) => OpusDecoder
  const demuxer = format === 'ogg' ? new prism.opus.OggDemuxer() : new prism.opus.WebmDemuxer()
  const packets: Buffer[] = []
  let preSkip = 0
  let head = false
  await new Promise<void>((resolve, reject) => {
    demuxer.on('head', (h: Buffer) => {
      head = true
      // OpusHead: 'OpusHead', version, channels, pre-skip (48 kHz samples, LE u16) ...; WebM's CodecPrivate is the same.
      if (h.length >= 12 && h.subarray(0, 8).toString('latin1') === 'OpusHead') preSkip = h.readUInt16LE(10)
    })
    demuxer.on('data', (p: Buffer) => packets.push(p))
    demuxer.on('error', (err: Error) => {
      reject(new AudioDecodeError(`damaged ${format} file: ${err.message}`, { cause: err }))
    })
    demuxer.on('end', () => resolve())
    demuxer.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
  })
  if (!head && packets.length === 0) throw new AudioDecodeError(`the ${format} file holds no Opus audio (only Opus is read)`)
  const decoder = new OpusScript(SAMPLE_RATE, 1)
  const chunks: Int16Array[] = []
  let total = 0
  try {
    for (const p of packets) {
      let pcm: Buffer
      try {
        pcm = decoder.decode(p)
      } catch (err) {
        throw new AudioDecodeError(`damaged ${format} file: an Opus packet does not decode (${String(err)})`, { cause: err })
      }
      const samples = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength))
      total += samples.length
      if ((total * 1000) / SAMPLE_RATE > MAX_DURATION_MS) throw tooLong((total * 1000) / SAMPLE_RATE)
      chunks.push(samples)
    }
  } finally {
    decoder.delete()
  }
  const out = new Int16Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  // Pre-skip is counted at 48 kHz: the encoder's look-ahead, not audio.
  return out.subarray(Math.min(out.length, Math.round(preSkip / 3)))
}

/** A 16 kHz mono 16-bit WAV file of `pcm` (what the pocketsphinx engine reads). */
export function wavBytes(pcm: Int16Array, rate = SAMPLE_RATE): Buffer {
  const header = Buffer.alloc(44)
  header.write('RIFF', 0, 'latin1')
  header.writeUInt32LE(36 + pcm.byteLength, 4)
  header.write('WAVEfmt ', 8, 'latin1')
  header.writeUInt32LE(16, 16)
  header.writeUInt16LE(1, 20)
  header.writeUInt16LE(1, 22)
  header.writeUInt32LE(rate, 24)
  header.writeUInt32LE(rate * 2, 28)
  header.writeUInt16LE(2, 32)
  header.writeUInt16LE(16, 34)
  header.write('data', 36, 'latin1')
  header.writeUInt32LE(pcm.byteLength, 40)
  return Buffer.concat([header, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)])
}
