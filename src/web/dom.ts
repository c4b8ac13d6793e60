// Small DOM helpers. Strings become text nodes: peer text and names are never parsed as markup.

type Child = Node | string | null | undefined | false

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue
    node.setAttribute(k, v === true ? '' : v)
  }
  for (const c of children) if (c != null && c !== false) node.append(typeof c === 'string' ? document.createTextNode(c) : c)
  return node
}

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id)
  if (node == null) throw new Error(`#${id} missing`)
  return node as T
}

export function shortId(peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

export function formatTime(ms: number): string {
  const d = new Date(ms)
  const today = new Date()
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  return d.toDateString() === today.toDateString() ? time : `${d.toLocaleDateString()} ${time}`
}
