import { resolveDataDir } from '../node/data-dir.ts'
import type { DoctorReport } from '../node/doctor.ts'
import type { CommonOptions } from './commands.ts'
import { EXIT, out } from './output.ts'

/** `p2pnode doctor [--repair]`: check the data dir (no node running), mend with --repair. Exit 0 when healthy. */
export async function doctorCommand(options: CommonOptions & { repair?: boolean; newIdentity?: boolean }): Promise<number> {
  // Loaded only here, like start: it opens the store itself.
  const { doctor } = await import('../node/doctor.ts')
  process.umask(0o077)
  const report = await doctor(resolveDataDir(options.data), { repair: options.repair, newIdentity: options.newIdentity })
  if (options.json === true) out.json(report)
  else out.line(formatReport(report, options.repair === true))
  return report.healthy ? EXIT.OK : EXIT.STORE_DAMAGED
}

export function formatReport(report: DoctorReport, repair: boolean): string {
  const lines = [`data dir: ${report.dataDir}`]
  if (report.backup != null) lines.push(`backup (made before any repair): ${report.backup}`)
  for (const f of report.findings) {
    lines.push(`${f.repaired ? 'repaired' : 'DAMAGED'}: ${f.message}`)
    if (!f.repaired && f.hint != null) lines.push(`  hint: ${f.hint}`)
  }
  for (const note of report.notes) lines.push(`note: ${note}`)
  if (report.stats != null) {
    const { peerId, messages, outbox, peers } = report.stats
    lines.push(`store: peer ${peerId}, ${messages} messages (${outbox} waiting to be sent), ${peers} peers`)
  }
  if (report.healthy) lines.push(report.findings.length === 0 ? 'ok: no problems found' : 'ok: everything found was repaired')
  else if (!repair && report.findings.some((f) => f.repairable)) {
    lines.push(`not ok: run p2pnode doctor --repair --data ${report.dataDir} (it makes a backup first)`)
  } else lines.push('not ok: see the hints above')
  return lines.join('\n')
}
