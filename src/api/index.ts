export { ApiClient } from './client.ts'
export { startApiServer } from './server.ts'
export type * from './types.ts'
