interface ProbeRow {
  readonly target: string;
  readonly kind: string;
  readonly ok: boolean;
  readonly healthy: boolean;
  readonly latencyMs: number;
  readonly detail: string;
}

/** The table `responder probe` and `responder dev` print: one line per target. */
export function formatProbeTable(rows: readonly ProbeRow[]): string {
  if (rows.length === 0) return 'No probe targets configured (probes.targets in responder.config.ts).';
  const width = Math.max(6, ...rows.map((r) => r.target.length));
  const lines = [
    ['TARGET'.padEnd(width), 'KIND'.padEnd(8), 'RESULT', 'HEALTH   ', 'LATENCY'.padStart(9), 'DETAIL'].join(
      ' ',
    ),
  ];
  for (const r of rows) {
    lines.push(
      [
        r.target.padEnd(width),
        r.kind.padEnd(8),
        (r.ok ? 'ok' : 'FAIL').padEnd(6),
        (r.healthy ? 'healthy' : 'UNHEALTHY').padEnd(9),
        `${Math.round(r.latencyMs)} ms`.padStart(9),
        r.detail,
      ].join(' '),
    );
  }
  return lines.join('\n');
}
