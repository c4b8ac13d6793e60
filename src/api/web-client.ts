import { ApiClient } from './client.ts'
import type { RouteSpec } from './routes.ts'
import type { WebLink } from './web-server.ts'

/**
 * The two socket-only routes of `p2pnode web` (web-server.ts registerWebControlRoutes). They are not in ROUTES:
 * they belong to the web server, not to the node's API, and are not served over HTTP.
 */
const WEB_LINK = { method: 'GET', path: '/v1/web', args: [] } as const
const WEB_ROTATE = { method: 'POST', path: '/v1/web/rotate', args: [] } as const

/** The web app's link (with its login token) from the node, over the unix socket. */
export class WebClient extends ApiClient {
  webLink(): Promise<WebLink> {
    return this.callRoute(WEB_LINK as unknown as RouteSpec, []) as Promise<WebLink>
  }

  rotateWebToken(): Promise<WebLink> {
    return this.callRoute(WEB_ROTATE as unknown as RouteSpec, []) as Promise<WebLink>
  }
}
