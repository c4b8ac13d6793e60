/**
 * `npm run bench:mdns` (root, iproute2): multicast packets per second on a LAN of N netns hosts (default 10), each
 * running mDNS discovery for `_p2pnode._udp.local`, for p2pnode's own service and for @libp2p/mdns as p2pnode 0.1
 * ran it (1 s interval). A listener on one more host counts every packet; figures for the first 10 s (start-up,
 * everyone at once) and for the 30 s after (steady state), and the time until every host knows every other.
 *
 *   npx node dist/bench/mdns-traffic.js [--hosts 10] [--steady 30] [--impl p2pnode|libp2p-mdns|both]
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { MdnsProbe } from '../test/helpers/mdns-probe.ts'
import { NetnsLan, netnsSkipReason } from '../test/helpers/netns.ts'

const HOST = fileURLToPath(new URL('../test/helpers/mdns-host.js', import.meta.url))
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const HOSTS = Number(arg('hosts', '10'))
const STARTUP_S = 10
const STEADY_S = Number(arg('steady', '30'))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Result {
  impl: string
  startup: number
  steady: number
  steadyQueries: number
  steadyAnswers: number
  discoveredMs: number | undefined
}

async function run(impl: string): Promise<Result> {
  const names = Array.from({ length: HOSTS + 1 }, (_, i) => `h${i}`)
  const lan = new NetnsLan({ subnet: '10.77.9', names, tag: 'b' })
  const probe = new MdnsProbe()
  const procs: ChildProcess[] = []
  try {
    await lan.up()
    await probe.start(lan.prefix(HOSTS)) // the last host only listens
    const t0 = Date.now()
    const done: number[] = []
    await Promise.all(
      lan.hosts.slice(0, HOSTS).map(
        (h, i) =>
          new Promise<void>((resolve, reject) => {
            const [cmd, ...args] = [...lan.prefix(i), process.execPath, HOST, impl, h.ip]
            const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] })
            procs.push(proc)
            createInterface({ input: proc.stdout! }).on('line', (line) => {
              if (line === 'started') resolve()
              const m = /^found (\d+) /.exec(line)
              if (m != null && Number(m[1]) === HOSTS - 1) done[i] = Date.now()
            })
            proc.once('exit', (code) => reject(new Error(`host ${i} exited ${code}`)))
          })
      )
    )
    const allStarted = Date.now()
    await sleep(t0 + (STARTUP_S + STEADY_S) * 1000 - Date.now())
    const ips = lan.hosts.slice(0, HOSTS).map((h) => h.ip)
    const window = (from: number, to: number) =>
      probe.from(ips).filter((p) => p.at >= t0 + from * 1000 && p.at < t0 + to * 1000)
    const steady = window(STARTUP_S, STARTUP_S + STEADY_S)
    const all = done.filter((d) => d != null)
    return {
      impl,
      startup: window(0, STARTUP_S).length / STARTUP_S,
      steady: steady.length / STEADY_S,
      steadyQueries: steady.filter((p) => p.type === 'query').length / STEADY_S,
      steadyAnswers: steady.filter((p) => p.type === 'response').length / STEADY_S,
      discoveredMs: all.length === HOSTS ? Math.max(...all) - allStarted : undefined
    }
  } finally {
    for (const p of procs) p.stdin?.end()
    await sleep(1500)
    for (const p of procs) p.kill('SIGKILL')
    probe.stop()
    await lan.down()
  }
}

const skip = netnsSkipReason()
if (skip != null) {
  process.stderr.write(`mdns bench skipped: ${skip}\n`)
} else {
  const which = arg('impl', 'both')
  const impls = which === 'both' ? ['libp2p-mdns', 'p2pnode'] : [which]
  process.stdout.write(`mDNS multicast packets/s, ${HOSTS} hosts (a listener on one more host hears all)\n`)
  process.stdout.write('| implementation | first 10 s | steady state | (queries / answers) | all know all, after the last start |\n')
  process.stdout.write('|---|---|---|---|---|\n')
  for (const impl of impls) {
    const r = await run(impl)
    const f = (n: number) => n.toFixed(2)
    process.stdout.write(
      `| ${r.impl} | ${f(r.startup)} | ${f(r.steady)} | ${f(r.steadyQueries)} / ${f(r.steadyAnswers)} | ` +
        `${r.discoveredMs != null ? `${r.discoveredMs} ms` : 'not all'} |\n`
    )
  }
}
