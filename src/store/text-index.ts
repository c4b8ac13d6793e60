/**
 * Words for the search index: case- and accent-insensitive. "Élan, ÉLAN and elan" are all `elan`.
 * Pure functions: the store writes the index in the same batch as each message.
 */

/** Longest token kept (longer words are cut): bounds key sizes. */
export const MAX_TOKEN_LENGTH = 40
/** Most distinct tokens indexed per message: a 64 KiB text cannot explode into millions of keys. */
export const MAX_TOKENS_PER_MESSAGE = 2000

const WORD = /[\p{L}\p{N}]+/gu
const MARKS = /\p{M}+/gu

/** Lower-case, decompose and drop diacritics: `Ça` → `ca`. */
export function normalize(text: string): string {
  return text.normalize('NFKD').replace(MARKS, '').toLowerCase()
}

/** Distinct normalized words of a text, in order of first appearance. */
export function tokenize(text: string): string[] {
  const out = new Set<string>()
  for (const m of normalize(text).matchAll(WORD)) {
    out.add(m[0].slice(0, MAX_TOKEN_LENGTH))
    if (out.size >= MAX_TOKENS_PER_MESSAGE) break
  }
  return [...out]
}

/** True when every query term is a prefix of some word of the text. */
export function matchesAll(textTokens: string[], terms: string[]): boolean {
  return terms.every((t) => textTokens.some((w) => w.startsWith(t)))
}
