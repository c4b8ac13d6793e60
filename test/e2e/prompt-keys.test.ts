import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { BIN, cleanup, cli, NODE, tempDir } from '../helpers/cli.ts'
import { NO_TMUX, Terminal } from '../helpers/tmux.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

/** Leaving the interactive prompt by keys: Ctrl+C twice (the first clears the line), or Ctrl+D. */
describe('interactive prompt: keys that quit', { skip: NO_TMUX }, () => {
  const dirs: string[] = []
  const terminals: Terminal[] = []
  after(async () => {
    for (const t of terminals) await t.close()
    await cleanup(...dirs)
  })

  const prompt = async (name: string) => {
    const dir = await tempDir()
    dirs.push(dir)
    const t = await Terminal.start([NODE, BIN, 'start', '--data', dir, '--name', name, ...LOCAL], name)
    terminals.push(t)
    await t.until(/p2pnode interactive chat — \/help for commands\n> ?$/, 'the prompt')
    return { t, dir }
  }

  it('Ctrl+C clears a half-typed line, a second Ctrl+C quits (exit 0, the node stopped)', async () => {
    const { t, dir } = await prompt('ctrlc')
    await t.type('half typed', false)
    await t.until(/^> half typed$/m, 'the typed text')
    await t.keys('C-c')
    await t.until(/\n>$/, 'the line cleared')
    await t.keys('C-c')
    const done = await t.until(/\[exited with status \d+\]/, 'the node to stop')
    assert.match(done, /\[exited with status 0\]/)
    assert.equal((await cli(['id', '--data', dir])).code, 3, 'no node answers any more')
  })

  it('Ctrl+D quits (exit 0)', async () => {
    const { t } = await prompt('ctrld')
    await t.keys('C-d')
    const done = await t.until(/\[exited with status \d+\]/, 'the node to stop')
    assert.match(done, /\[exited with status 0\]/)
  })
})
