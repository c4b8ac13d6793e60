import { ErrorCode, P2pError } from '../errors.ts'

/**
 * The file-transfer part of the local API (`/v1/files`). Field names are a contract: `p2pnode files --json`
 * prints these objects.
 */

export type FileStatus = 'offered' | 'waiting' | 'transferring' | 'complete' | 'failed' | 'cancelled'

export interface FileInfo {
  /** Transfer id, 32 hex characters (also the id of its entry in the conversation). */
  id: string
  peer: string
  direction: 'in' | 'out'
  name: string
  size: number
  /** Bytes the receiver has, verified. */
  received: number
  status: FileStatus
  /** SHA-256 of the whole file, hex: transfers with peers of offer version 1 or 2; '' for version 3. */
  sha256: string
  /** Offer version 3: the root of the file's BLAKE3 hash tree (hex), the file's identity. */
  root?: string
  /** A voice note (`send-voice`): its transcript is `p2pnode transcript <id>`. */
  voice?: boolean
  /** out: the file sent; in: where the verified file is ('' until complete). */
  path: string
  mime: string
  /** Chunk bytes this node has written to the peer for this transfer since it started (resends included). */
  sent: number
  /** Why it failed. */
  error?: string
  /**
   * Why it waits for the receiver's accept, as the receiver says (0.1 receivers say nothing): "it is over their
   * auto-accept limit", "they take files without asking only from their contacts and people they wrote to", ...
   */
  waitReason?: string
}

export interface FilesApi {
  /** Offer a file (an absolute path on the node's machine) to a peer: hashed, recorded, sent when it is here. */
  sendFile(peer: string, path: string): Promise<FileInfo>
  files(): Promise<FileInfo[]>
  /** `id`: a transfer id or a unique prefix of 8+ characters (also for accept and cancel). */
  file(id: string): Promise<FileInfo>
  accept(id: string): Promise<FileInfo>
  cancel(id: string): Promise<FileInfo>
}

/** Status per file-transfer error code (the rest of the table is in server.ts). */
export const FILE_STATUS_CODES: Record<string, number> = {
  [ErrorCode.TRANSFER_NOT_FOUND]: 404,
  [ErrorCode.FILE_NOT_READABLE]: 400,
  [ErrorCode.TRANSFER_FAILED]: 409
}

export function transferNotFound(id: string): P2pError {
  return new P2pError(ErrorCode.TRANSFER_NOT_FOUND, `no transfer ${id}`, { hint: 'p2pnode files lists them' })
}
