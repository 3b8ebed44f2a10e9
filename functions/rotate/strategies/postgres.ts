import { createHash, createHmac, pbkdf2Sync, randomBytes, randomInt } from 'node:crypto';
import type pg from 'pg';
import { isNetworkError } from '../../../src/adapters/postgres-connection.ts';
import type { RotationConfig } from '../../../src/config/rotations.ts';
import { parseSecretJson, type StrategyFactory } from '../strategy.ts';

/** The driver, loaded with the first connection rather than at the rotate function's cold start. */
let driver: Promise<typeof pg> | undefined;
function loadPg(): Promise<typeof pg> {
  driver ??= import('pg').then((module) => module.default);
  return driver;
}

/** A quoted identifier, as `pg.escapeIdentifier` makes it. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A quoted literal, as `pg.escapeLiteral` makes it (E'' when it holds a backslash). */
function quoteLiteral(value: string): string {
  const quoted = value.replace(/'/g, "''");
  return value.includes('\\') ? ` E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

type SingleUserConfig = Extract<RotationConfig, { strategy: 'postgres-single-user' }>;
type AlternatingConfig = Extract<RotationConfig, { strategy: 'postgres-alternating-users' }>;

/** PostgreSQL's default (scram_iterations before 16, where it became a setting). */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

/**
 * The password as PostgreSQL stores it, so that the server, its log (`log_statement = 'all'`) and
 * pg_stat_statements only ever see this, never the password: RFC 5802 and RFC 7677 in PostgreSQL's
 * text form `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64), as libpq's
 * PQencryptPasswordConn makes it.
 *
 * SCRAM runs the password through SASLprep (RFC 4013) first. PostgreSQL (pg_saslprep) leaves a pure
 * ASCII password as it is, and the passwords generated here are ASCII letters and digits, so SASLprep
 * is the identity for them; a non-ASCII password is refused rather than normalized differently from
 * the server.
 */
export function scramSha256Verifier(
  password: string,
  options: { salt?: Buffer; iterations?: number } = {},
): string {
  if (!/^[\x20-\x7e]+$/.test(password)) {
    throw new Error('only printable ASCII passwords are supported (SASLprep is the identity for them)');
  }
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Letters and digits only: nothing to escape in a connection URL, a .pgpass line or psql quoting. */
const PASSWORD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const PASSWORD_LENGTH = 32; // about 190 bits

export function generatePassword(length = PASSWORD_LENGTH): string {
  return Array.from({ length }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join('');
}

/** The RDS secret format: {engine, host, port, username, password, dbname}; `ssl: true` asks for TLS. */
export interface PostgresSecret {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly dbname: string;
  readonly ssl: boolean;
  readonly json: Record<string, unknown>;
}

export function parsePostgresSecret(secretId: string, value: string): PostgresSecret {
  const json = parseSecretJson(secretId, value);
  const text = (field: string) => (typeof json[field] === 'string' ? (json[field] as string) : undefined);
  const host = text('host');
  const username = text('username');
  const password = text('password');
  const missing = [
    ['host', host],
    ['username', username],
    ['password', password],
  ]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0 || !host || !username || !password) {
    throw new Error(
      `secret ${secretId} needs ${missing.join(', ')}: store it in the RDS format {"engine","host","port","username","password","dbname"}`,
    );
  }
  const port = Number(json.port ?? 5432);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`secret ${secretId} has no usable port`);
  }
  return {
    host,
    port,
    username,
    password,
    dbname: text('dbname') ?? 'postgres',
    ssl: json.ssl === true,
    json,
  };
}

/** invalid_password, invalid_authorization_specification: the server answered and said no. */
function isAuthenticationError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code === '28P01' || code === '28000';
}

interface Connected {
  readonly client: pg.Client;
  end(): Promise<void>;
}

/**
 * Logs in with a secret's credentials (in `dbname`, or `database`), within the rotation's connect
 * timeout. Errors say whether the network or the credentials failed, and never carry the password.
 */
