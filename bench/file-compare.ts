/**
 * `npm run bench:files` (root, iproute2, openssh-server, syncthing; part of `npm run bench`): one file between two
 * netns hosts over p2pnode (`send-file` from the CLI, until the receiver has verified it), scp (OpenSSH, default
 * cipher) and Syncthing (two instances sharing one folder, from the rescan until the file has its name on the
 * other side), interleaved, each rep with a new file of fresh random bytes. Per tool: the median MiB/s, CPU seconds
 * per GiB of both sides (every process of the tool on that side: daemons, forked sessions, the client command),
 * and peak RSS of each side; p2pnode's ratio to each.
 *
 *   P2PNODE_BENCH_MIB=1024 P2PNODE_BENCH_REPS=3 P2PNODE_BENCH_TOOLS=p2pnode,scp,syncthing \
 *     npx node dist/bench/file-compare.js
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { link, mkdir, open, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import type { IdInfo, PeerInfo } from '../src/api/types.ts'
import { BIN, cleanup, NodeProcess, tempDir, waitFor } from '../test/helpers/cli.ts'
import { NetnsLan, netnsSkipReason } from '../test/helpers/netns.ts'
import { PeakRss, treeCpu } from './procs.ts'
import type { Row } from './stats.ts'

const exec = promisify(execFile)
const MiB = 1024 * 1024
const GiB = 1024 * MiB
const BLOCK = MiB
const TIMEOUT_MS = 20 * 60_000

export interface CompareOptions {
  /** File size, MiB. @default 1024 (P2PNODE_BENCH_MIB) */
  mib?: number
  /** Reps per tool, interleaved. @default 3 (P2PNODE_BENCH_REPS) */
  reps?: number
  /** @default p2pnode, scp, syncthing (P2PNODE_BENCH_TOOLS) */
  tools?: string[]
}

/** One transfer: wall time, CPU seconds and peak RSS (MB) of each side. */
interface Run {
  seconds: number
  cpuSender: number
  cpuReceiver: number
  rssSender: number
  rssReceiver: number
  /** p2pnode: the `send-file` command's own peak RSS, beside the node's (rssSender). */
  rssClient?: number
}

/** What one tool needs: set up once, send one file (the path on the sender) and say how it went, tear down. */
interface Tool {
  name: string
  label: string
  setup(): Promise<void>
  send(src: string, name: string, size: number): Promise<Run>
  teardown(): Promise<void>
}

/** A file of `size` fresh random bytes, written a block at a time. */
async function makeFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w')
  try {
    for (let off = 0; off < size; off += BLOCK) {
      const block = randomBytes(Math.min(BLOCK, size - off))
      await fh.write(block, 0, block.byteLength, off)
    }
  } finally {
    await fh.close()
  }
}

/**
 * Run a client command under GNU time in a namespace: wall seconds, CPU seconds (it and every child it waited for)
 * and its largest RSS (MB).
 */
