/**
 * Characters that a terminal acts on instead of showing: C0 and C1 controls (ESC starts colour,
 * cursor, title and OSC 8 hyperlink sequences; 0x9b is an 8-bit CSI), DEL, line and paragraph
 * separators, and the bidirectional marks, embeddings, overrides and isolates that can make text
 * read differently from what it is (Trojan Source).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** What JSON.stringify leaves raw; C0 controls it escapes itself, and its indentation needs newlines. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function visibleEscape(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Text from the server (alert titles, labels, probe details, names) as one inert line for a terminal:
 * every control or bidi character becomes its visible escape, e.g. ESC prints as `\x1b`.
 */
export function printable(text: unknown): string {
  return String(text ?? '').replace(UNSAFE, visibleEscape);
}

/**
 * JSON for a terminal. JSON.stringify escapes C0 controls but leaves C1 controls and bidi characters
 * raw; outside strings JSON is plain ASCII, so escaping them as \uXXXX keeps the same JSON value.
 */
export function printableJson(value: unknown, indent?: number): string {
  return (JSON.stringify(value, null, indent) ?? 'null').replace(
    UNSAFE_IN_JSON,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
