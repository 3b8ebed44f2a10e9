import type { ActionKind } from './actions.ts';

/** A routing rule as the config gives it (`routes[]`). */
export interface RouteRule {
  readonly name: string;
  readonly matchers: readonly string[];
  readonly actions: ReadonlyArray<{
    readonly kind: ActionKind;
    readonly params: Record<string, unknown>;
    readonly dryRun: boolean;
  }>;
  readonly on: ReadonlyArray<'firing' | 'resolved'>;
  readonly continue: boolean;
}

import type { Alert, WebhookPayload } from './alertmanager.ts';
import { type LabelMatcher, matchesAll, parseMatcher } from './matchers.ts';

export interface CompiledRoute {
  readonly rule: RouteRule;
  readonly matchers: readonly LabelMatcher[];
}

export interface PlannedAction {
  readonly rule: string;
  /** Position of the action within its rule, so two actions of one kind in a rule stay distinct. */
  readonly index: number;
  readonly kind: ActionKind;
  readonly params: Record<string, unknown>;
  readonly dryRun: boolean;
  readonly alerts: readonly Alert[];
}

export function compileRoutes(rules: readonly RouteRule[]): CompiledRoute[] {
  return rules.map((rule) => ({ rule, matchers: rule.matchers.map(parseMatcher) }));
}

/**
 * Walks the ordered rules for every alert in the delivery, as Alertmanager walks its routing tree:
 * the first matching rule takes the alert unless it says `continue`. A rule only acts on the delivery
 * statuses it lists (`firing` by default). Each rule's actions are planned once per delivery, with the
 * alerts that matched it.
 */
export function planActions(payload: WebhookPayload, routes: readonly CompiledRoute[]): PlannedAction[] {
  const matched = new Map<CompiledRoute, Alert[]>();
  for (const alert of payload.alerts) {
    const labels = { ...payload.commonLabels, ...alert.labels };
    for (const route of routes) {
      if (!matchesAll(route.matchers, labels)) continue;
      const list = matched.get(route) ?? [];
      list.push(alert);
      matched.set(route, list);
      if (!route.rule.continue) break;
    }
  }
  const planned: PlannedAction[] = [];
  for (const route of routes) {
    const alerts = matched.get(route);
    if (!alerts || !route.rule.on.includes(payload.status)) continue;
    route.rule.actions.forEach((action, index) => {
      planned.push({
        rule: route.rule.name,
        index,
        kind: action.kind,
        params: action.params,
        dryRun: action.dryRun,
        alerts,
      });
    });
  }
  return planned;
}