async function timed(
  prefix: string[],
  argv: string[],
  dir: string,
  options: { env?: NodeJS.ProcessEnv; onSpawn?: (pid: number | undefined) => void } = {}
): Promise<{ seconds: number; cpu: number; rss: number; stdout: string }> {
  const out = join(dir, `time-${process.hrtime.bigint()}.txt`)
  const t0 = performance.now()
  const child = spawn('/usr/bin/time', ['-o', out, '-f', '%U %S %M', ...prefix, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env
  })
  options.onSpawn?.(child.pid)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  const seconds = (performance.now() - t0) / 1000
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}: ${stderr}${stdout}`)
  const [user, sys, maxKb] = (await readFile(out, 'utf8')).trim().split('\n').at(-1)?.split(' ').map(Number) ?? []
  await rm(out, { force: true })
  return { seconds, cpu: user + sys, rss: (maxKb * 1024) / 1e6, stdout }
}

/** A long-lived process in a namespace; stopped by `stop()`. */
function daemon(prefix: string[], argv: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const [cmd, ...args] = [...prefix, ...argv]
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env })
  let log = ''
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-4000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  child.once('exit', (code, signal) => {
    if (signal == null && code !== 0) process.stderr.write(`${argv[0]} exited ${code}: ${log}\n`)
  })
  return child
}

async function stopDaemon(child: ChildProcess | undefined): Promise<void> {
  if (child == null || child.exitCode != null || child.signalCode != null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(t)
}

/** Wait until `path` exists with `size` bytes (polled every 20 ms, bounded). */
async function arrived(path: string, size: number): Promise<void> {
  await waitFor(async () => (await stat(path).catch(() => undefined))?.size === size, {
    timeout: TIMEOUT_MS,
    interval: 20,
    what: `${path} to arrive`
  })
}

// ---- p2pnode -------------------------------------------------------------------------------------------------

function p2pnodeTool(lan: NetnsLan, dir: string): Tool {
  let alice: NodeProcess | undefined
  let bob: NodeProcess | undefined
  let aliceAddr = ''
  const listen = (i: number) => ['--no-mdns', '--no-web', '--listen', `/ip4/${lan.hosts[i].ip}/tcp/0`]
  return {
    name: 'p2pnode',
    label: 'p2pnode send-file (CLI, until verified)',
    async setup() {
      await mkdir(join(dir, 'alice'))
      await mkdir(join(dir, 'bob'))
      alice = await NodeProcess.start(join(dir, 'alice'), [...listen(0), '--name', 'alice'], { prefix: lan.prefix(0) })
      aliceAddr = (await alice.json<IdInfo>(['id'])).addrs[0]
    },
    async send(src, name, size) {
      if (alice == null) throw new Error('not set up')
      // A receiver started afresh each rep: it auto-accepts at most 1 GiB an hour from one peer (issue 8), a budget
      // it keeps in memory; the reps would otherwise wait for `p2pnode accept`.
      await bob?.stop()
      bob = await NodeProcess.start(
        join(dir, 'bob'),
        [...listen(1), '--name', 'bob', '--auto-accept-max', String(64 * GiB), '--dial', aliceAddr],
        { prefix: lan.prefix(1) }
      )
      await bob.json(['contacts', 'add', alice.peerId])
      const bobId = bob.peerId
      await waitFor(async () => (await alice?.json<PeerInfo[]>(['peers']))?.find((p) => p.peerId === bobId)?.connected, {
        what: 'alice to see bob'
      })
      const a = alice
      const b = bob
      const pids = { sender: a.child.pid, receiver: b.child.pid }
      const cpu0 = [await treeCpu(pids.sender ?? 0), await treeCpu(pids.receiver ?? 0)]
      const rss = new PeakRss([[() => pids.sender], [() => pids.receiver]])
      rss.start()
      const cli = await timed(lan.prefix(0), [process.execPath, BIN, 'send-file', 'bob', src, '--data', a.dataDir], dir)
      const [rssSender, rssReceiver] = await rss.stop()
      const cpu1 = [await treeCpu(pids.sender ?? 0), await treeCpu(pids.receiver ?? 0)]
      if (!/^delivered /m.test(cli.stdout)) throw new Error(`send-file did not deliver: ${cli.stdout}`)
      const got = join(b.dataDir, 'downloads', name)
      if ((await stat(got)).size !== size) throw new Error(`${got} has the wrong size`)
      await rm(got)
      return {
        seconds: cli.seconds,
        cpuSender: cpu1[0] - cpu0[0] + cli.cpu,
        cpuReceiver: cpu1[1] - cpu0[1],
        rssSender,
        rssReceiver,
        rssClient: cli.rss
      }
    },
    async teardown() {
      await alice?.stop()
      await bob?.stop()
    }
  }
}

// ---- scp -------------------------------------------------------------------------------------------------------

function scpTool(lan: NetnsLan, dir: string): Tool {
  let sshd: ChildProcess | undefined
  const d = join(dir, 'ssh')
  const dest = join(dir, 'scp-in')
  const ssh = () => [
    '-F',
    '/dev/null',
    '-i',
    join(d, 'id'),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR'
  ]
  const target = `root@${lan.hosts[1].ip}`
  return {
    name: 'scp',
    label: 'scp (OpenSSH, default cipher)',
    async setup() {
      await mkdir(d)
      await mkdir(dest)
      // sshd's privilege separation directory (the Debian service creates it at boot).
      await mkdir('/run/sshd', { recursive: true, mode: 0o755 })
      await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'host')])
      await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'id')])
      await writeFile(join(d, 'authorized_keys'), await readFile(join(d, 'id.pub')), { mode: 0o600 })
      const config = [
        `ListenAddress ${lan.hosts[1].ip}`,
        'Port 22',
        `HostKey ${join(d, 'host')}`,
        `PidFile ${join(d, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(d, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'Subsystem sftp /usr/lib/openssh/sftp-server'
      ]
      await writeFile(join(d, 'sshd_config'), `${config.join('\n')}\n`)
      sshd = daemon(lan.prefix(1), ['/usr/sbin/sshd', '-D', '-e', '-f', join(d, 'sshd_config')])
      await waitFor(
        async () => {
          await exec(lan.prefix(0)[0], [...lan.prefix(0).slice(1), 'ssh', ...ssh(), target, 'true'], { timeout: 10_000 })
          return true
        },
        { timeout: 30_000, interval: 200, what: 'sshd to accept logins' }
      )
    },
    async send(src, name, size) {
      const daemonPid = sshd?.pid
      const cpu0 = await treeCpu(daemonPid ?? 0)
      let client: number | undefined
      const rss = new PeakRss([[() => client], [() => daemonPid]])
      rss.start()
      const got = join(dest, name)
      const run = await timed(lan.prefix(0), ['scp', ...ssh(), src, `${target}:${got}`], dir, {
        onSpawn: (pid) => (client = pid)
      })
      const [rssSender, rssReceiver] = await rss.stop()
      // The session's processes have exited and been reaped by the listening sshd: their time is in its cutime.
      const cpu1 = await treeCpu(daemonPid ?? 0)
      if ((await stat(got)).size !== size) throw new Error(`${got} has the wrong size`)
      await rm(got)
      return {
        seconds: run.seconds,
        cpuSender: run.cpu,
        cpuReceiver: cpu1 - cpu0,
        rssSender: Math.max(rssSender, run.rss),
        rssReceiver
      }
    },
    async teardown() {
      await stopDaemon(sshd)
    }
  }
}

