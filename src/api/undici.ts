/**
 * undici's HTTP client, loaded when the first client is made. Every CLI module imports the API client, the `start`
 * daemon included, which serves the API and never calls it: undici is 110 modules and 1.1 MB of source, ~6 MB of
 * an idle node's heap. (It is CommonJS, so a synchronous require keeps the client's constructor synchronous.)
 */
import { createRequire } from 'node:module'
import type * as Undici from 'undici'

export type Client = Undici.Client

export function undiciClient(): typeof Undici.Client {
  return (createRequire(import.meta.url)('undici') as typeof Undici).Client
}
