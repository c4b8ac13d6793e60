/**
 * `p2pnode doctor`: check a data dir (no node may run on it) and say what is wrong, file by file. With `repair`,
 * first copy the data dir to `backups/<time>/` inside it, then mend what can be mended: LevelDB's own repair for a
 * database that will not open (db/CURRENT lost, a damaged table), a manifest written again from the database, a
 * database that lost writes taken as it is, damaged values moved aside (kept in the `damaged` sublevel), and the id
 * lookups and search index rebuilt. Nothing is deleted without a copy; what needs a file back from the user (another
 * identity.key or store.secret, another db/) is only reported.
 */
import { constants } from 'node:fs'
import { access, chmod, cp, mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import { type DataPaths, dataPaths } from './data-dir.ts'
import { type DamageDetails, type OpenedData, openDataDir } from './open-data.ts'

export interface DoctorFinding {
  /** The file or dir concerned. */
  file: string
  problem: DamageDetails['problem'] | 'damaged-values' | 'tampered-records' | 'permissions'
  message: string
  /** What to do about it (when `--repair` cannot, or was not asked to). */
  hint?: string
  repairable: boolean
  repaired: boolean
}

export interface DoctorReport {
  dataDir: string
  /** True when nothing is left to mend (after the repairs, with `repair`). */
  healthy: boolean
  findings: DoctorFinding[]
  /** What a healthy store holds. */
  stats?: { peerId: string; messages: number; outbox: number; peers: number }
  /** Where the copy made before repairing is. */
  backup?: string
  notes: string[]
}

/** Rounds of open → mend → open again: each mends one thing, and there are only so many things. */
const MAX_ROUNDS = 6

export interface DoctorOptions {
  /** Mend what can be mended, after a backup. */
  repair?: boolean
  /** With `repair`: when identity.key is lost for good (missing, garbled, another's), make a new one for the store. */
  newIdentity?: boolean
}

export async function doctor(dir: string, options: DoctorOptions = {}): Promise<DoctorReport> {
  const repair = options.repair === true
  if (options.newIdentity === true && !repair) {
    throw new P2pError(ErrorCode.INVALID_ARGUMENT, '--new-identity goes with --repair', {
      hint: `p2pnode doctor --repair --new-identity --data ${dir}`
    })
  }
  const paths = dataPaths(dir)
  const report: DoctorReport = { dataDir: dir, healthy: false, findings: [], notes: [] }
  const s = await stat(dir).catch(() => undefined)
  if (s == null || !s.isDirectory()) {
    throw new P2pError(ErrorCode.DATA_DIR_INVALID, `${dir} is not a data dir (no such directory)`, {
      hint: 'give the data dir: p2pnode doctor --data DIR'
    })
  }
  await access(dir, constants.R_OK | constants.W_OK | constants.X_OK).catch((err: unknown) => {
    throw new P2pError(ErrorCode.DATA_DIR_INVALID, `permission denied on ${dir}`, {
      hint: `run p2pnode doctor as the user who owns ${dir}`,
      cause: err
    })
  })
  const present = new Set(await readdir(dir))
  if (!['identity.key', 'store.secret', 'manifest.json', 'db'].some((name) => present.has(name))) {
    report.notes.push('nothing here yet: p2pnode start makes a data dir of it')
    return finish(report)
  }
  if (repair) report.backup = await backup(paths)
  if ((s.mode & 0o077) !== 0) {
    const mode = (s.mode & 0o777).toString(8).padStart(4, '0')
    if (repair) await chmod(dir, 0o700)
    report.findings.push({
      file: dir,
      problem: 'permissions',
      message: `the data dir is open to other users (mode ${mode})`,
      repairable: true,
      repaired: repair
    })
  }

  const opened = await openMending(paths, report, repair, options.newIdentity === true)
  if (opened == null) return finish(report)
  try {
    await examine(paths, opened, report, repair)
  } finally {
    await opened.close()
  }
  return finish(report)
}

function finish(report: DoctorReport): DoctorReport {
  report.healthy = report.findings.every((f) => f.repaired)
  return report
}

/** Open the data dir the way `start` does, mending and retrying with `repair`; undefined if it cannot be opened. */
async function openMending(
  paths: DataPaths,
  report: DoctorReport,
  repair: boolean,
  newIdentity: boolean
): Promise<OpenedData | undefined> {
  let acceptLostWrites = false
  let adoptIdentity = false
  const manifestWas = await stat(paths.manifest).then(
    () => true,
    () => false
  )
  for (let round = 0; round < MAX_ROUNDS; round++) {
    try {
      const notes: string[] = []
      const opened = await openDataDir(paths, notes, { readOnly: !repair, acceptLostWrites, adoptIdentity })
      report.notes.push(...notes)
      if (!manifestWas && (await opened.store.integrity.storeId()).state === 'ok') {
        report.findings.push({
          file: paths.manifest,
          problem: 'missing',
          message: `${paths.manifest} is missing; the database's sealed id matches the key files`,
          repairable: true,
          repaired: repair
        })
      }
      return opened
    } catch (err) {
      if (isP2pError(err) && err.code === ErrorCode.LEVEL_LOCKED) {
        throw new P2pError(ErrorCode.LEVEL_LOCKED, `a node is running on ${paths.dir}`, {
          hint: `stop it first (p2pnode stop --data ${paths.dir}), then run p2pnode doctor again`,
          cause: err
        })
      }
      if (!isP2pError(err) || err.code !== ErrorCode.STORE_DAMAGED) throw err
      const details = err.details as DamageDetails
      const finding: DoctorFinding = {
        file: details.file,
        problem: details.problem,
        message: err.message,
        repairable: details.repairable,
        repaired: false
      }
      report.findings.push(finding)
      if (repair && newIdentity && details.file === paths.identity) {
        // The old key (if any) is in the backup; the store is given to a new one.
        await rm(paths.identity, { force: true })
        adoptIdentity = true
        finding.repaired = true
        report.notes.push('a new identity was made: peers see a new peer id, so tell your contacts (p2pnode id shows it)')
        continue
      }
      if (!repair || !details.repairable) {
        finding.hint = details.repairable ? `p2pnode doctor --repair --data ${paths.dir}` : err.hint
        return undefined
      }
      if (details.file === paths.manifest) {
        // Kept in the backup; the database's sealed id says what the manifest held.
        await rm(paths.manifest, { force: true })
      } else if (details.problem === 'rolled-back') {
        acceptLostWrites = true
      } else {
        // LevelDB's repair: rebuilds db/CURRENT and the MANIFEST from the tables and logs it finds.
        await (Level as unknown as { repair(location: string): Promise<void> }).repair(paths.db)
      }
      finding.repaired = true
    }
  }
  return undefined
}

/** The checks that need the open store: every sealed value, the peer records; with `repair`, mend them. */
async function examine(paths: DataPaths, opened: OpenedData, report: DoctorReport, repair: boolean): Promise<void> {
  const { store } = opened
  let scan
  try {
    scan = await store.integrity.scanValues()
  } catch (err) {
    // LevelDB itself failed to read (a damaged block): its repair may recover the rest.
    report.findings.push({
      file: paths.db,
      problem: 'corrupt',
      message: `the database cannot be read through: ${(err as Error).message}`,
      hint: `p2pnode doctor --repair --data ${paths.dir}`,
      repairable: true,
      repaired: false
    })
    return
  }
  const bad = scan.damaged.messages.count + scan.damaged.outbox.count
  if (bad > 0) {
    const finding: DoctorFinding = {
      file: paths.db,
      problem: 'damaged-values',
      message: `${scan.damaged.messages.count} messages and ${scan.damaged.outbox.count} outbox entries fail their integrity check (changed on disk); they are not shown`,
      hint: repair ? undefined : `p2pnode doctor --repair --data ${paths.dir} moves them aside (kept in the damaged sublevel)`,
      repairable: true,
      repaired: false
    }
    report.findings.push(finding)
    if (repair) {
      const moved = await store.integrity.quarantine()
      report.notes.push(`${moved} damaged values moved aside (sublevel "damaged", as they were)`)
      finding.repaired = true
    }
  }
  const { peers, tampered } = await store.peers.list()
  if (tampered.length > 0) {
    report.findings.push({
      file: paths.db,
      problem: 'tampered-records',
      message: `${tampered.length} peer records fail their integrity check (the node treats their peers as blocked)`,
      hint: 'p2pnode contacts rm <peer id> removes one (then add the contact again)',
      repairable: false,
      repaired: false
    })
  }
  if (repair) {
    const indexed = await store.rebuildIndexes()
    report.notes.push(`search index and id lookups rebuilt from ${indexed} messages`)
  }
  report.stats = {
    peerId: opened.peerId,
    messages: scan.counts.messages - (repair ? scan.damaged.messages.count : 0),
    outbox: scan.counts.outbox - (repair ? scan.damaged.outbox.count : 0),
    peers: peers.length
  }
}

/** Copy the data dir's own files (not downloads, not earlier backups) to `backups/<time>/`, mode 0700. */
async function backup(paths: DataPaths): Promise<string> {
  const dest = join(paths.dir, 'backups', new Date().toISOString().replace(/[:.]/g, '-'))
  await mkdir(dest, { recursive: true, mode: 0o700 })
  await chmod(join(paths.dir, 'backups'), 0o700)
  const keep = new Set(['identity.key', 'store.secret', 'manifest.json', 'db'])
  for (const name of await readdir(paths.dir)) {
    if (!keep.has(name)) continue
    await cp(join(paths.dir, name), join(dest, name), {
      recursive: true,
      filter: (src) => !src.endsWith('/LOCK')
    })
  }
  return dest
}
