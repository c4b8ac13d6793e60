/** Word error rate: (substitutions + deletions + insertions) / reference words, on lower-case words. */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/<\/?s>|\([^)]*\)/g, ' ')
    .split(/[^\p{L}\p{N}']+/u)
    .filter((w) => w !== '')
}

/** Word-level edit distance between a reference and a hypothesis. */
export function wordErrors(reference: string[], hypothesis: string[]): number {
  let prev = Array.from({ length: hypothesis.length + 1 }, (_, j) => j)
  for (let i = 1; i <= reference.length; i++) {
    const row = [i]
    for (let j = 1; j <= hypothesis.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (reference[i - 1] === hypothesis[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[hypothesis.length]
}

export function wordErrorRate(reference: string, hypothesis: string): number {
  const ref = words(reference)
  return ref.length === 0 ? 0 : wordErrors(ref, words(hypothesis)) / ref.length
}
