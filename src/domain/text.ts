/**
 * Alert content is hostile input: label values named like Object.prototype members, control and
 * bidi characters that forge lines or reorder text, and megabytes of whitespace. These helpers make
 * such text safe to look up, store and show, in linear time.
 */

/** A label's value, own properties only: `constructor` or `__proto__` never reach a built-in. */
export function labelOf(labels: Readonly<Record<string, string>>, name: string): string | undefined {
  return Object.hasOwn(labels, name) ? labels[name] : undefined;
}

/** A value from a lookup table keyed by untrusted text (severity maps...), own properties only. */
export function lookup<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

// C0 and C1 controls (line breaks and tabs included), DEL, and the Unicode bidi and line/paragraph
// separators that can reorder or split what a reader sees.
// (\p{Cc} is every C0 and C1 control; spelled as a class so no control character sits in the source.)
const UNSAFE = /[\p{Cc}\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** One line of text: every control, separator and bidi character a space, runs of spaces one. */
export function oneLine(text: string): string {
  // Linear: a pattern like /\s+:/ backtracks quadratically over a long run of spaces, this does not.
  return text.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim();
}

/** Text cut to `max` characters with an ellipsis. */
export function cutText(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text;
}

/**
 * A URL Responder may show or link to: http(s) only, at most `max` characters. Anything else
 * (javascript:, data:, relative, garbage) becomes the empty string rather than a link in a page.
 */
export function safeHttpUrl(text: string, max = 2_048): string {
  if (!text || text.length > max) return '';
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? text : '';
  } catch {
    return '';
  }
}

/**
 * A person's name as typed into an acknowledgement: letters, digits and a few separators, one line,
 * at most 80 characters. It goes to every tier paged, so nothing in it may look like a link or a line.
 */
export function personName(text: string): string {
  // Format characters (bidi overrides, zero-width joiners) go first, so they cannot split a word.
  return oneLine(text.replace(/\p{Cf}/gu, ''))
    .replace(/[^\p{L}\p{M}\p{N} ._@'-]/gu, '')
    .trim()
    .slice(0, 80)
    .trim();
}
