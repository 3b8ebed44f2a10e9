/** Incident severities, P1 the most urgent. */
export const SEVERITIES = ['P1', 'P2', 'P3', 'P4'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** How labels map to a severity (the config's `severity` section). */
export interface SeverityRules {
  /** Labels read, in order. */
  readonly labels: readonly string[];
  /** Label value (lower case) → severity. */
  readonly map: Readonly<Record<string, Severity>>;
  readonly default: Severity;
}

import { labelOf, lookup } from './text.ts';

/** P1 is the most severe; a lower rank is more urgent. */
export const severityRank = (severity: Severity): number => SEVERITIES.indexOf(severity);

export function mostSevere(severities: readonly Severity[], fallback: Severity): Severity {
  let best: Severity | undefined;
  for (const severity of severities) {
    if (best === undefined || severityRank(severity) < severityRank(best)) best = severity;
  }
  return best ?? fallback;
}

/** Maps an alert's labels to P1..P4: the first configured label whose value is in the map wins. */
export function severityOfLabels(labels: Readonly<Record<string, string>>, rules: SeverityRules): Severity {
  for (const name of rules.labels) {
    const value = labelOf(labels, name);
    if (value === undefined) continue;
    // Own keys only: a value such as `constructor` or `__proto__` must not find Object.prototype's.
    const mapped = lookup(rules.map, value.toLowerCase()) ?? lookup(rules.map, value);
    if (mapped) return mapped;
  }
  return rules.default;
}
