import { parseConfig, type ResponderConfig } from './schema.ts';

// Replaced at bundle time by esbuild's `define` with the config the stack was synthesized from, so a
// function never depends on a 4 KB environment or a network call to learn its routes.
declare const __RESPONDER_CONFIG__: string | undefined;

/** The config baked into this Lambda bundle, validated at cold start (a bad one fails init loudly). */
export function bundledConfig(): ResponderConfig {
  const raw =
    typeof __RESPONDER_CONFIG__ === 'string' ? __RESPONDER_CONFIG__ : process.env.RESPONDER_CONFIG_JSON;
  if (!raw) {
    throw new Error(
      'no bundled config: build this function with the CDK app (lib/bundling.ts) or set RESPONDER_CONFIG_JSON',
    );
  }
  return parseConfig(JSON.parse(raw), 'the config bundled into this function');
}

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set; the CDK stack sets it, so redeploy`);
  return value;
}
