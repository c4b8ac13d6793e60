import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { BIN, cleanup, cli, cliJson, NODE, NodeProcess, tempDir, waitFor } from '../helpers/cli.ts'
import type { FileInfo } from '../../src/api/files.ts'
import type { HistoryEntry, PeerInfo } from '../../src/api/types.ts'

/**
 * The interactive prompt (src/cli/prompt.ts) in a real terminal: alice runs `p2pnode start` inside a tmux pane,
 * keys are typed with `send-keys` and the screen is read back with `capture-pane`. Bob is a plain background node.
 */

const run = promisify(execFile)

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const SKIP = hasTmux() ? false : 'tmux is not installed (apt-get install tmux)'

/** A private tmux server for this test run, so nothing touches the user's tmux or another run's. */
const SOCKET = `p2p-test-${process.pid}`
const SESSION = 'alice'

async function tmux(...args: string[]): Promise<string> {
  const { stdout } = await run('tmux', ['-L', SOCKET, ...args], { timeout: 10_000 })
  return stdout
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`
}

describe('interactive prompt in a terminal (tmux)', { skip: SKIP }, () => {
  let bob: NodeProcess | undefined
  let bobDir = ''
  let aliceDir = ''
  let aliceAddr = ''

  /** The whole pane, scrollback included, with wrapped lines joined and trailing blank lines dropped. */
  const screen = async (): Promise<string[]> => {
    const text = await tmux('capture-pane', '-p', '-J', '-S', '-', '-t', SESSION)
    const lines = text.split('\n').map((l) => l.trimEnd())
    while (lines.length > 0 && lines.at(-1) === '') lines.pop()
    return lines
  }

  /** What is on screen when a test fails: the assertion messages include it. */
  const dump = async () =>
    `\n--- alice's screen ---\n${(await screen().catch((e: Error) => [e.message])).join('\n')}\n---`

  /** Type a line (literally, so `/` and spaces are not key names) and press Enter. */
  const type = async (text: string, enter = true) => {
    await tmux('send-keys', '-t', SESSION, '-l', text)
    if (enter) await tmux('send-keys', '-t', SESSION, 'Enter')
  }

  /**
   * Type `line` and wait until `expect` matches the output it produced (what appears from its echo on), so text
   * from earlier commands cannot satisfy the check. Returns that output.
   */
  const command = async (line: string, expect: RegExp, timeout = 15_000): Promise<string> => {
    const start = Math.max(0, (await screen()).length - 1) // the current prompt line is where the echo goes
    await type(line)
    return until(
      `${expect} after typing ${JSON.stringify(line)}`,
      async () => {
        const out = (await screen()).slice(start).join('\n')
        return expect.test(out) ? out : undefined
      },
      timeout
    )
  }

  /** waitFor, with the screen in the error. */
  const until = async <T>(what: string, fn: () => Promise<T | undefined | null | false>, timeout = 15_000) => {
    try {
      return await waitFor(fn, { timeout, what })
    } catch (err) {
      throw new Error(`${(err as Error).message}${await dump()}`)
    }
  }

  const onScreen = (expect: RegExp, what: string) => until(what, async () => expect.test((await screen()).join('\n')))

  /** The input line (trailing spaces dropped) becomes exactly `line`: prompt plus whatever is typed. */
  const inputLineIs = (line: string, what: string) =>
    until(`${what}: ${JSON.stringify(line)} as the last line`, async () => (await screen()).at(-1) === line, 5000)

  const bobHistory = () => bob!.json<HistoryEntry[]>(['history', 'alice'])

  /** Wait until bob has received `text` from alice. */
  const bobGot = async (text: string) =>
    waitFor(async () => (await bobHistory()).find((m) => m.direction === 'in' && m.text === text), {
      timeout: 15_000,
      what: `bob to receive ${JSON.stringify(text)}`
    })

  before(async () => {
    bobDir = await tempDir('p2pnode-prompt-bob-')
    aliceDir = await tempDir('p2pnode-prompt-alice-')
    bob = await NodeProcess.start(bobDir, ['--name', 'bob', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'])
    const { addrs } = await bob.json<{ addrs: string[] }>(['id'])
    assert.ok(addrs.length > 0, 'bob has a listen address')

    const cmd = [
      NODE,
      BIN,
      'start',
      '--data',
      aliceDir,
      '--name',
      'alice',
      '--no-mdns',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--dial',
      addrs[0],
      '--auto-accept-max',
      '1000'
    ]
      .map(shellQuote)
      .join(' ')
    // The prompt runs in a directory of its own, with its own home: /send resolves paths from there.
    await mkdir(join(aliceDir, 'cwd', 'rel dir'), { recursive: true })
    await mkdir(join(aliceDir, 'My Photos'))
    // The exit status is printed by a wrapping shell rather than read from #{pane_dead_status}: tmux built with
    // libutempter can miss the SIGCHLD (tmux/tmux#311), leaving the pane dead with no status. remain-on-exit keeps
    // the pane, and its output, after the process ends.
    const script = `cd ${shellQuote(join(aliceDir, 'cwd'))} && HOME=${shellQuote(aliceDir)} ${cmd}; echo "[p2pnode exited with status $?]"`
    await tmux(
      'new-session',
      '-d',
      '-s',
      SESSION,
      '-x',
      '200',
      '-y',
      '50',
      'sh',
      '-c',
      script,
      ';',
      'set-option',
      '-t',
      SESSION,
      'remain-on-exit',
      'on'
    )
  })

  after(async () => {
    await run('tmux', ['-L', SOCKET, 'kill-server'], { timeout: 10_000 }).catch(() => {})
    await bob?.stop().catch(() => {})
    await cleanup(bobDir, aliceDir)
  })

  it('starts with the banner and a prompt, and sees bob connect', async () => {
    await onScreen(/^ready 12D3KooW\S+$/m, 'the ready line')
    await onScreen(/p2pnode interactive chat — \/help for commands/, 'the banner')
    await onScreen(/^\* bob is here$/m, 'bob to connect')
    await inputLineIs('>', 'the prompt')
    aliceAddr = (await cliJson<{ addrs: string[] }>(['id', '--data', aliceDir])).addrs[0]
  })

  it('/help lists the commands', async () => {
    const out = await command('/help', /\/quit\s+stop the node/)
    for (const c of ['/peers', '/to <peer>', '/msg <peer> <text>', '/history [peer]', '/dial <multiaddr>', '/help',
      '/files', '/accept <id>', '/cancel <id>', '/blocked']) {
      assert.ok(out.includes(c), `/help mentions ${c}:\n${out}`)
    }
  })

  it('a plain line before /to says there is no conversation yet', async () => {
    await command('hello nobody', /no conversation yet: \/to <peer> first/)
  })

  it('/peers shows bob, connected', async () => {
    await command('/peers', new RegExp(`^● bob\\s+${bob!.peerId}$`, 'm'))
  })

  it('/to bob switches the conversation and a plain line is delivered to bob', async () => {
    await command('/to bob', new RegExp(`^talking to bob \\(${bob!.peerId}\\)$`, 'm'))
    await inputLineIs('bob>', 'the prompt names the conversation')
    // The typed line is shown again with its time and a mark: … until bob has stored it, then ✓ in its place.
    await command('hello bob from the prompt', /^\d\d:\d\d \[me\] hello bob from the prompt (…|✓)$/m)
    const got = await bobGot('hello bob from the prompt')
    assert.equal(got.to, bob!.peerId)
    await onScreen(/^\d\d:\d\d \[me\] hello bob from the prompt ✓$/m, 'the delivery mark')
    const lines = (await screen()).join('\n')
    assert.doesNotMatch(lines, /hello bob from the prompt …|^bob> hello bob from the prompt$/m, 'one line, marked in place')
    // The prompt comes back after the line is sent (readline does not redraw it by itself).
    await inputLineIs('bob>', 'the prompt after a sent line')
    // bob is connected: the prompt must not claim the message was queued for an offline peer.
    assert.doesNotMatch((await screen()).join('\n'), /is offline/, 'no "offline" notice for a connected peer')
  })

  it('a message from bob appears live as [bob] text', async () => {
    const res = await bob!.run(['send', 'alice', 'hi from bob'])
    assert.equal(res.code, 0, res.stderr)
    await onScreen(/^\d\d:\d\d \[bob\] hi from bob$/m, "12:03 [bob] hi from bob on alice's screen")
    await inputLineIs('bob>', 'the prompt redrawn below the message')
  })

  it('an incoming message does not garble a half-typed line', async () => {
    await type('half typed', false)
    await onScreen(/^bob> half typed$/m, 'the half-typed line')
    const res = await bob!.run(['send', 'alice', 'interrupting you'])
    assert.equal(res.code, 0, res.stderr)
    await onScreen(/^\d\d:\d\d \[bob\] interrupting you$/m, 'the interrupting message')
    await inputLineIs('bob> half typed', 'the half-typed line redrawn below the message')
    await type(' and finished')
    await bobGot('half typed and finished')
  })

  it('/msg bob <text> sends without switching', async () => {
    await type('/msg bob  sent   with /msg')
    // Whitespace inside the text is kept as typed.
    await bobGot('sent   with /msg')
    // Still talking to bob, and nothing printed but the line as sent.
    await inputLineIs('bob>', 'the prompt after /msg')
    await onScreen(/^\d\d:\d\d \[me\] sent {3}with \/msg ✓\nbob>$/m, 'the /msg line, delivered')
  })

  it('/history bob shows both directions', async () => {
    const out = await command('/history bob', /me: sent {3}with \/msg {2}\[(sent|delivered)\]/)
    assert.match(out, /me: hello bob from the prompt {2}\[(sent|delivered)\]/)
    assert.match(out, /bob: hi from bob/)
    assert.match(out, /bob: interrupting you/)
    // Without an argument it is the current conversation.
    await command('/history', /me: half typed and finished/)
  })

  it('errors are clear and the prompt keeps working', async () => {
    await command('/frobnicate', /^unknown command \/frobnicate — \/help lists them$/m)
    const out = await command('/to nobody', /^error: .*nobody.*$/m)
    assert.match(out, /no known peer is called "nobody"/)
    await command('/to', /^usage: \/to <peer>$/m)
    await command('/msg bob', /^usage: \/msg <peer> <text>$/m)
    // The failed /to did not change the conversation: a plain line still goes to bob.
    await inputLineIs('bob>', 'still talking to bob')
    await type('still here after errors')
    await bobGot('still here after errors')
  })

  it('/send <path> sends a file to the conversation and says when bob has verified it', async () => {
    const data = randomBytes(600 * 1024) // three chunks
    const path = join(aliceDir, 'notes.bin')
    await writeFile(path, data)
    await command(`/send ${path}`, /^ {2}sending notes\.bin \(600\.0 KiB\) to bob \[[0-9a-f]{32}\]$/m)
    await onScreen(/^\* bob has notes\.bin, verified$/m, 'the file verified by bob')
    await inputLineIs('bob>', 'the prompt after the file')
    const got = await until('bob to list the file complete', async () =>
      (await bob!.json<FileInfo[]>(['files'])).find((f) => f.name === 'notes.bin' && f.status === 'complete')
    )
    const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
    assert.equal(sha256(await readFile(got.path)), sha256(data))
    // Mistakes: a clear line, and the prompt goes on.
    const missing = await command(`/send ${join(aliceDir, 'nope.bin')}`, /^error: .*cannot send/m)
    assert.match(missing, /nope\.bin/)
    await command('/send', /^usage: \/send <path>$/m)
    await inputLineIs('bob>', 'still talking to bob')
  })

  it('/send takes quotes, backslashes, ~ and paths relative to where the prompt runs (drag and drop)', async () => {
    await writeFile(join(aliceDir, 'My Photos', 'a b.png'), randomBytes(300))
    await writeFile(join(aliceDir, 'cwd', 'rel dir', 'c.bin'), randomBytes(300))
    await command('/send "~/My Photos/a b.png"', /^ {2}sending a b\.png \(300 B\) to bob \[[0-9a-f]{32}\]$/m)
    await command("/send 'rel dir/c.bin' ", /^ {2}sending c\.bin \(300 B\) to bob \[[0-9a-f]{32}\]$/m)
    await command('/send ~/My\\ Photos/a\\ b.png', /^ {2}sending a b\.png \(300 B\) to bob \[[0-9a-f]{32}\]\n/m)
    await onScreen(/^\* bob has c\.bin, verified$/m, 'the relative one verified by bob')
  })

  it('/accept and /cancel take the short ids the prompt shows; /files and /blocked list', async () => {
    const offered = async (name: string) => {
      await writeFile(join(bobDir, name), randomBytes(5000))
      assert.equal((await bob!.run(['send-file', 'alice', join(bobDir, name), '--no-wait'])).code, 0)
      const out = await until(`the offer of ${name}`, async () =>
        new RegExp(`^\\* bob offers ${name} \\(4\\.9 KiB\\): /accept ([0-9a-f]{8}) to take it`, 'm').exec(
          (await screen()).join('\n')
        )
      )
      return out[1]
    }
    const take = await offered('take.bin')
    await command(`/accept ${take}`, new RegExp(`^ {2}transferring ${take} take\\.bin$`, 'm'))
    await onScreen(/^\* received take\.bin \(4\.9 KiB\) from bob: /m, 'the accepted file')
    const refuse = await offered('refuse.bin')
    await command(`/cancel ${refuse}`, new RegExp(`^ {2}cancelled ${refuse} refuse\\.bin$`, 'm'))
    const files = await command('/files', /refuse\.bin/)
    assert.match(files, new RegExp(`^${take}[0-9a-f]{24} {2}← bob +complete .* take\\.bin`, 'm'))
    assert.match(files, new RegExp(`^${refuse}[0-9a-f]{24} {2}← bob +cancelled .* refuse\\.bin`, 'm'))
    await command('/blocked', /^nobody is blocked$/m)
    await command('/cancel zz', /^error: not a transfer id: zz$/m)
  })

  it('Ctrl+C clears a half-typed line (nothing is sent); once more on an empty line says how to quit', async () => {
    await type('never sent', false)
    await inputLineIs('bob> never sent', 'the half-typed line')
    await tmux('send-keys', '-t', SESSION, 'C-c')
    await inputLineIs('bob>', 'the line cleared')
    await type('after ctrl-c')
    await bobGot('after ctrl-c')
    assert.ok(!(await bobHistory()).some((m) => m.text.includes('never sent')), 'the cleared text was not sent')
    await tmux('send-keys', '-t', SESSION, 'C-c')
    await onScreen(/^\(Ctrl\+C again or Ctrl\+D to quit\)$/m, 'how to quit')
    // Typing in between: the next Ctrl+C is a first one again, and the node goes on.
    await type('still here')
    await bobGot('still here')
  })

  it('a line to bob while he is away gets its ✓ when he is back; his new name is told', async () => {
    await bob!.stop()
    await onScreen(/^\* bob left$/m, 'bob to leave')
    await command('while you were away', /^\d\d:\d\d \[me\] while you were away …$/m)
    await onScreen(/^ {2}\(bob is offline: queued, sent when they are back\)$/m, 'the queued notice')
    bob = await NodeProcess.start(bobDir, [
      '--name',
      'robert',
      '--no-mdns',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--dial',
      aliceAddr,
      '--auto-accept-max',
      '1000'
    ])
    await onScreen(/^\* bob is now called robert$/m, 'the rename')
    await onScreen(/^\d\d:\d\d \[me\] while you were away ✓$/m, 'the mark, in place')
    await inputLineIs('robert>', 'the prompt with the new name')
    // Over robert's limit now: alice is told he must accept it (not that it is on its way).
    await writeFile(join(aliceDir, 'cwd', 'big.bin'), randomBytes(5000))
    await command('/send big.bin', /^\* robert must accept big\.bin \(.+\); it goes once they do$/m)
  })

  it('/quit stops the node', async () => {
    const { peerId } = await cliJson<{ peerId: string }>(['id', '--data', aliceDir])
    assert.match(peerId, /^12D3KooW/)
    const quitOutput = await command('/quit', /^\[p2pnode exited with status \d+\]$/m, 20_000)
    assert.match(quitOutput, /^\[p2pnode exited with status 0\]$/m)
    // A clean exit: no stack trace, uncaught error or error log line on the way out.
    assert.doesNotMatch(quitOutput, /ERR_|Uncaught|^\s+at |:error /m)
    // Nothing answers on the data dir any more: NO_NODE is exit status 3.
    const res = await cli(['id', '--data', aliceDir])
    assert.equal(res.code, 3, `p2pnode id after /quit: ${res.stdout}${res.stderr}`)
    // bob saw alice leave.
    await until('bob to see alice offline', async () => {
      const peers = await bob!.json<PeerInfo[]>(['peers'])
      return peers.some((p) => p.name === 'alice' && !p.connected)
    })
  })
})