async function connect(
  secret: PostgresSecret,
  timeoutSeconds: number,
  options: { database?: string; label: string },
): Promise<Connected> {
  const { Client } = await loadPg();
  const client = new Client({
    host: secret.host,
    port: secret.port,
    user: secret.username,
    password: secret.password,
    database: options.database ?? secret.dbname,
    ssl: secret.ssl ? { rejectUnauthorized: true } : false,
    connectionTimeoutMillis: timeoutSeconds * 1000,
    query_timeout: Math.max(10, timeoutSeconds * 2) * 1000,
    application_name: 'responder-rotate',
  });
  client.on('error', () => undefined);
  const where = `${secret.host}:${secret.port}`;
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    const e = error as { code?: string; message?: string };
    const reason = `${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`;
    if (isNetworkError(error)) {
      throw new PostgresConnectError(
        'network',
        `cannot reach PostgreSQL at ${where} within ${timeoutSeconds}s (${reason}): check the function's subnets and security groups (the database's security group must accept the rotate function's on port ${secret.port}), and that the host resolves from its VPC`,
      );
    }
    if (isAuthenticationError(error)) {
      throw new PostgresConnectError(
        'authentication',
        `PostgreSQL at ${where} refused ${options.label} for user ${secret.username} (${reason}): the network is fine, the credentials are not`,
      );
    }
    throw new PostgresConnectError(
      'other',
      `PostgreSQL at ${where} refused ${options.label} for user ${secret.username} (${reason})`,
    );
  }
  return { client, end: () => client.end().catch(() => undefined) };
}

export class PostgresConnectError extends Error {
  constructor(
    readonly kind: 'network' | 'authentication' | 'other',
    message: string,
  ) {
    super(message);
    this.name = 'PostgresConnectError';
  }
}

async function withConnection<T>(
  secret: PostgresSecret,
  timeoutSeconds: number,
  options: { database?: string; label: string },
  run: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const connection = await connect(secret, timeoutSeconds, options);
  try {
    return await run(connection.client);
  } finally {
    await connection.end();
  }
}

async function logsIn(secret: PostgresSecret, timeoutSeconds: number): Promise<boolean> {
  try {
    await withConnection(secret, timeoutSeconds, { label: 'the value' }, (client) =>
      client.query('SELECT 1'),
    );
    return true;
  } catch {
    return false;
  }
}

/** ALTER ROLE with a verifier: the statement (and so the server log) holds no password. */
function alterPasswordSql(user: string, password: string): string {
  return `ALTER ROLE ${quoteIdent(user)} PASSWORD ${quoteLiteral(scramSha256Verifier(password))}`;
}

function withPassword(secret: PostgresSecret, changes: { username?: string; password: string }): string {
  return JSON.stringify({ ...secret.json, ...changes });
}

/**
 * The user's own password changes. setSecret logs in with AWSCURRENT (or, when an earlier attempt
 * already changed it, with the pending value) and sends `ALTER ROLE ... PASSWORD '<SCRAM verifier>'`.
 * Sessions opened before keep running; new logins need the new password from the moment setSecret
 * ran, so consumers read AWSCURRENT again when a login fails (the AWS SDK's secret caches refresh).
 */
