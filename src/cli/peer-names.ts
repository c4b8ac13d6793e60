import type { NodeApi } from '../api/types.ts'
import { shortId } from './output.ts'

/** Names the prompt shows for peers, as the node says them (GET /v1/resolve), kept until a peer's name changes. */
export class PeerNames {
  private readonly api: NodeApi
  private readonly names = new Map<string, string>()

  constructor(api: NodeApi) {
    this.api = api
  }

  /** The name to show (asked of the node the first time). */
  async of(peerId: string): Promise<string> {
    await this.load([peerId])
    return this.shown(peerId)
  }

  /** The name known now, else a short id. */
  shown(peerId: string): string {
    return this.names.get(peerId) ?? `${shortId(peerId)}`
  }

  set(peerId: string, name: string): void {
    this.names.set(peerId, name)
    if (this.names.size > 10_000) this.names.delete(this.names.keys().next().value ?? '')
  }

  /** Its name may have changed (renamed, a contact's local name): ask again next time. */
  forget(peerId: string): void {
    this.names.delete(peerId)
  }

  async load(peerIds: string[]): Promise<void> {
    for (const peerId of new Set(peerIds)) {
      if (this.names.has(peerId)) continue
      try {
        this.set(peerId, (await this.api.resolve(peerId)).name)
      } catch {
        // A peer id the node knows nothing of: its short id.
      }
    }
  }
}
