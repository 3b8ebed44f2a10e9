import type { EscalationConfig } from '../config/escalation.ts';
import type { Severity } from '../config/schema.ts';
import { type LabelMatcher, matchesAll, parseMatcher } from '../domain/matchers.ts';

/** A tier or extra route as the escalation walks it: when it is due and what it pages. */
export interface PlannedTier {
  readonly name: string;
  /** 0 for the first tier (and the extra routes, paged with it). */
  readonly level: number;
  readonly topics: readonly string[];
  /**
   * Milliseconds after the tier before it was paged without an acknowledgement (0 for the first
   * tier and the extra routes, due when the escalation starts).
   */
  readonly delayMs: number;
  readonly reason: string;
  readonly route: boolean;
}

function minutes(value: number): string {
  if (value % 60 === 0) return `${value / 60} hour${value === 60 ? '' : 's'}`;
  return `${Number(value.toFixed(2))} minute${value === 1 ? '' : 's'}`;
}

/** Each route's matchers, parsed once per config (planTiers runs several times per escalation step). */
const parsedMatchers = new WeakMap<EscalationConfig['routes'][number], LabelMatcher[]>();
function compiled(route: EscalationConfig['routes'][number]): LabelMatcher[] {
  let matchers = parsedMatchers.get(route);
  if (!matchers) {
    matchers = route.matchers.map(parseMatcher);
    parsedMatchers.set(route, matchers);
  }
  return matchers;
}

/**
 * The tiers for a severity, each due its delay after the tier before it was paged (scaled for trying
 * it out locally), and the extra routes whose matchers the incident's labels satisfy, due at once.
 */
export function planTiers(
  escalation: EscalationConfig,
  severity: Severity,
  labels: Readonly<Record<string, string>>,
  delayScale = 1,
): PlannedTier[] {
  const policy = escalation.policy[severity];
  const planned: PlannedTier[] = [];
  policy.tiers.forEach((tier, level) => {
    const previous = policy.tiers[level - 1];
    planned.push({
      name: tier.name,
      level,
      topics: tier.topics,
      delayMs: Math.round((previous?.escalateAfterMinutes ?? 0) * 60_000 * delayScale),
      reason:
        level === 0
          ? `first tier for ${severity}`
          : `nobody acknowledged within ${minutes(previous?.escalateAfterMinutes ?? 0)} of paging ${previous?.name}`,
      route: false,
    });
  });
  for (const route of escalation.routes) {
    if (!matchesAll(compiled(route), labels)) continue;
    planned.push({
      name: route.name,
      level: 0,
      topics: route.topics,
      delayMs: 0,
      reason: `labels match the ${route.name} route (${route.matchers.join(', ')})`,
      route: true,
    });
  }
  return planned;
}
