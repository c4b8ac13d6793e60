/**
 * Homes behind NATs on one machine (network namespaces, iptables MASQUERADE): a "public" bridge with a relay host
 * and one router per home; each home is a client behind its router. Routers know only their two nets, so the homes
 * cannot reach each other, and the public side cannot reach into a home except through the NAT's mappings.
 *
 *   relay 10.77.<p>.1 ─┬─ bridge ─┬─ router i: wan 10.77.<p>.(i+2) │ lan 10.77.<p+i+1>.1 ── client i .2
 *
 * Needs root, iproute2 and iptables (`natSkipReason()` says what is missing).
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { ip, netnsSkipReason, runSuffix } from './netns.ts'

const execFileP = promisify(execFile)

export function natSkipReason(): string | undefined {
  const reason = netnsSkipReason()
  if (reason != null) return reason
  const v = spawnSync('iptables', ['--version'], { timeout: 5000 })
  if (v.error != null || v.status !== 0) return 'NAT tests need iptables (apt-get install iptables)'
  return undefined
}

export interface Home {
  name: string
  /** The client's namespace and address. */
  ns: string
  ip: string
  router: string
  wanIp: string
  /** MASQUERADE with --random-fully: a symmetric NAT (a new port per destination). */
  symmetric: boolean
}

async function inNs(ns: string, ...cmd: string[]): Promise<void> {
  try {
    await execFileP('ip', ['netns', 'exec', ns, ...cmd], { timeout: 10_000 })
  } catch (err) {
    const e = err as Error & { stderr?: string }
    throw new Error(`${cmd.join(' ')} in ${ns} failed: ${e.stderr?.trim() || e.message}`)
  }
}

export class NatLab {
  readonly relayNs: string
  readonly relayIp: string
  readonly homes: Home[]
  private readonly bridge: string
  private readonly suffix: string
  private readonly created: string[] = []
  private bridgeCreated = false
  private readonly p: number

  /** `publicNet`: the x of 10.77.x.0/24 for the public side; homes take x+1, x+2, ... */
  constructor(options: { publicNet: number; homes: Array<{ name: string; symmetric?: boolean }> }) {
    this.suffix = runSuffix()
    this.p = options.publicNet
    this.bridge = `p2pnbr${this.suffix}`
    this.relayNs = `p2pn-${this.suffix}-relay`
    this.relayIp = `10.77.${this.p}.1`
    this.homes = options.homes.map((h, i) => ({
      name: h.name,
      ns: `p2pn-${this.suffix}-${h.name}`,
      ip: `10.77.${this.p + i + 1}.2`,
      router: `p2pn-${this.suffix}-r${i}`,
      wanIp: `10.77.${this.p}.${i + 2}`,
      symmetric: h.symmetric === true
    }))
  }

  prefix(ns: string): string[] {
    return ['ip', 'netns', 'exec', ns]
  }

  private async addNs(ns: string): Promise<void> {
    await ip('netns', 'add', ns)
    this.created.push(ns)
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
  }

  /** A veth from the bridge into `ns` as `dev`, with `addr`. */
  private async onBridge(ns: string, n: number, dev: string, addr: string): Promise<void> {
    const veth = `p2pnv${this.suffix}${n}`
    await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', dev, 'netns', ns)
    await ip('link', 'set', veth, 'master', this.bridge, 'up')
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev)
    await ip('-n', ns, 'link', 'set', dev, 'up')
  }

  async up(): Promise<void> {
    await ip('link', 'add', this.bridge, 'type', 'bridge')
    this.bridgeCreated = true
    await ip('link', 'set', this.bridge, 'up')
    await this.addNs(this.relayNs)
    await this.onBridge(this.relayNs, 0, 'eth0', this.relayIp)
    for (const [i, h] of this.homes.entries()) {
      const lanNet = `10.77.${this.p + i + 1}`
      await this.addNs(h.router)
      await this.onBridge(h.router, i + 1, 'wan', h.wanIp)
      await this.addNs(h.ns)
      await ip('-n', h.router, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns)
      await ip('-n', h.router, 'addr', 'add', `${lanNet}.1/24`, 'dev', 'lan')
      await ip('-n', h.router, 'link', 'set', 'lan', 'up')
      await ip('-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0')
      await ip('-n', h.ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', h.ns, 'route', 'add', 'default', 'via', `${lanNet}.1`)
      await inNs(h.router, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1')
      // As home routers do: nothing unsolicited from outside reaches the router itself. Besides realism this matters
      // for hole punching: an unsolicited packet accepted here leaves a conntrack entry that makes MASQUERADE pick
      // another port for the client's own packet to that peer, and neither side's punch ever gets through.
      await inNs(h.router, 'iptables', '-A', 'INPUT', '-i', 'wan', '-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP')
      await inNs(
        h.router,
        'iptables',
        '-t',
        'nat',
        '-A',
        'POSTROUTING',
        '-o',
        'wan',
        '-j',
        'MASQUERADE',
        ...(h.symmetric ? ['--random-fully'] : [])
      )
    }
  }

  /** Drop (or let through again) UDP forwarded by a home's router: WebRTC cannot go direct while it is dropped. */
  async blockUdp(home: Home, blocked: boolean): Promise<void> {
    await inNs(home.router, 'iptables', blocked ? '-I' : '-D', 'FORWARD', '-p', 'udp', '-j', 'DROP')
  }

  /** Remove every namespace (their veths go with them) and the bridge; never throws. */
  async down(): Promise<void> {
    for (const ns of this.created.splice(0).reverse()) await ip('netns', 'del', ns).catch(() => {})
    if (this.bridgeCreated) await ip('link', 'del', this.bridge).catch(() => {})
    this.bridgeCreated = false
  }
}
