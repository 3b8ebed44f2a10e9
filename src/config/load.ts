import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, parseConfig, type ResponderConfig } from './schema.ts';

/** `RESPONDER_CONFIG` names another file; the default is `responder.config.ts` in the working directory. */
export function configPath(explicit?: string): string {
  return resolve(explicit ?? process.env.RESPONDER_CONFIG ?? 'responder.config.ts');
}

/** Loads and validates a config file (TypeScript, via tsx, or JSON/JS); throws a ConfigError naming each bad field. */
export async function loadConfigFile(path = configPath()): Promise<ResponderConfig> {
  if (!existsSync(path)) {
    throw new ConfigError(`no config file at ${path}: create responder.config.ts or set RESPONDER_CONFIG`, [
      path,
    ]);
  }
  const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  if (module.default === undefined) {
    throw new ConfigError(`${path} has no default export: end it with export default defineConfig({...})`, [
      path,
    ]);
  }
  return parseConfig(module.default, path);
}