export const postgresSingleUserStrategy: StrategyFactory<SingleUserConfig> = (config) => {
  const timeout = config.connectTimeoutSeconds;
  const parse = (value: string) => parsePostgresSecret(config.secret, value);
  return {
    async preflight(current) {
      await withConnection(parse(current), timeout, { label: 'the AWSCURRENT value' }, (client) =>
        client.query('SELECT 1'),
      );
    },
    async createValue(current) {
      return withPassword(parse(current), { password: generatePassword() });
    },
    async setValue(pendingValue, currentValue) {
      const pending = parse(pendingValue);
      const current = parse(currentValue);
      if (pending.username !== current.username) {
        throw new Error(
          `the pending value of ${config.secret} names user ${pending.username}, AWSCURRENT ${current.username}: a single-user rotation keeps the user`,
        );
      }
      let connection: Connected;
      try {
        connection = await connect(current, timeout, { label: 'the AWSCURRENT value' });
      } catch (error) {
        if (!(error instanceof PostgresConnectError) || error.kind !== 'authentication') throw error;
        // An earlier setSecret changed it already: the pending value logs in, nothing else to do.
        if (await logsIn(pending, timeout)) return;
        throw error;
      }
      try {
        // A user that acts as an owner role on login (ALTER ROLE ... SET role) may only change its own
        // password as itself.
        await connection.client.query('SET ROLE NONE');
        await connection.client.query(alterPasswordSql(pending.username, pending.password));
      } finally {
        await connection.end();
      }
    },
    async testValue(pendingValue) {
      await withConnection(parse(pendingValue), timeout, { label: 'the pending value' }, (client) =>
        client.query('SELECT 1'),
      );
    },
    async works(value) {
      return logsIn(parse(value), timeout);
    },
    async describe(currentValue) {
      const current = parse(currentValue);
      return [
        `createSecret: check that ${current.host}:${current.port} answers with AWSCURRENT (within ${timeout}s), then a new ${PASSWORD_LENGTH}-character password for ${current.username}, stored as AWSPENDING`,
        `setSecret: log in as ${current.username} and ALTER ROLE ${current.username} PASSWORD '<SCRAM-SHA-256 verifier>' (the password itself is never sent)`,
        `testSecret: log in as ${current.username} with the new password and SELECT 1`,
        'finishSecret: AWSCURRENT moves to the new version; sessions already open keep running',
      ];
    },
  };
};

/** The two login users of an alternating rotation: `users`, or the secret's user and `<user>_clone`. */
export function alternatingUsers(config: AlternatingConfig, currentUser: string): [string, string] {
  if (config.users) return config.users;
  const base = currentUser.endsWith('_clone') ? currentUser.slice(0, -'_clone'.length) : currentUser;
  return [base, `${base}_clone`];
}

const RESERVED = new Set([
  'all',
  'group',
  'public',
  'role',
  'select',
  'table',
  'user',
  'current_user',
  'session_user',
]);

/** An identifier as a person would type it in the fix: quoted only when it must be. */
function ident(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : quoteIdent(name);
}

export interface OwnershipProblem {
  readonly problems: string[];
  readonly fixes: string[];
}

const OWNED_OBJECTS_SQL = `
WITH objects AS (
  SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
           WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind,
         format('%I.%I', n.nspname, c.relname) AS name, c.relowner AS owner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
     -- a serial or identity column's sequence follows its table's owner
     AND NOT (c.relkind = 'S' AND EXISTS (
           SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
         format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), p.proowner
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  UNION ALL
  SELECT 'SCHEMA', format('%I', n.nspname), n.nspowner FROM pg_namespace n
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%I.%I', n.nspname, t.typname), t.typowner
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE t.typtype IN ('d', 'e', 'r', 'c')
     AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
)
SELECT o.kind, o.name, r.rolname AS owner
  FROM objects o JOIN pg_roles r ON r.oid = o.owner
 WHERE r.rolname = ANY($1)
 ORDER BY o.kind, o.name`;

/**
 * What must hold before two users can take turns without either losing anything: both exist and log
 * in, are members of `ownerRole` with the same memberships, act as it on login (`ALTER ROLE ... SET
 * role`), and own no object in this database themselves (an object owned by one user is out of the
 * other's reach). Read-only: the fixes are returned for the operator to run, nothing is changed.
 */
