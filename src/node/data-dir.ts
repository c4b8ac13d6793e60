import { constants } from 'node:fs'
import { access, chmod, mkdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { ErrorCode, P2pError } from '../errors.ts'

/** `--data DIR`, else `$P2PNODE_HOME`, else `~/.p2pnode`; always absolute. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = flag ?? env.P2PNODE_HOME ?? join(homedir(), '.p2pnode')
  return resolve(dir)
}

/** Files inside the data dir. */
export function dataPaths(dir: string) {
  return {
    dir,
    identity: join(dir, 'identity.key'),
    secret: join(dir, 'store.secret'),
    db: join(dir, 'db'),
    /** Ties identity.key, store.secret and db/ together (see src/store/manifest.ts). */
    manifest: join(dir, 'manifest.json'),
    socket: join(dir, 'api.sock')
  }
}

export type DataPaths = ReturnType<typeof dataPaths>

/** Permission errors of the file system: the data dir (or a file in it) belongs to someone else. */
export function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'EACCES' || code === 'EPERM'
}

/** DATA_DIR_INVALID for a file or dir of the data dir we may not use, saying whose it is when we can tell. */
export async function permissionDenied(dir: string, path: string, err: unknown): Promise<P2pError> {
  const owner = await stat(path).then(
    (s) => s.uid,
    () => undefined
  )
  const uid = process.getuid?.()
  const whose = owner != null && uid != null && owner !== uid ? ` (it belongs to uid ${owner}; you are uid ${uid})` : ''
  return new P2pError(ErrorCode.DATA_DIR_INVALID, `permission denied on ${path}${whose}`, {
    hint: `run p2pnode as the user who owns ${dir}, or use a data dir of your own: --data DIR`,
    cause: err
  })
}

/**
 * Create the data dir (mode 0700) if missing; fail clearly (DATA_DIR_INVALID) if it is not a directory we can use.
 * An existing dir that others can read or enter is tightened to 0700, and `notices` says so (it holds the node's
 * private key); one that others could write to is also a warning, since its files may have been replaced.
 */
export async function ensureDataDir(dir: string, notices: string[] = []): Promise<void> {
  const invalid = (reason: string, err?: unknown) =>
    new P2pError(ErrorCode.DATA_DIR_INVALID, `cannot use ${dir} as the data dir (${reason})`, {
      hint: 'pass a directory you can write to: p2pnode start --data DIR',
      cause: err
    })
  let s: Awaited<ReturnType<typeof stat>>
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    s = await stat(dir)
  } catch (err) {
    const exists = await stat(dir).then(
      () => true,
      () => false
    )
    if (isPermissionError(err) && exists) throw await permissionDenied(dir, dir, err)
    if (isPermissionError(err)) throw invalid('permission denied: it cannot be created there', err)
    throw invalid((err as NodeJS.ErrnoException).code ?? (err as Error).message, err)
  }
  if (!s.isDirectory()) throw invalid('not a directory')
  try {
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK)
  } catch (err) {
    throw await permissionDenied(dir, dir, err)
  }
  const mode = s.mode & 0o777
  if ((mode & 0o077) === 0) return
  const octal = mode.toString(8).padStart(4, '0')
  const writable = (mode & 0o022) !== 0
  const risk = writable
    ? `was writable by other users (mode ${octal}): they could have replaced files in it; check it with p2pnode doctor`
    : `was readable by other users (mode ${octal}), and it holds your private key`
  try {
    await chmod(dir, 0o700)
    notices.push(`p2pnode: warning: the data dir ${dir} ${risk}. Its mode is now 0700 (only you).`)
  } catch {
    notices.push(`p2pnode: warning: the data dir ${dir} ${risk}. It could not be changed: run chmod 700 ${dir}`)
  }
}
