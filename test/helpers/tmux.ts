import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { waitFor } from './cli.ts'

const run = promisify(execFile)

/** Why tests that need a terminal are skipped, or false if tmux is there. */
export const NO_TMUX: string | false = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' })
    return false
  } catch {
    return 'tmux is not installed (apt-get install tmux)'
  }
})()

export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`
}

/**
 * A command running in a real terminal: a pane of a private tmux server (nothing touches the user's tmux). Keys go
 * in with `send-keys`, the screen comes back with `capture-pane`. The pane stays after the command ends and shows
 * `[exited with status N]`.
 */
export class Terminal {
  private readonly socket: string
  private readonly session = 'term'

  private constructor(socket: string) {
    this.socket = socket
  }

  static async start(argv: string[], name = 'term'): Promise<Terminal> {
    const t = new Terminal(`p2p-test-${process.pid}-${name}`)
    // The shell survives a Ctrl+C meant for the command (a trap; the command gets the default action) to print its status.
    const script = `trap true INT; ${argv.map(shellQuote).join(' ')}; echo "[exited with status $?]"`
    await t.tmux('new-session', '-d', '-s', t.session, '-x', '200', '-y', '50', 'sh', '-c', script, ';',
      'set-option', '-t', t.session, 'remain-on-exit', 'on')
    return t
  }

  async tmux(...args: string[]): Promise<string> {
    const { stdout } = await run('tmux', ['-L', this.socket, ...args], { timeout: 10_000 })
    return stdout
  }

  /** The whole pane, scrollback included, wrapped lines joined, trailing blank lines dropped. */
  async screen(): Promise<string> {
    const text = await this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', this.session)
    return text.split('\n').map((l) => l.trimEnd()).join('\n').trimEnd()
  }

  /** Type text literally (no key names); Enter after it if `enter`. */
  async type(text: string, enter = true): Promise<void> {
    if (text !== '') await this.tmux('send-keys', '-t', this.session, '-l', text)
    if (enter) await this.tmux('send-keys', '-t', this.session, 'Enter')
  }

  /** Press keys by name (`C-c`, `C-d`, `Enter`). */
  async keys(...names: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', this.session, ...names)
  }

  /** Wait until the screen matches; the error shows the screen. */
  async until(expect: RegExp, what: string, timeout = 15_000): Promise<string> {
    try {
      return await waitFor(async () => {
        const s = await this.screen()
        return expect.test(s) ? s : undefined
      }, { timeout, what })
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- screen ---\n${await this.screen().catch(() => '')}\n---`)
    }
  }

  async close(): Promise<void> {
    await this.tmux('kill-server').catch(() => {})
  }
}
