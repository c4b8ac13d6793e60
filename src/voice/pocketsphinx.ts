/**
 * The default engine: `pocketsphinx_continuous` (Debian `pocketsphinx`, model `pocketsphinx-en-us`) as a child
 * process, given a 16 kHz WAV in a private temporary directory (it opens its input by name: a socket as stdin will
 * not do). Measured here: ~0.3–0.5 CPU s per audio s, ~110 MB RSS while it runs, and
 * nothing after (the process ends with each job).
 */
import { spawn } from 'node:child_process'
import { access, constants, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, isAbsolute, join } from 'node:path'
import { TRANSCRIBE_TIMEOUT_MS } from './constants.ts'
import { wavBytes } from './decode.ts'
import { EngineUnavailableError, TranscriptionError } from './errors.ts'
import type { Transcriber, TranscriberOptions } from './transcriber.ts'

export const POCKETSPHINX_COMMAND = 'pocketsphinx_continuous'
/** Where Debian's pocketsphinx-en-us puts the US English acoustic model (the program's built-in default). */
export const POCKETSPHINX_MODEL = '/usr/share/pocketsphinx/model/en-us/en-us'
const INSTALL_HINT = 'install the default engine: apt-get install pocketsphinx pocketsphinx-en-us (then restart the node)'
/** Most output read from the program (a transcript is a few KB; anything more is not one). */
const MAX_OUTPUT_BYTES = 1024 * 1024

export class PocketsphinxTranscriber implements Transcriber {
  readonly engine = 'pocketsphinx'
  private readonly command: string
  private readonly model?: string

  constructor(options: TranscriberOptions = {}) {
    this.command = options.command ?? POCKETSPHINX_COMMAND
    this.model = options.model
  }

  async check(): Promise<void> {
    if ((await findProgram(this.command)) == null) {
      throw new EngineUnavailableError(`the speech-to-text program ${this.command} is not installed`, INSTALL_HINT)
    }
    const model = this.model ?? POCKETSPHINX_MODEL
    const mdef = await stat(join(model, 'mdef')).catch(() => undefined)
    if (mdef?.isFile() !== true) {
      throw new EngineUnavailableError(
        `no pocketsphinx acoustic model in ${model} (no mdef file)`,
        this.model == null ? INSTALL_HINT : 'give --asr-model the directory of a pocketsphinx acoustic model (it holds mdef, means, ...)'
      )
    }
  }

  async transcribe(pcm: Int16Array, options: { signal?: AbortSignal } = {}): Promise<string> {
    const program = await findProgram(this.command)
    if (program == null) throw new EngineUnavailableError(`the speech-to-text program ${this.command} is not installed`, INSTALL_HINT)
    const dir = await mkdtemp(join(tmpdir(), 'p2pnode-asr-'))
    try {
      const input = join(dir, 'input.wav')
      await writeFile(input, wavBytes(pcm), { mode: 0o600 })
      return await this.run(program, input, options.signal)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  private async run(program: string, input: string, abort?: AbortSignal): Promise<string> {
    const args = ['-infile', input, '-logfn', '/dev/null', ...(this.model != null ? ['-hmm', this.model] : [])]
    const signal = AbortSignal.any([AbortSignal.timeout(TRANSCRIBE_TIMEOUT_MS), ...(abort != null ? [abort] : [])])
    return new Promise<string>((resolve, reject) => {
      const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' })
      const out: Buffer[] = []
      let outBytes = 0
      let errTail = ''
      child.stdout.on('data', (b: Buffer) => {
        outBytes += b.length
        if (outBytes > MAX_OUTPUT_BYTES) child.kill('SIGKILL')
        else out.push(b)
      })
      child.stderr.on('data', (b: Buffer) => {
        errTail = (errTail + b.toString('utf8')).slice(-400)
      })
      child.on('error', (err) => {
        if (err.name === 'AbortError') reject(signal.reason instanceof Error && signal.reason.name === 'TimeoutError'
          ? new TranscriptionError(`${this.command} took longer than ${TRANSCRIBE_TIMEOUT_MS / 1000} s`)
          : err)
        else reject(new TranscriptionError(`${this.command} failed to run: ${err.message}`, { cause: err }))
      })
      child.on('close', (code, sig) => {
        if (signal.aborted) return
        if (code !== 0) {
          reject(new TranscriptionError(`${this.command} exited with ${sig ?? code}${errTail !== '' ? `: ${errTail.trim()}` : ''}`))
          return
        }
        // One line per utterance; INFO lines go to the log (-logfn), but older builds print some on stdout.
        const lines = Buffer.concat(out).toString('utf8').split('\n').map((l) => l.trim())
        resolve(lines.filter((l) => l !== '' && !/^(INFO|WARN|ERROR|FATAL)/.test(l)).join(' '))
      })
    })
  }
}

/** The program's path: as given if it has a slash, else the first executable of that name on PATH. */
export async function findProgram(command: string): Promise<string | undefined> {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : join(process.cwd(), command)]
    : (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(d, command))
  for (const c of candidates) {
    if (await access(c, constants.X_OK).then(() => true, () => false)) return c
  }
  return undefined
}
