import { homedir } from 'node:os'
import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Split a command's argument text into words as a shell would: spaces separate words; '...' and "..." quote (a
 * backslash escapes `"` and `\` inside double quotes); a backslash outside quotes escapes the next character
 * (`My\ Photos`). Unbalanced quotes end at the end of the text.
 */
export function words(text: string): string[] {
  const out: string[] = []
  let word: string | undefined
  let quote: "'" | '"' | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote === "'") {
      if (c === "'") quote = undefined
      else word += c
    } else if (quote === '"') {
      if (c === '"') quote = undefined
      else if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i]
      else word += c
    } else if (/\s/.test(c)) {
      if (word != null) out.push(word)
      word = undefined
    } else {
      word ??= ''
      if (c === "'" || c === '"') quote = c
      else if (c === '\\' && i + 1 < text.length) word += text[++i]
      else word += c
    }
  }
  if (word != null) out.push(word)
  return out
}

/**
 * The file a user means by what they typed after `/send`: quotes and backslash escapes as a terminal's
 * drag-and-drop types them, `~` for the home directory (quoted or not: this is no shell), a `file://` URL, and a
 * relative path taken from `cwd` (the directory the prompt was started in). Unquoted text with spaces that is not
 * one word is taken as one path, as typed.
 */
export function pathArgument(text: string, cwd: string): string {
  const parts = words(text)
  const typed = parts.length === 1 ? parts[0] : text.trim()
  let path = typed
  if (/^file:\/\//i.test(path)) path = fileURLToPath(path)
  else if (path === '~') path = homedir()
  else if (path.startsWith('~/')) path = homedir() + path.slice(1)
  return isAbsolute(path) ? path : resolve(cwd, path)
}
