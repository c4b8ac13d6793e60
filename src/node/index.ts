export { dataPaths, ensureDataDir, resolveDataDir } from './data-dir.ts'
export type { NodeEvents, NodeOptions } from './node.ts'
export { P2pNode } from './node.ts'
export { VERSION } from './version.ts'
