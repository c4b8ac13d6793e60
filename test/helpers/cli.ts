import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Repository root (tests run from dist/test/...). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
/** The pinned Node that runs the tests also runs the spawned CLI. */
export const NODE = process.execPath
export const BIN = join(ROOT, 'bin', 'p2pnode')

/** A fresh temp dir; remove it with `cleanup`. */
export async function tempDir(prefix = 'p2pnode-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

export async function cleanup(...dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run `p2pnode <args>` to completion (bounded by `timeout`). `prefix` runs it inside e.g. `ip netns exec NS`. */
export async function cli(
  args: string[],
  options: { prefix?: string[]; timeout?: number; env?: NodeJS.ProcessEnv } = {}
): Promise<CliResult> {
  const [cmd, ...rest] = [...(options.prefix ?? []), NODE, BIN, ...args]
  const child = spawn(cmd, rest, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 30_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** Run a command with --json and parse its output; throws with stderr if it failed. */
export async function cliJson<T>(args: string[], options: { prefix?: string[] } = {}): Promise<T> {
  const res = await cli([...args, '--json'], options)
  if (res.code !== 0) throw new Error(`p2pnode ${args.join(' ')} exited ${res.code}: ${res.stderr}${res.stdout}`)
  return JSON.parse(res.stdout) as T
}

/** Poll `fn` until it returns a truthy value, or throw after `timeout` ms. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: { timeout?: number; interval?: number; what?: string } = {}
): Promise<T> {
  const deadline = Date.now() + (options.timeout ?? 20_000)
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${options.what ?? 'condition'}${last != null ? `: ${(last as Error).message}` : ''}`
      )
    }
    await new Promise((resolve) => setTimeout(resolve, options.interval ?? 50))
  }
}

/**
 * Check that something stays true for `ms` (at least 3 checks, 200 ms apart): for "nothing gets through" claims.
 * `check` throws (an assertion) when it does not hold.
 */
export async function holds(ms: number, check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms
  let rounds = 0
  for (;;) {
    await check()
    rounds++
    if (Date.now() >= deadline && rounds >= 3) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** A `p2pnode start` process. */
export class NodeProcess {
  readonly child: ChildProcess
  readonly dataDir: string
  readonly peerId: string
  readonly exited: Promise<number | null>
  stderr = ''

  private constructor(child: ChildProcess, dataDir: string, peerId: string, exited: Promise<number | null>) {
    this.child = child
    this.dataDir = dataDir
    this.peerId = peerId
    this.exited = exited
  }

  /** Spawn `p2pnode start --data DIR ...args` and wait for its `ready <peerId>` line. */
  static async start(
    dataDir: string,
    args: string[] = [],
    options: { prefix?: string[]; timeout?: number } = {}
  ): Promise<NodeProcess> {
    const [cmd, ...rest] = [...(options.prefix ?? []), NODE, BIN, 'start', '--data', dataDir, ...args]
    const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const peerId = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`no ready line within ${options.timeout ?? 20_000} ms: ${stderr}`))
      }, options.timeout ?? 20_000)
      child.stdout?.on('data', (d) => {
        stdout += d
        const m = /^ready (\S+)$/m.exec(stdout)
        if (m != null) {
          clearTimeout(timer)
          resolve(m[1])
        }
      })
      child.stderr?.on('data', (d) => (stderr += d))
      void exited.then((code) => {
        clearTimeout(timer)
        reject(new Error(`p2pnode start exited ${code} before ready: ${stderr}`))
      })
    })
    const node = new NodeProcess(child, dataDir, peerId, exited)
    node.stderr = stderr
    child.stderr?.on('data', (d) => (node.stderr += d))
    return node
  }

  /** `p2pnode <command> --data DIR ...` against this node. */
  run(args: string[], options: { prefix?: string[] } = {}): Promise<CliResult> {
    return cli([...args, '--data', this.dataDir], options)
  }

  json<T>(args: string[], options: { prefix?: string[] } = {}): Promise<T> {
    return cliJson<T>([...args, '--data', this.dataDir], options)
  }

  /** SIGTERM and wait for the exit status (SIGKILL after 10 s). */
  async stop(): Promise<number | null> {
    if (this.child.exitCode != null || this.child.signalCode != null) return this.child.exitCode
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    const code = await this.exited
    clearTimeout(timer)
    return code
  }

  /** kill -9: no cleanup at all, as in a crash. */
  async crash(): Promise<void> {
    this.child.kill('SIGKILL')
    await this.exited
  }
}

/** The nodes and temp dirs a suite starts; `close()` (from `after`) stops and removes them all, even on failure. */
export class Fleet {
  private readonly args: string[]
  private readonly dirs: string[] = []
  private readonly nodes: NodeProcess[] = []

  /** `args` are passed to every `start` (e.g. loopback-only listening, no mDNS). */
  constructor(args: string[] = []) {
    this.args = args
  }

  async dir(): Promise<string> {
    const d = await tempDir()
    this.dirs.push(d)
    return d
  }

  async start(dir: string, args: string[] = []): Promise<NodeProcess> {
    const node = await NodeProcess.start(dir, [...this.args, ...args])
    this.nodes.push(node)
    return node
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()))
    await cleanup(...this.dirs)
  }
}
