import { format } from 'node:util';
import { vi } from 'vitest';

/**
 * Runs `responder <args>` in-process (the `main()` bin/responder.js calls), with `env` set for the
 * call (undefined removes a variable), and captures what it prints.
 */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}) {
  const { main } = await import('../../src/cli/main.ts');
  const saved = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  let stdout = '';
  let stderr = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => {
    stdout += `${format(...parts)}\n`;
  });
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => {
    stderr += `${format(...parts)}\n`;
  });
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    log.mockRestore();
    error.mockRestore();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}
