export interface FloodWindow {
  readonly start: Date;
  readonly end: Date;
  readonly seconds: number;
}

/** The `floodLimits` window `now` falls in, aligned to the clock, so every container counts the same one. */
export function floodWindowOf(limits: { readonly windowMinutes: number }, now: Date): FloodWindow {
  const ms = limits.windowMinutes * 60_000;
  const start = Math.floor(now.getTime() / ms) * ms;
  return { start: new Date(start), end: new Date(start + ms), seconds: ms / 1000 };
}
