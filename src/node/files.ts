import { type FileInfo, type FilesApi, transferNotFound } from '../api/files.ts'
import type { HistoryEntry } from '../api/types.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import type { FileTransferProtocol, TransferInfo } from '../protocols/file/index.ts'
import { checkPath } from './people.ts'

const ID = /^[0-9a-f]{32}$/
const PREFIX = /^[0-9a-f]{8,31}$/
const FINAL = new Set(['complete', 'failed', 'cancelled'])

/** The node's FilesApi: checks arguments and turns protocol results and failures into API shapes and codes. */
/**
 * Who a file goes to: a peer, or a group's members (one transfer each; `sent` is told of the first, and posts `line`
 * in the group, or a line naming the file).
 */
export type FileTarget = string | { peers: string[]; sent: (first: FileInfo, line?: string) => Promise<void> }

export class NodeFiles implements FilesApi {
  private readonly protocol: FileTransferProtocol
  private readonly resolvePeer: (ref: string) => Promise<FileTarget>

  constructor(files: FileTransferProtocol, resolvePeer: (ref: string) => Promise<FileTarget>) {
    this.protocol = files
    this.resolvePeer = resolvePeer
  }

  async sendFile(ref: string, path: string): Promise<FileInfo> {
    checkPath(path, 'the path')
    const target = await this.resolvePeer(ref)
    if (typeof target === 'string') return this.sendOne(target, path)
    let first: FileInfo | undefined
    for (const peer of target.peers) {
      const info = await this.sendOne(peer, path)
      first ??= info
    }
    if (first == null) throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'nobody else is in that group')
    await target.sent(first)
    return first
  }

  private async sendOne(peer: string, path: string): Promise<FileInfo> {
    try {
      return toFileInfo(await this.protocol.send(peer, path))
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (
        err instanceof RangeError ||
        code === 'ENOENT' ||
        code === 'ENOTDIR' ||
        code === 'EISDIR' ||
        code === 'EACCES'
      ) {
        throw new P2pError(ErrorCode.FILE_NOT_READABLE, `cannot send ${path}: ${(err as Error).message}`, {
          hint: 'give the path of a regular file you can read',
          cause: err
        })
      }
      throw err
    }
  }

  async files(): Promise<FileInfo[]> {
    return (await this.protocol.list()).map(toFileInfo)
  }

  async file(ref: string): Promise<FileInfo> {
    const info = await this.protocol.get(await this.resolveId(ref))
    if (info == null) throw transferNotFound(ref)
    return toFileInfo(info)
  }

  /** Accepting a transfer that is already being received is fine (nothing changes); anything else is an error. */
  async accept(ref: string): Promise<FileInfo> {
    const id = await this.resolveId(ref)
    const info = await this.protocol.accept(id)
    if (info == null) throw transferNotFound(ref)
    if (info.direction === 'out') {
      throw new P2pError(ErrorCode.TRANSFER_FAILED, `transfer ${id} is one you send: only the receiver accepts it`, {
        hint: 'p2pnode files shows incoming transfers with ←'
      })
    }
    if (info.status !== 'transferring') {
      throw new P2pError(ErrorCode.TRANSFER_FAILED, `transfer ${id} is already ${info.status}`, {
        hint:
          info.status === 'complete'
            ? `the file is at ${info.path}`
            : 'ask the sender to send it again (p2pnode files shows why it ended)'
      })
    }
    return toFileInfo(info)
  }

  /** Cancelling one that is over (complete, failed, or cancelled before) is TRANSFER_FAILED. */
  async cancel(ref: string): Promise<FileInfo> {
    const id = await this.resolveId(ref)
    const before = await this.protocol.get(id)
    if (before == null) throw transferNotFound(ref)
    const info = FINAL.has(before.status) ? before : await this.protocol.cancel(id)
    if (info == null) throw transferNotFound(ref)
    if (before.status === 'cancelled' || info.status !== 'cancelled') {
      throw new P2pError(ErrorCode.TRANSFER_FAILED, `transfer ${id} is already ${info.status}: nothing to cancel`, {
        hint: 'p2pnode files shows every transfer and its status'
      })
    }
    return toFileInfo(info)
  }

  /**
   * A whole transfer id, or a unique prefix of 8+ hex characters (what the prompt and `files` show in short).
   * TRANSFER_NOT_FOUND if none matches, INVALID_ARGUMENT if several do or it is not hex.
   */
  async resolveId(ref: string): Promise<string> {
    const id = ref.toLowerCase()
    if (ID.test(id)) return id
    if (!PREFIX.test(id)) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `not a transfer id: ${ref}`, {
        hint: 'a transfer id is 32 hex characters, or its first 8 or more; p2pnode files lists them'
      })
    }
    const hits = (await this.protocol.list()).filter((t) => t.id.startsWith(id))
    if (hits.length === 0) throw transferNotFound(ref)
    if (hits.length > 1) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `${ref} starts ${hits.length} transfer ids`, {
        hint: 'type more characters of the id (p2pnode files lists them)',
        details: hits.map((t) => t.id)
      })
    }
    return hits[0].id
  }

  /** Fill in the live transfer status of file entries in a conversation. */
  async decorate(entries: HistoryEntry[]): Promise<HistoryEntry[]> {
    return Promise.all(
      entries.map(async (e) => {
        if ((e.kind !== 'file' && e.kind !== 'voice') || e.file == null) return e
        const info = await this.protocol.get(e.id)
        return { ...e, file: { ...e.file, status: info?.status ?? 'failed' } }
      })
    )
  }
}

export function toFileInfo(t: TransferInfo): FileInfo {
  return {
    id: t.id,
    peer: t.peer,
    direction: t.direction,
    name: t.name,
    size: t.size,
    // A cancelled or failed transfer keeps nothing on the receiver (the partial file is deleted): both sides say 0.
    received: t.status === 'cancelled' || t.status === 'failed' ? 0 : t.received,
    status: t.status,
    sha256: t.sha256,
    ...(t.root != null ? { root: t.root } : {}),
    ...(t.voice === true ? { voice: true } : {}),
    path: t.path,
    mime: t.mime,
    sent: t.sent,
    ...(t.error != null ? { error: t.error } : {}),
    ...(t.waitReason != null && t.status === 'waiting' ? { waitReason: t.waitReason } : {}),
    // Accepted, but the peer is reachable only through a relay for now: the file waits for a direct path.
    ...(t.directWait != null ? { waitReason: t.directWait } : {})
  }
}
