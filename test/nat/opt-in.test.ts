/**
 * Relays are opt-in (issue 12): a node with no relay sends nothing to anyone but its LAN peer and mDNS while it
 * chats, dials, sends a file and makes an invite. Counted by an iptables rule in its namespace that matches every
 * IPv4 packet leaving it for anywhere else; adding a relay at run time makes that counter move (the rule can fail).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { cleanup, NodeProcess, tempDir, waitFor } from '../helpers/cli.ts'
import { natSkipReason } from '../helpers/nat.ts'
import { NetnsLan } from '../helpers/netns.ts'

const execFileP = promisify(execFile)
const SKIP = natSkipReason()

describe('a node without relays: no traffic beyond its LAN peer and mDNS', { skip: SKIP ?? false }, () => {
  const lan = new NetnsLan({ subnet: '10.77.8', names: ['alice', 'bob', 'relay'], tag: 'o' })
  const [A, B, R] = lan.hosts
  const nodes: NodeProcess[] = []
  const dirs: string[] = []

  const iptables = async (...args: string[]) =>
    (await execFileP('ip', ['netns', 'exec', A.ns, 'iptables', ...args], { timeout: 10_000 })).stdout
  /** Packets alice sent to anything but bob and multicast (the last OUTPUT rule). */
  const elsewhere = async () => {
    const lines = (await iptables('-L', 'OUTPUT', '-v', '-x', '-n')).trim().split('\n')
    return Number(lines[lines.length - 1].trim().split(/\s+/)[0])
  }

  before(async () => {
    await lan.up()
    for (const h of lan.hosts) dirs.push(await tempDir(`p2pnode-optin-${h.name}-`))
    await iptables('-A', 'OUTPUT', '-o', 'eth0', '-d', B.ip, '-j', 'ACCEPT')
    await iptables('-A', 'OUTPUT', '-o', 'eth0', '-d', '224.0.0.0/4', '-j', 'ACCEPT')
    await iptables('-A', 'OUTPUT', '-o', 'eth0', '-j', 'ACCEPT')
    for (const [i, h] of lan.hosts.entries()) {
      // The relay stays off mDNS: alice is to meet it only when told to.
      const extra =
        h === R ? ['--relay-service', '--no-mdns', '--listen', `/ip4/${h.ip}/tcp/4001`] : ['--listen', `/ip4/${h.ip}/tcp/0`]
      nodes[i] = await NodeProcess.start(dirs[i], ['--name', h.name, '--no-web', ...extra], {
        prefix: lan.prefix(i),
        timeout: 60_000
      })
    }
  })

  after(async () => {
    await Promise.allSettled(nodes.filter((n) => n != null).map((n) => n.stop()))
    await lan.down()
    await cleanup(...dirs)
  })

  it('chats, sends a file and makes an invite without a packet to anyone else', async () => {
    const [alice, bob] = nodes
    assert.equal((await alice.json<unknown[]>(['relay', 'ls'])).length, 0)
    const bobAddr = (await bob.json<{ addrs: string[] }>(['id'])).addrs.find((a) => a.startsWith(`/ip4/${B.ip}/`))
    await alice.json(['dial', bobAddr ?? ''])
    assert.equal((await alice.json<{ status: string }>(['send', bob.peerId, 'hello over the LAN'])).status, 'delivered')
    // Bob answers: alice is then someone he wrote to, whose files he takes without asking.
    assert.equal((await bob.json<{ status: string }>(['send', alice.peerId, 'hi alice'])).status, 'delivered')
    const file = join(dirs[0], 'note.txt')
    await writeFile(file, 'a small file')
    await alice.json(['send-file', bob.peerId, file])
    await waitFor(async () => (await bob.json<Array<{ status: string }>>(['files'])).some((f) => f.status === 'complete'), {
      timeout: 30_000,
      what: 'the file at bob'
    })
    const invite = await alice.json<{ addrs: string[] }>(['invite'])
    assert.ok(invite.addrs.every((a) => !a.includes('/p2p-circuit')), `no relay in alice's invite: ${invite.addrs.join(' ')}`)
    assert.equal(await elsewhere(), 0)
  })

  it('the counter counts: adding a relay (another host) makes alice talk to it', async () => {
    const [alice, , relay] = nodes
    await alice.json(['relay', 'add', `/ip4/${R.ip}/tcp/4001/p2p/${relay.peerId}`])
    await waitFor(async () => (await elsewhere()) > 0, { timeout: 20_000, what: 'packets from alice to the relay' })
  })
})
