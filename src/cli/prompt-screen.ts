import type { Interface } from 'node:readline'
import { width } from './output.ts'

/** A line printed above the input line, which may be rewritten while it is still on screen. */
export interface ScreenLine {
  readonly id: number
}

interface Entry {
  id: number
  rows: number
}

/**
 * What a readline prompt shows above its input line. Every printed line is counted in terminal rows (wrapped lines
 * take several), so that one still on screen can be rewritten in place — a sent message gets its delivery mark
 * when the ack arrives. After a resize the counts no longer hold: lines printed before it are not rewritten.
 */
export class Screen {
  private readonly rl: Interface
  private readonly out: NodeJS.WriteStream
  private entries: Entry[] = []
  private nextId = 0
  private closed = false

  constructor(rl: Interface, out: NodeJS.WriteStream) {
    this.rl = rl
    this.out = out
    rl.on('close', () => (this.closed = true))
    out.on('resize', () => (this.entries = []))
  }

  /** Print `text` above the input line, keeping what the user is typing below it. */
  print(text: string): ScreenLine {
    if (!this.closed) this.clearInput()
    this.out.write(`${text}\n`)
    const line = this.counted(text)
    // After /quit (or Ctrl+D) the node still reports peers leaving; prompting a closed readline throws.
    if (!this.closed) this.rl.prompt(true)
    return line
  }

  /** Write something else above the input line (a log line on stderr), keeping the input below it. */
  around(text: string, write: () => boolean): boolean {
    if (this.closed) return write()
    this.clearInput()
    const written = write()
    this.counted(text)
    this.rl.prompt(true)
    return written
  }

  /** Count text that reached the screen by other means (readline's echo of an entered line). */
  counted(text: string): ScreenLine {
    const entry = { id: this.nextId++, rows: this.rowsOf(text) }
    this.entries.push(entry)
    // Only what can still be on screen is kept.
    let rows = 0
    for (let i = this.entries.length - 1; i >= 0; i--) {
      rows += this.entries[i].rows
      if (rows > this.height() * 2) {
        this.entries.splice(0, i)
        break
      }
    }
    return entry
  }

  /**
   * Remove the echo of the line just entered (readline printed it and moved below it), so that it can be printed
   * again formatted. Call at once on 'line', before anything else is printed.
   */
  eraseEcho(typed: string): void {
    const rows = this.rowsOf(this.rl.getPrompt() + typed)
    this.out.write(`\x1b[${rows}A\r\x1b[J`)
  }

  /** Rewrite a line in place if it is still on screen and `text` takes as many rows; false if it was not. */
  rewrite(line: ScreenLine, text: string): boolean {
    const i = this.entries.findIndex((e) => e.id === line.id)
    if (i < 0 || this.closed || this.entries[i].rows !== this.rowsOf(text)) return false
    const up = this.entries.slice(i).reduce((n, e) => n + e.rows, 0) + this.rl.getCursorPos().rows
    if (up >= this.height()) return false
    // Save the cursor (in the input line), go up to the line, write it over, come back.
    this.out.write(`\x1b7\x1b[${up}A\r${text}\x1b8`)
    return true
  }

  /** Clear the input line (all its rows) so that output goes where it began; rl.prompt(true) draws it again. */
  private clearInput(): void {
    const rows = this.rl.getCursorPos().rows
    this.out.write(`${rows > 0 ? `\x1b[${rows}A` : ''}\r\x1b[J`)
  }

  private rowsOf(text: string): number {
    const columns = this.out.columns > 0 ? this.out.columns : 80
    return text.split('\n').reduce((n, l) => n + Math.max(1, Math.ceil(width(l) / columns)), 0)
  }

  private height(): number {
    return this.out.rows > 0 ? this.out.rows : 24
  }
}