// ---- Syncthing -------------------------------------------------------------------------------------------------

/** A line-per-request client of Syncthing's REST API, run inside the namespace (its GUI listens on loopback). */
class RestProxy {
  private readonly child: ChildProcess
  private readonly waiting: Array<(line: string) => void> = []

  constructor(prefix: string[], apiKey: string) {
    const script = `
      const rl = require('node:readline').createInterface({ input: process.stdin })
      rl.on('line', async (line) => {
        const { method, path } = JSON.parse(line)
        try {
          const r = await fetch('http://127.0.0.1:8384' + path, { method, headers: { 'X-API-Key': ${JSON.stringify(apiKey)} } })
          process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }) + '\\n')
        } catch (err) {
          process.stdout.write(JSON.stringify({ status: 0, body: String(err) }) + '\\n')
        }
      })`
    this.child = daemon(prefix, [process.execPath, '-e', script])
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.waiting.shift()?.(line))
  }

  /** One request at a time (the caller awaits each). */
  async call(method: string, path: string): Promise<{ status: number; body: string }> {
    const { promise, resolve } = Promise.withResolvers<string>()
    this.waiting.push(resolve)
    this.child.stdin?.write(`${JSON.stringify({ method, path })}\n`)
    return JSON.parse(await promise) as { status: number; body: string }
  }

  async close(): Promise<void> {
    this.child.stdin?.end()
    await stopDaemon(this.child)
  }
}

