import { type FileInfo, type FilesApi, transferNotFound } from '../api/files.ts'
import type { HistoryEntry } from '../api/types.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import type { FileTransferProtocol, TransferInfo } from '../protocols/file/index.ts'
import { checkPath } from './people.ts'

/** The node's FilesApi: checks arguments and turns protocol results and failures into API shapes and codes. */
export class NodeFiles implements FilesApi {
  private readonly protocol: FileTransferProtocol
  private readonly resolvePeer: (ref: string) => Promise<string>

  constructor(files: FileTransferProtocol, resolvePeer: (ref: string) => Promise<string>) {
    this.protocol = files
    this.resolvePeer = resolvePeer
  }

  async sendFile(ref: string, path: string): Promise<FileInfo> {
    checkPath(path, 'the path')
    const peer = await this.resolvePeer(ref)
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

  async file(id: string): Promise<FileInfo> {
    const info = await this.protocol.get(id)
    if (info == null) throw transferNotFound(id)
    return toFileInfo(info)
  }

  /** Accepting a transfer that is already being received is fine (nothing changes); anything else is an error. */
  async accept(id: string): Promise<FileInfo> {
    const info = await this.protocol.accept(id)
    if (info == null) throw transferNotFound(id)
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

  async cancel(id: string): Promise<FileInfo> {
    const info = await this.protocol.cancel(id)
    if (info == null) throw transferNotFound(id)
    if (info.status !== 'cancelled') {
      throw new P2pError(ErrorCode.TRANSFER_FAILED, `transfer ${id} is already ${info.status}: nothing to cancel`, {
        hint: 'p2pnode files shows every transfer and its status'
      })
    }
    return toFileInfo(info)
  }

  /** Fill in the live transfer status of file entries in a conversation. */
  async decorate(entries: HistoryEntry[]): Promise<HistoryEntry[]> {
    return Promise.all(
      entries.map(async (e) => {
        if (e.kind !== 'file' || e.file == null) return e
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
    received: t.received,
    status: t.status,
    sha256: t.sha256,
    path: t.path,
    mime: t.mime,
    sent: t.sent,
    ...(t.error != null ? { error: t.error } : {})
  }
}
