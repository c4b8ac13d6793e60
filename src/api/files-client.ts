import { ApiClient } from './client.ts'
import type { FileInfo, FilesApi } from './files.ts'

/** NodeApi and FilesApi over the node's unix socket. */
export class FilesClient extends ApiClient implements FilesApi {
  sendFile(peer: string, path: string): Promise<FileInfo> {
    // Hashing a large file takes as long as reading it: no time limit on the answer.
    return this.call('POST', '/v1/files', { peer, path }, { unbounded: true })
  }

  files(): Promise<FileInfo[]> {
    return this.call('GET', '/v1/files')
  }

  file(id: string): Promise<FileInfo> {
    return this.call('GET', `/v1/files/${encodeURIComponent(id)}`)
  }

  accept(id: string): Promise<FileInfo> {
    return this.call('POST', `/v1/files/${encodeURIComponent(id)}/accept`, {})
  }

  cancel(id: string): Promise<FileInfo> {
    return this.call('POST', `/v1/files/${encodeURIComponent(id)}/cancel`, {})
  }
}
