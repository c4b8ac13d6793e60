/** Nodes for the mailbox tests (test/integration/mailbox*.test.ts), and a grep of a data dir for plaintext. */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { NodeOptions } from '../../src/node/node.ts'

/** Short timings: a message waits 200 ms for its peer before going to the mailbox; collect every 500 ms. */
export function options(dir: string, name: string, extra: Partial<NodeOptions> = {}): NodeOptions {
  return {
    dataDir: dir,
    name,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    reconnectInterval: 60_000,
    ...extra,
    mailbox: { depositDelay: 200, interval: 500, ...extra.mailbox }
  }
}

/** Every byte of every file under `dir`, as one buffer per file. */
async function filesUnder(dir: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const out: Array<{ path: string; bytes: Buffer }> = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    out.push({ path, bytes: await readFile(path) })
  }
  return out
}

export async function filesContaining(dir: string, text: string): Promise<string[]> {
  return (await filesUnder(dir)).filter((f) => f.bytes.includes(Buffer.from(text))).map((f) => f.path)
}
