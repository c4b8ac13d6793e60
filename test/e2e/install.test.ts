import assert from 'node:assert/strict'
import { execFile, execFileSync, spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { cleanup, ROOT, tempDir } from '../helpers/cli.ts'

const run = promisify(execFile)

/** A system Node older than 22 (as on this machine's PATH), if there is one. */
const OLD_NODE = (() => {
  for (const node of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const v = execFileSync(node, ['--version'], { encoding: 'utf8' })
      if (Number(/^v(\d+)/.exec(v)?.[1]) < 22) return node
    } catch {
      // not there
    }
  }
  return undefined
})()
const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

/** npm as a user runs it (the one on PATH), offline: everything it needs is in the cache `npm ci` filled. */
async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args, '--offline', '--no-audit', '--no-fund'], {
    cwd,
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024
  })
  return stdout
}

/** PATH with a Node >= 22 first (the one running the tests), as an installed p2pnode needs. */
const PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`

/** `bin args...` with the test's Node on PATH: exit status and output. */
async function p2pnode(bin: string, args: string[]) {
  try {
    const { stdout, stderr } = await run(bin, args, { env: { ...process.env, PATH }, timeout: 30_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

/** Start a node from `bin`, check it answers, stop it. */
async function startAndStop(bin: string, dataDir: string): Promise<void> {
  const child = spawn(bin, ['start', '--data', dataDir, ...LOCAL], { env: { ...process.env, PATH } })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line: ${stderr}`)), 30_000)
    child.stdout.on('data', (d) => {
      stdout += d
      if (/^ready 12D3KooW\S+$/m.test(stdout)) {
        clearTimeout(timer)
        resolve()
      }
    })
    void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)))
  })
  const id = await p2pnode(bin, ['id', '--data', dataDir, '--json'])
  assert.equal(id.code, 0, id.stderr)
  assert.equal((await p2pnode(bin, ['stop', '--data', dataDir])).code, 0)
  assert.equal(await exited, 0)
}

/**
 * Each patch in patches/ is applied in `dir`: the first line each file's hunk adds is in that file. (patch-package
 * names patches `<package>+<version>.patch`, with `a/node_modules/<file>` paths inside.)
 */
async function assertPatched(dir: string): Promise<void> {
  const patches = await readdir(join(ROOT, 'patches'))
  assert.ok(patches.length > 0, 'there are patches to check')
  for (const patch of patches) {
    const text = await readFile(join(ROOT, 'patches', patch), 'utf8')
    for (const section of text.split(/^diff --git /m).slice(1)) {
      const file = /^\+\+\+ b\/(\S+)$/m.exec(section)?.[1]
      const added = section
        .split('\n')
        .find((l) => l.startsWith('+') && !l.startsWith('+++') && l.trim().length > 8)
      if (file == null || added == null) continue
      const installed = await readFile(join(dir, file), 'utf8')
      assert.ok(installed.includes(added.slice(1)), `${patch}: ${file} is patched in ${dir}`)
    }
  }
}

/** p2pnode installed the ways README says, outside the clone, with the dependency patches applied. */
describe('installing p2pnode (npm install -g ., npm pack)', () => {
  let dir: string

  before(async () => {
    dir = await tempDir('p2pnode-install-')
  })
  after(() => cleanup(dir))

  it('npm install -g . puts a working p2pnode on PATH, linked to the clone (patches applied)', async () => {
    const prefix = join(dir, 'global')
    await npm(['install', '-g', '--prefix', prefix, ROOT], dir)
    const bin = join(prefix, 'bin', 'p2pnode')
    const v = await p2pnode(bin, ['--version'])
    assert.equal(v.code, 0, v.stderr)
    assert.equal(v.stdout.trim(), JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version)
    await assertPatched(join(prefix, 'lib', 'node_modules', 'p2pnode'))
    await startAndStop(bin, join(dir, 'data-global'))
  })

  it('the packed tarball carries what it needs: built code, patches, the lock; its postinstall applies them', async () => {
    const out = await npm(['pack', '--pack-destination', dir, '--json'], ROOT)
    const [{ filename, files }] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>
    const paths = files.map((f) => f.path)
    for (const p of ['bin/p2pnode', 'dist/src/cli/index.js', 'npm-shrinkwrap.json', 'package.json']) {
      assert.ok(paths.includes(p), `${p} is in the tarball`)
    }
    assert.ok(paths.some((p) => p.startsWith('patches/')), 'patches/ is in the tarball')
    assert.ok(!paths.some((p) => p.startsWith('test/') || p.startsWith('src/')), 'no tests or sources')
    // What `npm install <tarball>` does, minus the registry look-ups: unpack, install the locked production
    // dependencies (no dev tools: no TypeScript, no pinned Node), run the package's postinstall.
    const app = join(dir, 'app')
    await run('mkdir', ['-p', app])
    await run('tar', ['xzf', join(dir, filename), '-C', app, '--strip-components=1'])
    await npm(['ci', '--omit=dev', '--ignore-scripts'], app)
    await npm(['run', 'postinstall'], app)
    await assertPatched(app)
    const bin = join(app, 'bin', 'p2pnode')
    await startAndStop(bin, join(dir, 'data-tarball'))
  })

  it('an installed p2pnode on a Node older than 22 says what it needs', { skip: OLD_NODE == null ? 'no Node older than 22 on /usr/bin:/bin' : false }, async () => {
    const res = await run(OLD_NODE ?? 'node', [join(ROOT, 'bin', 'p2pnode'), 'id']).then(
      () => ({ code: 0, stderr: '' }),
      (e: { stderr: string; code: number }) => e
    )
    assert.equal(res.code, 1)
    assert.match(res.stderr, /^error: p2pnode needs Node\.js 22 or newer; this is v\d+/m)
  })
})
