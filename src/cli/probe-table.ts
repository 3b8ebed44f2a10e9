import { printable } from '../local/terminal-text.ts';

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
  const width = Math.max(6, ...rows.map((r) => printable(r.target).length));
  const lines = [
    ['TARGET'.padEnd(width), 'KIND'.padEnd(8), 'RESULT', 'HEALTH   ', 'LATENCY'.padStart(9), 'DETAIL'].join(
      ' ',
    ),
  ];
  for (const r of rows) {
    lines.push(
      [
        printable(r.target).padEnd(width),
        printable(r.kind).padEnd(8),
        (r.ok ? 'ok' : 'FAIL').padEnd(6),
        (r.healthy ? 'healthy' : 'UNHEALTHY').padEnd(9),
        `${Math.round(Number(r.latencyMs))} ms`.padStart(9),
        printable(r.detail),
      ].join(' '),
    );
  }
  return lines.join('\n');
}
