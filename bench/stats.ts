/** What every bench table shares: a row beside its same-run baseline and target, and percentiles. */
export interface Row {
  metric: string
  value: string
  baseline: string
  target: string
}

/** The p-th percentile of an ascending array (nearest rank). */
export function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
