import type { Log } from '../ports.ts';
import { printable, printableJson } from './terminal-text.ts';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

/** Human-readable log lines for the local runtime; `RESPONDER_LOG_LEVEL` picks the threshold. */
export function consoleLog(level: Level = (process.env.RESPONDER_LOG_LEVEL as Level) ?? 'info'): Log {
  const threshold = LEVELS[level] ?? LEVELS.info;
  const write = (at: Level) => (message: string, extra?: Record<string, unknown>) => {
    if (LEVELS[at] < threshold) return;
    const time = new Date().toISOString().slice(11, 23);
    const detail = extra && Object.keys(extra).length > 0 ? ` ${printableJson(extra)}` : '';
    // Messages carry alert text (page subjects, titles): it must not drive the operator's terminal.
    const line = `${time} ${at.padEnd(5)} ${printable(message)}${detail}`;
    if (at === 'error' || at === 'warn') console.error(line);
    else console.log(line);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