function syncthingTool(lan: NetnsLan, dir: string): Tool {
  const homes = [join(dir, 'st-a'), join(dir, 'st-b')]
  const folders = [join(dir, 'st-a-folder'), join(dir, 'st-b-folder')]
  const procs: Array<ChildProcess | undefined> = []
  const rest: RestProxy[] = []
  const ids: string[] = []
  const apiKey = randomBytes(16).toString('hex')
  const env = { ...process.env, STNODEFAULTFOLDER: '1', STNOUPGRADE: '1', HOME: dir }
  const config = (i: number, version: string) => {
    const device = (j: number) =>
      `  <device id="${ids[j]}" name="h${j}" compression="metadata" introducer="false">\n` +
      `    <address>tcp://${lan.hosts[j].ip}:22000</address>\n  </device>`
    return `<configuration version="${version}">
  <folder id="bench" label="bench" path="${folders[i]}" type="sendreceive" rescanIntervalS="0" fsWatcherEnabled="false" ignorePerms="false" autoNormalize="true">
    <filesystemType>basic</filesystemType>
    <device id="${ids[0]}"></device>
    <device id="${ids[1]}"></device>
    <minDiskFree unit="%">0</minDiskFree>
  </folder>
${device(0)}
${device(1)}
  <gui enabled="true" tls="false">
    <address>127.0.0.1:8384</address>
    <apikey>${apiKey}</apikey>
  </gui>
  <options>
    <listenAddress>tcp://${lan.hosts[i].ip}:22000</listenAddress>
    <globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled>
    <relaysEnabled>false</relaysEnabled>
    <natEnabled>false</natEnabled>
    <urAccepted>-1</urAccepted>
    <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <crashReportingEnabled>false</crashReportingEnabled>
    <startBrowser>false</startBrowser>
  </options>
</configuration>
`
  }
  const scanBoth = async () => {
    for (const r of rest) {
      const res = await r.call('POST', '/rest/db/scan?folder=bench')
      if (res.status !== 200) throw new Error(`syncthing scan: ${res.status} ${res.body}`)
    }
  }
  return {
    name: 'syncthing',
    label: 'Syncthing (rescan → file in place)',
    async setup() {
      for (let i = 0; i < 2; i++) {
        const { stdout, stderr } = await exec('syncthing', ['generate', `--home=${homes[i]}`], { env })
        const m = /([A-Z0-9]{7}(?:-[A-Z0-9]{7}){7})/.exec(stdout + stderr)
        if (m == null) throw new Error(`no device id from syncthing generate: ${stdout}${stderr}`)
        ids.push(m[1])
        await mkdir(join(folders[i], '.stfolder'), { recursive: true })
      }
      for (let i = 0; i < 2; i++) {
        const generated = await readFile(join(homes[i], 'config.xml'), 'utf8')
        const version = /<configuration version="(\d+)"/.exec(generated)?.[1] ?? '37'
        await writeFile(join(homes[i], 'config.xml'), config(i, version))
        procs.push(
          daemon(
            lan.prefix(i),
            ['syncthing', 'serve', `--home=${homes[i]}`, '--no-browser', '--no-restart', '--no-upgrade'],
            env
          )
        )
        rest.push(new RestProxy(lan.prefix(i), apiKey))
      }
      await waitFor(
        async () => {
          const res = await rest[0].call('GET', '/rest/system/connections')
          if (res.status !== 200) return false
          const conns = (JSON.parse(res.body) as { connections: Record<string, { connected: boolean }> }).connections
          return conns[ids[1]]?.connected === true
        },
        { timeout: 60_000, interval: 200, what: 'the two Syncthing instances to connect' }
      )
      await scanBoth()
    },
    async send(src, name, size) {
      const pids = procs.map((p) => p?.pid)
      const cpu0 = [await treeCpu(pids[0] ?? 0), await treeCpu(pids[1] ?? 0)]
      const rss = new PeakRss([[() => pids[0]], [() => pids[1]]])
      // The file appears in the shared folder (a hard link: no copy, its pages as warm as for the other tools).
      await link(src, join(folders[0], name))
      rss.start()
      const t0 = performance.now()
      const scan = await rest[0].call('POST', '/rest/db/scan?folder=bench')
      if (scan.status !== 200) throw new Error(`syncthing scan: ${scan.status} ${scan.body}`)
      await arrived(join(folders[1], name), size)
      const seconds = (performance.now() - t0) / 1000
      const [rssSender, rssReceiver] = await rss.stop()
      const cpu1 = [await treeCpu(pids[0] ?? 0), await treeCpu(pids[1] ?? 0)]
      // Gone again on both sides, and both know it (outside the time measured).
      await unlink(join(folders[0], name))
      await rm(join(folders[1], name))
      await scanBoth()
      return { seconds, cpuSender: cpu1[0] - cpu0[0], cpuReceiver: cpu1[1] - cpu0[1], rssSender, rssReceiver }
    },
    async teardown() {
      for (const r of rest) await r.close()
      for (const p of procs) await stopDaemon(p)
    }
  }
}

// ---- the comparison --------------------------------------------------------------------------------------------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Why the comparison cannot run here, or undefined. */
export function compareSkipReason(tools: string[]): string | undefined {
  const netns = netnsSkipReason()
  if (netns != null) return netns
  if (tools.includes('scp') && !existsSync('/usr/sbin/sshd')) return 'scp needs sshd (apt-get install openssh-server)'
  if (tools.includes('syncthing') && !existsSync('/usr/bin/syncthing')) return 'apt-get install syncthing'
  return undefined
}

