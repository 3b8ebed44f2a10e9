/**
 * Label matchers in Alertmanager's own syntax: `name="value"`, `name!="value"`, `name=~"regex"`,
 * `name!~"regex"`. As in Alertmanager, regexes are anchored at both ends and a missing label matches
 * as the empty string.
 */
import { labelOf } from './text.ts';

export type MatchOperator = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOperator;
  readonly value: string;
  readonly regex?: RegExp;
}

const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))\s*$/;

export function parseMatcher(text: string): LabelMatcher {
  const found = MATCHER.exec(text);
  if (!found) {
    throw new Error(
      `invalid matcher '${text}': write it as label="value", label!="value", label=~"regex" or label!~"regex"`,
    );
  }
  const [, name = '', op = '=', quoted, bare] = found;
  const value = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '');
  const operator = op as MatchOperator;
  if (operator === '=~' || operator === '!~') {
    try {
      return { name, op: operator, value, regex: new RegExp(`^(?:${value})$`) };
    } catch (error) {
      throw new Error(`invalid matcher '${text}': the regex does not compile (${(error as Error).message})`);
    }
  }
  return { name, op: operator, value };
}

export function matches(matcher: LabelMatcher, labels: Readonly<Record<string, string>>): boolean {
  const actual = labelOf(labels, matcher.name) ?? '';
  switch (matcher.op) {
    case '=':
      return actual === matcher.value;
    case '!=':
      return actual !== matcher.value;
    case '=~':
      return matcher.regex?.test(actual) ?? false;
    case '!~':
      return !(matcher.regex?.test(actual) ?? false);
  }
}

export function matchesAll(
  matchers: readonly LabelMatcher[],
  labels: Readonly<Record<string, string>>,
): boolean {
  return matchers.every((matcher) => matches(matcher, labels));
}