export async function checkAlternatingUsers(
  client: pg.Client,
  users: readonly [string, string],
  ownerRole: string,
): Promise<OwnershipProblem> {
  const problems: string[] = [];
  const fixes: string[] = [];
  const id = ident;
  const roles = await client.query<{ rolname: string; rolcanlogin: boolean; member_of: string[] }>(
    `SELECT r.rolname, r.rolcanlogin,
            ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                   WHERE m.member = r.oid ORDER BY g.rolname)::text[] AS member_of
       FROM pg_roles r WHERE r.rolname = ANY($1)`,
    [[...users, ownerRole]],
  );
  const byName = new Map(roles.rows.map((row) => [row.rolname, row]));
  if (!byName.has(ownerRole)) {
    problems.push(`the owner role ${ownerRole} does not exist`);
    fixes.push(`CREATE ROLE ${id(ownerRole)} NOLOGIN;`);
  }
  for (const user of users) {
    const role = byName.get(user);
    if (!role) {
      problems.push(`user ${user} does not exist`);
      fixes.push(
        `CREATE ROLE ${id(user)} LOGIN IN ROLE ${id(ownerRole)}; ALTER ROLE ${id(user)} SET role = ${id(ownerRole)};`,
      );
      continue;
    }
    if (!role.rolcanlogin) {
      problems.push(`user ${user} cannot log in`);
      fixes.push(`ALTER ROLE ${id(user)} LOGIN;`);
    }
    if (!role.member_of.includes(ownerRole)) {
      problems.push(`user ${user} is not a member of ${ownerRole}`);
      fixes.push(`GRANT ${id(ownerRole)} TO ${id(user)};`);
    }
  }
  const [a, b] = users.map((user) => byName.get(user));
  if (a && b && a.member_of.join(',') !== b.member_of.join(',')) {
    problems.push(
      `the users are members of different roles: ${users[0]} of [${a.member_of.join(', ')}], ${users[1]} of [${b.member_of.join(', ')}]`,
    );
    fixes.push('grant both users the same roles (better: grant the roles to the owner role only)');
  }
  // Whether each user acts as the owner role on login in this database (ALTER ROLE ... SET role).
  const settings = await client.query<{ rolname: string; setconfig: string[] }>(
    `SELECT r.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
      WHERE r.rolname = ANY($1)
        AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
      ORDER BY s.setdatabase`,
    [[...users]],
  );
  for (const user of users) {
    if (!byName.has(user)) continue;
    let role: string | undefined;
    for (const row of settings.rows.filter((r) => r.rolname === user)) {
      for (const setting of row.setconfig) {
        if (setting.startsWith('role=')) role = setting.slice('role='.length).replace(/^"|"$/g, '');
      }
    }
    if (role !== ownerRole) {
      problems.push(
        `user ${user} does not act as ${ownerRole} on login (its role setting is ${role ?? 'unset'})`,
      );
      fixes.push(`ALTER ROLE ${id(user)} SET role = ${id(ownerRole)};`);
    }
  }
  const owned = await client.query<{ kind: string; name: string; owner: string }>(OWNED_OBJECTS_SQL, [
    [...users],
  ]);
  if (owned.rows.length > 0) {
    const shown = owned.rows.slice(0, 20);
    problems.push(
      `owned by a login user instead of ${ownerRole}: ${shown.map((o) => `${o.kind.toLowerCase()} ${o.name} (${o.owner})`).join(', ')}${owned.rows.length > shown.length ? ` and ${owned.rows.length - shown.length} more` : ''}`,
    );
    for (const o of shown) fixes.push(`ALTER ${o.kind} ${o.name} OWNER TO ${id(ownerRole)};`);
    for (const user of new Set(owned.rows.map((o) => o.owner))) {
      fixes.push(`(or, in each database: REASSIGN OWNED BY ${id(user)} TO ${id(ownerRole)};)`);
    }
  }
  return { problems, fixes };
}

/**
 * Two login users take turns: each rotation sets a new password on the user AWSCURRENT does not
 * name, as the master user, so AWSCURRENT keeps logging in at every moment. Both users are members
 * of `ownerRole` and act as it on login, so whatever either creates is owned by the role and
 * reachable by both. Before anything changes (preflight, and again in setSecret), the setup is
 * checked; a failed check refuses with the objects and the SQL that fixes it, and changes nothing.
 * The strategy does not set the setup up itself: making a user act as the owner role drops the
 * privileges granted to the user directly, which the operator must decide.
 */