export async function compareFiles(options: CompareOptions = {}): Promise<Row[]> {
  const mib = options.mib ?? Number(process.env.P2PNODE_BENCH_MIB ?? 1024)
  const reps = options.reps ?? Number(process.env.P2PNODE_BENCH_REPS ?? 3)
  const wanted = options.tools ?? (process.env.P2PNODE_BENCH_TOOLS ?? 'p2pnode,scp,syncthing').split(',')
  const label = mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`
  const skip = compareSkipReason(wanted)
  if (skip != null) {
    return [{ metric: `file ${label} between two netns hosts vs scp, Syncthing`, value: `skipped: ${skip}`, baseline: '', target: '' }]
  }
  const size = mib * MiB
  const lan = new NetnsLan({ subnet: '10.77.13', names: ['sender', 'receiver'], tag: 'f' })
  const dir = await tempDir('p2pnode-compare-')
  const makers: Record<string, (l: NetnsLan, d: string) => Tool> = {
    p2pnode: p2pnodeTool,
    scp: scpTool,
    syncthing: syncthingTool
  }
  const tools = wanted.map((t) => {
    const make = makers[t]
    if (make == null) throw new Error(`unknown tool ${t} (p2pnode, scp, syncthing)`)
    return make(lan, dir)
  })
  const runs = new Map<string, Run[]>(tools.map((t) => [t.name, []]))
  try {
    await lan.up()
    for (const t of tools) await t.setup()
    for (let rep = 0; rep < reps; rep++) {
      const name = `rep-${rep}.bin`
      const src = join(dir, name)
      await makeFile(src, size)
      // Interleaved, and each rep in another order: whatever else the machine does falls on every tool alike.
      const order = tools.map((_, i) => tools[(i + rep) % tools.length])
      for (const t of order) {
        const run = await t.send(src, name, size)
        runs.get(t.name)?.push(run)
        process.stderr.write(
          `${t.name} rep ${rep + 1}/${reps}: ${(mib / run.seconds).toFixed(0)} MiB/s, CPU ${run.cpuSender.toFixed(2)} + ${run.cpuReceiver.toFixed(2)} s, RSS ${run.rssSender.toFixed(0)} / ${run.rssReceiver.toFixed(0)} MB\n`
        )
      }
      await rm(src)
    }
  } finally {
    for (const t of tools) await t.teardown().catch(() => {})
    await lan.down()
    // Syncthing keeps its index under its home, inside dir.
    await cleanup(dir)
  }
  const rows: Row[] = []
  const client = (rs: Run[]) => {
    const c = rs.map((r) => r.rssClient ?? 0)
    return Math.max(...c) > 0 ? ` (+ ${Math.max(...c).toFixed(0)} MB the CLI command)` : ''
  }
  const rate = (name: string) => median((runs.get(name) ?? []).map((r) => mib / r.seconds))
  for (const t of tools) {
    const rs = runs.get(t.name) ?? []
    const perGiB = (cpu: number) => (cpu / mib) * 1024
    const cpuS = median(rs.map((r) => perGiB(r.cpuSender)))
    const cpuR = median(rs.map((r) => perGiB(r.cpuReceiver)))
    rows.push({
      metric: `file ${label}, netns: ${t.label}`,
      value: `${rate(t.name).toFixed(0)} MiB/s (${rs.map((r) => (mib / r.seconds).toFixed(0)).join(', ')})`,
      baseline: `CPU ${(cpuS + cpuR).toFixed(2)} s/GiB (sender ${cpuS.toFixed(2)} + receiver ${cpuR.toFixed(2)}); peak RSS ${Math.max(...rs.map((r) => r.rssSender)).toFixed(0)} / ${Math.max(...rs.map((r) => r.rssReceiver)).toFixed(0)} MB${client(rs)}`,
      target: t.name === 'p2pnode' ? 'RSS ≤ 160 MB each side' : ''
    })
  }
  if (runs.has('p2pnode')) {
    for (const other of ['scp', 'syncthing']) {
      if (!runs.has(other)) continue
      rows.push({
        metric: `file ${label}, netns: p2pnode / ${other}`,
        value: `${(rate('p2pnode') / rate(other)).toFixed(2)}×`,
        baseline: `medians of ${reps} interleaved reps`,
        target: '≥ 1.0×'
      })
    }
  }
  return rows
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await compareFiles()
  for (const r of rows) process.stdout.write(`| ${r.metric} | ${r.value} | ${r.baseline} | ${r.target} |\n`)
  process.exit(0)
}
