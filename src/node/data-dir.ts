import { mkdir, stat } from 'node:fs/promises'
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
    socket: join(dir, 'api.sock')
  }
}

/** Create the data dir (mode 0700) if missing; fail clearly if it is not a usable directory. */
export async function ensureDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const s = await stat(dir)
    if (!s.isDirectory()) throw new Error('not a directory')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    throw new P2pError(ErrorCode.DATA_DIR_INVALID, `cannot use ${dir} as the data dir (${reason})`, {
      hint: 'pass a directory you can write to: p2pnode start --data DIR',
      cause: err
    })
  }
}
