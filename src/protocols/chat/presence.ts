import type { Connection } from '@libp2p/interface'

/** What Presence needs: the peer's connections now (their ids and status). */
export type ConnectionsOf = (peer: string) => Array<Pick<Connection, 'id' | 'status'>>

/**
 * Who is here: a peer is present while it has an open connection on which it greeted us (in either stream
 * direction). The greeting is recorded per connection, not per chat stream: chat streams close when idle
 * (10 minutes) while the connection, and the peer, stay. `onChange` is called exactly when presence changes.
 */
export class Presence {
  /** Greeted connections by peer: present iff the set is non-empty. */
  private readonly here = new Map<string, Set<string>>()
  private readonly connectionsOf: ConnectionsOf
  private readonly onChange: (peer: string, here: boolean) => void

  constructor(connectionsOf: ConnectionsOf, onChange: (peer: string, here: boolean) => void) {
    this.connectionsOf = connectionsOf
    this.onChange = onChange
  }

  isHere(peer: string): boolean {
    return this.here.has(peer)
  }

  /** The peer greeted us on `connection`. */
  greeted(peer: string, connection: Pick<Connection, 'id' | 'status'>): void {
    // A greeting that raced with the connection's close proves nothing about now.
    if (connection.status !== 'open') return
    const conns = this.here.get(peer)
    if (conns != null) {
      conns.add(connection.id)
      return
    }
    this.here.set(peer, new Set([connection.id]))
    this.onChange(peer, true)
  }

  /** One of the peer's connections closed. */
  closed(peer: string, connection: Pick<Connection, 'id'>): void {
    const conns = this.here.get(peer)
    if (conns == null || !conns.delete(connection.id) || conns.size > 0) return
    // Its other open connections (a reconnect race leaves two) belong to the same authenticated peer, which has
    // greeted us and is still connected: it stays present on them.
    const open = this.connectionsOf(peer).filter((c) => c.status === 'open' && c.id !== connection.id)
    if (open.length > 0) {
      for (const c of open) conns.add(c.id)
      return
    }
    this.here.delete(peer)
    this.onChange(peer, false)
  }

  /** Forget everything (node stopping): no events. */
  clear(): void {
    this.here.clear()
  }
}
