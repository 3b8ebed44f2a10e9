import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from './support/postgres.ts';
import { type RedisServer, redisCommand, startRedis } from './support/redis.ts';

// The servers later capabilities probe and back up: the harness must start and stop them for real.
describe('Test harness: PostgreSQL', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => server?.destroy());

  it('starts a throwaway cluster on a loopback port that answers queries with the password', async () => {
    const client = new pg.Client({ connectionString: server.connectionString });
    await client.connect();
    const { rows } = await client.query<{ one: number; listen: string }>(
      "SELECT 1 AS one, current_setting('listen_addresses') AS listen",
    );
    await client.end();
    expect(rows[0]).toEqual({ one: 1, listen: '127.0.0.1' });
  });

  it('refuses a wrong password', async () => {
    const client = new pg.Client({ ...connection(server), password: 'wrong' });
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('can be stopped and started again with its data', async () => {
    const client = new pg.Client({ connectionString: server.connectionString });
    await client.connect();
    await client.query('CREATE TABLE IF NOT EXISTS kept (id int)');
    await client.end();
    server.stop();
    await expect(
      new pg.Client({ ...connection(server), connectionTimeoutMillis: 2000 }).connect(),
    ).rejects.toThrow();
    server.start();
    const again = new pg.Client({ connectionString: server.connectionString });
    await again.connect();
    const { rows } = await again.query("SELECT to_regclass('kept')::text AS kept");
    await again.end();
    expect(rows[0]).toEqual({ kept: 'kept' });
  });
});

describe('Test harness: Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis({ password: 'redis-test-password' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers PING after AUTH and refuses without it', async () => {
    expect(await redisCommand(server.port, 'PING', 'redis-test-password')).toBe('+PONG');
    expect(await redisCommand(server.port, 'PING')).toMatch(/^-NOAUTH/);
  });

  it('is gone once stopped', async () => {
    const other = await startRedis();
    await other.stop();
    await expect(redisCommand(other.port, 'PING')).rejects.toThrow(/ECONNREFUSED/);
  });
});

function connection(server: PostgresServer) {
  return { host: server.host, port: server.port, user: server.user, database: server.database };
}
