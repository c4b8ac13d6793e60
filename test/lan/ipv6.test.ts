/**
 * IPv6 on a netns LAN of two hosts: a link-local address with its zone (`/ip6zone/eth0/ip6/fe80::…`) is dialled
 * like any other (@libp2p/tcp dropped the zone and could not name the peer's address: "Encryption failed"; patched
 * in patches/), and `/dns6/NAME` is dialled over IPv6 only (it was dialled over IPv4). mDNS off.
 *
 * Needs root and iproute2; otherwise the suite is skipped with the reason.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import type { DialResult, IdInfo } from '../../src/api/types.ts'
import { cleanup, NodeProcess, tempDir, waitFor } from '../helpers/cli.ts'
import { NetnsLan, netnsSkipReason } from '../helpers/netns.ts'

const SKIP = netnsSkipReason()
const execFileP = promisify(execFile)

/** The link-local IPv6 address of eth0 in `ns`, once it is usable (not tentative). */
async function linkLocal(ns: string): Promise<string> {
  return waitFor(
    async () => {
      const { stdout } = await execFileP('ip', ['-n', ns, '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'])
      if (stdout.includes('tentative')) return undefined
      return /inet6 (fe80:[0-9a-f:]+)\//.exec(stdout)?.[1]
    },
    { timeout: 15_000, interval: 200, what: `a link-local IPv6 address in ${ns}` }
  )
}

const portOf = (addrs: string[], proto: 'ip4' | 'ip6') =>
  Number(addrs.map((a) => new RegExp(`^/${proto}/[^/]+/tcp/(\\d+)`).exec(a)?.[1]).find((p) => p != null))

describe('IPv6: link-local dials with a zone, /dns6 over IPv6', { skip: SKIP ?? false }, () => {
  const lan = new NetnsLan({ subnet: '10.77.6', names: ['alice', 'bob'], tag: 'i' })
  const nodes: NodeProcess[] = []
  const dirs: string[] = []
  // ip netns exec bind-mounts /etc/netns/NS/hosts over /etc/hosts: localhost is 127.0.0.1 and ::1 on alice's
  // host whatever this machine's /etc/hosts says, and no name lookup leaves the host.
  const etc = `/etc/netns/${lan.hosts[0].ns}`
  let carol: NodeProcess

  before(async () => {
    await lan.up()
    await mkdir(etc, { recursive: true })
    await writeFile(`${etc}/hosts`, '127.0.0.1 localhost\n::1 localhost\n')
    const args = (i: number) => ['--no-mdns', '--listen', `/ip4/${lan.hosts[i].ip}/tcp/0`, '--listen', '/ip6/::/tcp/0']
    for (const [i, h] of lan.hosts.entries()) {
      dirs.push(await tempDir(`p2pnode-ip6-${h.name}-`))
      nodes.push(await NodeProcess.start(dirs[i], ['--name', h.name, ...args(i)], { prefix: lan.prefix(i) }))
    }
    // carol, on alice's host, listens on IPv4 loopback only.
    dirs.push(await tempDir('p2pnode-ip6-carol-'))
    carol = await NodeProcess.start(dirs[2], ['--name', 'carol', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], {
      prefix: lan.prefix(0)
    })
    nodes.push(carol)
  })
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()))
    await lan.down()
    await rm(etc, { recursive: true, force: true })
    await cleanup(...dirs)
  })

  it('dials a link-local address with its zone', async () => {
    const [alice, bob] = nodes
    const ll = await linkLocal(lan.hosts[0].ns)
    // bob's own link-local address too: while it is tentative, his connect fails with EADDRNOTAVAIL.
    await linkLocal(lan.hosts[1].ns)
    const port = portOf((await alice.json<IdInfo>(['id'])).addrs, 'ip6')
    assert.ok(port > 0, 'alice listens on IPv6')
    const res = await bob.run(['dial', `/ip6zone/eth0/ip6/${ll}/tcp/${port}/p2p/${alice.peerId}`, '--json'])
    assert.equal(res.code, 0, res.stderr)
    const dialed = JSON.parse(res.stdout) as DialResult
    assert.equal(dialed.peerId, alice.peerId)
    assert.equal(dialed.name, 'alice')
  })

  it('dials /dns6/localhost over IPv6 only: a node on IPv4 loopback is not reached that way', async () => {
    const alice = nodes[0]
    const port = portOf((await carol.json<IdInfo>(['id'])).addrs, 'ip4')
    const v6 = await alice.run(['dial', `/dns6/localhost/tcp/${port}/p2p/${carol.peerId}`, '--json'])
    assert.equal(v6.code, 5, `DIAL_FAILED, not a connection over IPv4: ${v6.stdout}${v6.stderr}`)
    assert.match(v6.stderr, /error: could not reach \/dns6\/localhost/)
    assert.match(v6.stderr, /hint: .*\/dns4/)
    // The control: the same name over IPv4 reaches carol.
    const v4 = await alice.run(['dial', `/dns4/localhost/tcp/${port}/p2p/${carol.peerId}`, '--json'])
    assert.equal(v4.code, 0, v4.stderr)
    assert.equal((JSON.parse(v4.stdout) as DialResult).peerId, carol.peerId)
  })
})