export const postgresAlternatingUsersStrategy: StrategyFactory<AlternatingConfig> = (config, context) => {
  const timeout = config.connectTimeoutSeconds;
  const parse = (value: string) => parsePostgresSecret(config.secret, value);
  const otherUser = (current: PostgresSecret): string => {
    const users = alternatingUsers(config, current.username);
    if (!users.includes(current.username)) {
      throw new Error(
        `AWSCURRENT of ${config.secret} names user ${current.username}, not one of the alternating users ${users.join(' and ')}`,
      );
    }
    return users[0] === current.username ? users[1] : users[0];
  };
  /** The master's credentials, on the rotated secret's host and database unless its own says otherwise. */
  const asMaster = async <T>(current: PostgresSecret, run: (client: pg.Client) => Promise<T>): Promise<T> => {
    const master = parsePostgresSecret(
      config.masterSecret,
      await context.secrets.getSecretString(config.masterSecret),
    );
    return withConnection(
      master,
      timeout,
      { database: current.dbname, label: `the master secret ${config.masterSecret}` },
      run,
    );
  };
  const refuseUnlessReady = async (client: pg.Client, current: PostgresSecret) => {
    const users = alternatingUsers(config, current.username);
    const { problems, fixes } = await checkAlternatingUsers(client, users, config.ownerRole);
    if (problems.length > 0) {
      throw new Error(
        `refusing to rotate ${config.secret}: ${problems.join('; ')}. Nothing was changed. Fix, as the master user in database ${current.dbname}: ${fixes.join(' ')}`,
      );
    }
  };
  return {
    async preflight(currentValue) {
      const current = parse(currentValue);
      await withConnection(current, timeout, { label: 'the AWSCURRENT value' }, (client) =>
        client.query('SELECT 1'),
      );
      await asMaster(current, (client) => refuseUnlessReady(client, current));
    },
    async createValue(currentValue) {
      const current = parse(currentValue);
      return withPassword(current, { username: otherUser(current), password: generatePassword() });
    },
    async setValue(pendingValue, currentValue) {
      const pending = parse(pendingValue);
      const current = parse(currentValue);
      if (pending.username !== otherUser(current)) {
        throw new Error(
          `the pending value of ${config.secret} names user ${pending.username}: expected ${otherUser(current)}, the user AWSCURRENT does not name`,
        );
      }
      await asMaster(current, async (client) => {
        await refuseUnlessReady(client, current);
        await client.query(alterPasswordSql(pending.username, pending.password));
      });
    },
    async testValue(pendingValue) {
      const pending = parse(pendingValue);
      const { rows } = await withConnection(pending, timeout, { label: 'the pending value' }, (client) =>
        client.query<{ current_role: string; session_user: string }>(
          'SELECT current_role::text AS current_role, session_user::text AS session_user',
        ),
      );
      const row = rows[0];
      if (row?.session_user !== pending.username || row.current_role !== config.ownerRole) {
        throw new Error(
          `user ${pending.username} logs in but acts as ${row?.current_role ?? 'nothing'}, not ${config.ownerRole}: ALTER ROLE ${ident(pending.username)} SET role = ${ident(config.ownerRole)}`,
        );
      }
    },
    async works(value) {
      return logsIn(parse(value), timeout);
    },
    async describe(currentValue) {
      const current = parse(currentValue);
      const other = otherUser(current);
      return [
        `createSecret: check that ${current.host}:${current.port} answers (within ${timeout}s) and that ${current.username} and ${other} are members of ${config.ownerRole}, act as it and own nothing themselves; then a new password for ${other}, stored as AWSPENDING`,
        `setSecret: as ${config.masterSecret}, check again and ALTER ROLE ${other} PASSWORD '<SCRAM-SHA-256 verifier>' (${current.username} is not touched)`,
        `testSecret: log in as ${other} with the new password; it must act as ${config.ownerRole}`,
        `finishSecret: AWSCURRENT moves to ${other}; ${current.username} keeps working until the next rotation`,
      ];
    },
  };
};
