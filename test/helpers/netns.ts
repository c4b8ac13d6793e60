/**
 * A small LAN of "hosts" on one machine: network namespaces joined by a Linux bridge
 * (see /work/shared/docs/netns-lan.md). Needs Linux, root and iproute2; `netnsSkipReason()` says why not.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

/** Unique per run: the pid (base 36) and random hex, 7 characters. */
export function runSuffix(): string {
  return `${(process.pid % 46_656).toString(36)}${randomBytes(2).toString('hex')}`.slice(0, 7)
}

/** Run `ip ...` (bounded); throws with stderr on failure. */
export async function ip(...args: string[]): Promise<void> {
  try {
    await execFileP('ip', args, { timeout: 10_000 })
  } catch (err) {
    const e = err as Error & { stderr?: string }
    throw new Error(`ip ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`)
  }
}

/** Why this machine cannot build a netns LAN, or undefined if it can. */
export function netnsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'LAN tests need Linux network namespaces'
  if (process.getuid?.() !== 0) return 'LAN tests need root (to create network namespaces and a bridge)'
  const v = spawnSync('ip', ['-V'], { timeout: 5000 })
  if (v.error != null || v.status !== 0) return 'LAN tests need the `ip` command (apt-get install iproute2)'
  // Root in a container may still lack CAP_SYS_ADMIN/CAP_NET_ADMIN: probe with a throwaway namespace.
  const probe = `p2pprobe-${runSuffix()}`
  const add = spawnSync('ip', ['netns', 'add', probe], { timeout: 5000, encoding: 'utf8' })
  if (add.status !== 0)
    return `LAN tests cannot create a network namespace: ${add.stderr?.trim() || add.error?.message}`
  spawnSync('ip', ['netns', 'del', probe], { timeout: 5000 })
  return undefined
}

export interface NetnsHost {
  name: string
  /** Network namespace. */
  ns: string
  /** The host's veth end on the bridge (its other end is `eth0` inside `ns`). */
  veth: string
  ip: string
}

/**
 * Hosts `names[i]` at `${subnet}.${i + 1}/24` in their own namespaces, on one bridge. `tag` (one letter) keeps
 * the interface names of different test files apart; every name carries a per-run suffix and interface names
 * stay within Linux's 15 characters.
 */
export class NetnsLan {
  readonly bridge: string
  readonly hosts: NetnsHost[]
  private readonly createdNs: string[] = []
  private bridgeCreated = false

  constructor(options: { subnet: string; names: string[]; tag: string }) {
    const { subnet, names, tag } = options
    if (!/^10\.77\.\d{1,3}$/.test(subnet)) throw new Error(`use a 10.77.x subnet, not ${subnet}`)
    if (!/^[a-z]$/.test(tag)) throw new Error(`tag must be one lowercase letter, not ${tag}`)
    if (names.length > 20) throw new Error('at most 20 hosts')
    const suffix = runSuffix()
    this.bridge = `p2p${tag}br${suffix}` // 13 chars
    this.hosts = names.map((name, i) => ({
      name,
      ns: `p2p${tag}-${suffix}-${i + 1}`,
      veth: `p2p${tag}v${suffix}${i + 1}`, // 13 chars
      ip: `${subnet}.${i + 1}`
    }))
  }

  /** `ip netns exec NS`, to run a command on host `i`. */
  prefix(i: number): string[] {
    return ['ip', 'netns', 'exec', this.hosts[i].ns]
  }

  /** Create the bridge and the hosts. Whatever was created is recorded, so `down` removes it even after a failure. */
  async up(): Promise<void> {
    await ip('link', 'add', this.bridge, 'type', 'bridge')
    this.bridgeCreated = true
    await ip('link', 'set', this.bridge, 'up')
    for (const h of this.hosts) {
      await ip('netns', 'add', h.ns)
      this.createdNs.push(h.ns)
      await ip('link', 'add', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns)
      await ip('link', 'set', h.veth, 'master', this.bridge, 'up')
      await ip('-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0')
      await ip('-n', h.ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', h.ns, 'link', 'set', 'lo', 'up')
      // Multicast (mDNS) leaves through the LAN interface.
      await ip('-n', h.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    }
  }

  /** Remove the namespaces (and with them their veth ends) and the bridge; never throws. */
  async down(): Promise<void> {
    for (const ns of this.createdNs.splice(0)) await ip('netns', 'del', ns).catch(() => {})
    if (this.bridgeCreated) await ip('link', 'del', this.bridge).catch(() => {})
    this.bridgeCreated = false
  }
}

/** One mDNS packet about p2pnode heard on the LAN. */
export interface MdnsPacket {
  from: string
  answer: boolean
}

/**
 * Listens to mDNS (224.0.0.251:5353) on host `i` of a LAN and records every packet that mentions p2pnode's
 * service, by sender: what each host sends on the LAN, queries and answers.
 */
export class MdnsSniffer {
  readonly packets: MdnsPacket[] = []
  private child: ChildProcess | undefined

  /** Start listening on `ip` inside `prefix` (`NetnsLan.prefix(i)`); resolves once it listens. */
  async start(prefix: string[], ip: string): Promise<void> {
    const script = `
      const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true })
      s.on('message', (m, r) => {
        if (m.length < 12 || !m.includes('_p2pnode')) return
        console.log(JSON.stringify({ from: r.address, answer: (m[2] & 0x80) !== 0 }))
      })
      s.bind(5353, () => { s.addMembership('224.0.0.251', ${JSON.stringify(ip)}); console.log('listening') })`
    const [cmd, ...args] = [...prefix, process.execPath, '-e', script]
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    this.child = child
    await new Promise<void>((resolve, reject) => {
      let buffered = ''
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop() ?? ''
        for (const line of lines) {
          if (line === 'listening') resolve()
          else if (line.startsWith('{')) this.packets.push(JSON.parse(line) as MdnsPacket)
        }
      })
      child.once('error', reject)
      child.once('exit', (code) => reject(new Error(`the mDNS listener exited (${code})`)))
    })
  }

  /** Queries and answers heard from `ip` so far. */
  from(ip: string): { queries: number; answers: number } {
    const mine = this.packets.filter((p) => p.from === ip)
    return { queries: mine.filter((p) => !p.answer).length, answers: mine.filter((p) => p.answer).length }
  }

  stop(): void {
    this.child?.kill()
  }
}
