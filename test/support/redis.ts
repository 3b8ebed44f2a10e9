import { createConnection } from 'node:net';
import { findBinary, freePort, spawnLogged, stopProcess, waitFor } from './processes.ts';

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  stop(): Promise<void>;
}

/** Sends one inline command and returns the first reply line. */
export function redisCommand(port: number, command: string, password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let buffer = '';
    const expected = password ? 2 : 1;
    socket.setTimeout(2000, () => socket.destroy(new Error('redis did not answer')));
    socket.on('connect', () => socket.write(`${password ? `AUTH ${password}\r\n` : ''}${command}\r\n`));
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      const lines = buffer.split('\r\n').filter(Boolean);
      if (lines.length >= expected) {
        socket.end();
        resolve(lines[expected - 1] ?? '');
      }
    });
    socket.on('error', reject);
  });
}

/** redis-server on a free loopback port, no persistence; stopped by its process id. */
export async function startRedis(options: { password?: string } = {}): Promise<RedisServer> {
  const binary = findBinary('redis-server', 'redis-server');
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.password) args.push('--requirepass', options.password);
  const { child, output } = spawnLogged(binary, args);
  try {
    await waitFor(
      'redis-server',
      async () => (await redisCommand(port, 'PING', options.password)) === '+PONG',
    );
  } catch (error) {
    await stopProcess(child);
    throw new Error(`${(error as Error).message}\n${output()}`);
  }
  return { host: '127.0.0.1', port, password: options.password, stop: () => stopProcess(child) };
}
