/**
 * CPU time and resident memory of process trees, from /proc (Linux): what a tool costs on each side, whatever
 * processes it forks (sshd forks a session per connection, syncthing a child, p2pnode a CLI).
 */
import { readdir, readFile } from 'node:fs/promises'

const TICKS_PER_SECOND = 100
const PAGE_BYTES = 4096

interface ProcStat {
  pid: number
  ppid: number
  /** utime + stime + cutime + cstime, in seconds: itself and its children that have exited (reaped). */
  cpu: number
  rssBytes: number
}

async function readStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const f = text.slice(text.lastIndexOf(') ') + 2).split(' ')
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
    return { pid, ppid: Number(f[1]), cpu: ticks / TICKS_PER_SECOND, rssBytes: Number(f[21]) * PAGE_BYTES }
  } catch {
    return undefined // gone meanwhile
  }
}

/** Every process now alive. */
async function table(): Promise<ProcStat[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number)
  return (await Promise.all(pids.map(readStat))).filter((s) => s != null)
}

/** `root` and its live descendants. */
function tree(all: ProcStat[], root: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>()
  for (const s of all) {
    const list = children.get(s.ppid) ?? []
    list.push(s)
    children.set(s.ppid, list)
  }
  const out: ProcStat[] = []
  const self = all.find((s) => s.pid === root)
  if (self == null) return out
  const todo = [self]
  while (todo.length > 0) {
    const s = todo.pop() as ProcStat
    out.push(s)
    todo.push(...(children.get(s.pid) ?? []))
  }
  return out
}

/**
 * CPU seconds a process tree has used: each live member's own time plus that of its exited children (a child that
 * exits moves its time into its parent's cutime/cstime, so nothing is counted twice or lost while `root` lives).
 */
export async function treeCpu(root: number): Promise<number> {
  return tree(await table(), root).reduce((sum, s) => sum + s.cpu, 0)
}

/**
 * Samples the RSS of groups of process trees every `interval` ms (a group: the trees of one side, e.g. a daemon
 * and the client command run beside it, summed) and keeps the peak of each group.
 */
export class PeakRss {
  private readonly groups: Array<Array<() => number | undefined>>
  private readonly peaks: number[]
  private readonly interval: number
  private timer: NodeJS.Timeout | undefined
  private sampling: Promise<void> = Promise.resolve()

  constructor(groups: Array<Array<() => number | undefined>>, interval = 100) {
    this.groups = groups
    this.peaks = groups.map(() => 0)
    this.interval = interval
  }

  start(): void {
    this.timer = setInterval(() => {
      this.sampling = this.sample()
    }, this.interval)
  }

  /** Stop sampling; the peak of each tree, in MB (10^6 bytes, as `ps` and the other bench rows show it). */
  async stop(): Promise<number[]> {
    clearInterval(this.timer)
    await this.sampling
    await this.sample()
    return this.peaks.map((b) => b / 1e6)
  }

  private async sample(): Promise<void> {
    const all = await table()
    this.groups.forEach((roots, i) => {
      let rss = 0
      for (const root of roots) {
        const pid = root()
        if (pid != null) rss += tree(all, pid).reduce((sum, s) => sum + s.rssBytes, 0)
      }
      this.peaks[i] = Math.max(this.peaks[i], rss)
    })
  }
}
