import { ErrorCode, P2pError } from '../errors.ts'
import type { WebControlApi, WebLink } from './types.ts'

/** What the web server offers `p2pnode web` (api/web-server.ts). */
export interface WebLinks {
  link(): WebLink
  rotate(): Promise<WebLink>
}

/**
 * The `web` part of the API (`GET /v1/web`, `POST /v1/web/rotate`, on the unix socket only): the login link of the
 * web server attached to the node, or WEB_OFF while there is none (`--no-web`, or not started yet).
 */
export class WebControl implements WebControlApi {
  private server: WebLinks | undefined

  /** The web server that now serves the app (undefined: none). */
  attach(server: WebLinks | undefined): void {
    this.server = server
  }

  async link(): Promise<WebLink> {
    return this.serving().link()
  }

  async rotate(): Promise<WebLink> {
    return this.serving().rotate()
  }

  private serving(): WebLinks {
    if (this.server != null) return this.server
    throw new P2pError(ErrorCode.WEB_OFF, 'the web app is off on this node (it was started with --no-web)', {
      hint: 'stop it (p2pnode stop) and start it again without --no-web'
    })
  }
}
