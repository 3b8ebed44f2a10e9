/** Renders a zod issue path the way an operator writes it: `alerts[0].labels.severity`. */
export function describeIssuePath(path: readonly PropertyKey[], root = '(root)'): string {
  let out = '';
  for (const part of path)
    out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out || root;
}
