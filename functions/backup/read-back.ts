import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { TableRows } from '../../src/domain/backups.ts';
import { redact, TailBuffer } from './postgres-tools.ts';

export interface StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
}

export interface ToolRun {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly name: string;
}

export interface ReadBackResult {
  readonly bytes: number;
  readonly sha256: string;
  /** The tool's stdout (pg_restore --list's table of contents). */
  readonly stdout: string;
  readonly exitCode: number | null;
  readonly stderrTail: string;
}

async function objectStream(s3: S3Client, object: StoredObject): Promise<Readable> {
  const got = await s3.send(
    new GetObjectCommand({ Bucket: object.bucket, Key: object.key, VersionId: object.versionId }),
  );
  if (!got.Body) throw new Error(`s3://${object.bucket}/${object.key} has no body`);
  return got.Body as Readable;
}

/**
 * Streams the object from S3 through SHA-256 into a tool's stdin (pg_restore, tar), in one read. The
 * hash covers every byte even when the tool stops reading early (pg_restore --list needs only the
 * table of contents), so the checksum check always reads the whole object.
 */
export async function pipeObjectInto(
  s3: S3Client,
  object: StoredObject,
  tool: ToolRun,
  options: { secrets?: readonly string[]; timeoutMs: number },
): Promise<ReadBackResult> {
  const body = await objectStream(s3, object);
  const child = spawn(tool.command, [...tool.args], {
    env: tool.env ?? { PATH: process.env.PATH, LANG: 'C.UTF-8' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const tail = new TailBuffer();
  const stdout: Buffer[] = [];
  let stdoutBytes = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    // A table of contents of a huge schema is kept to 16 MiB: enough to list every table.
    if (stdoutBytes < 16 * 1024 * 1024) stdout.push(chunk);
    stdoutBytes += chunk.length;
  });
  child.stderr.on('data', (chunk: Buffer) => tail.push(chunk));
  let exited = false;
  const exit = new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      tail.push(`${tool.name} could not be started: ${error.message}`);
      exited = true;
      resolve(null);
    });
    child.once('close', (code) => {
      exited = true;
      resolve(code);
    });
  });
  // Stopped reading: further writes fail with EPIPE, which is expected and harmless here.
  child.stdin.on('error', () => undefined);
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
    body.destroy(new Error(`${tool.name} did not finish within ${Math.round(options.timeoutMs / 1000)} s`));
  }, options.timeoutMs);
  timer.unref();

  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      if (!exited && child.stdin.writable && !child.stdin.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            child.stdin.off('drain', done);
            child.off('close', done);
            resolve();
          };
          child.stdin.once('drain', done);
          child.once('close', done);
        });
      }
    }
    child.stdin.end();
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const exitCode = await exit;
  return {
    bytes,
    sha256: hash.digest('hex'),
    stdout: Buffer.concat(stdout).toString('utf8'),
    exitCode,
    stderrTail: redact(tail.toString(), options.secrets ?? []),
  };
}

/** Runs a tool to completion; its stdout and stderr tail. */
export function runTool(
  tool: ToolRun,
  options: { secrets?: readonly string[]; timeoutMs: number },
): Promise<{ exitCode: number | null; stdout: string; stderrTail: string }> {
  return new Promise((resolve) => {
    const child = spawn(tool.command, [...tool.args], {
      env: tool.env ?? { PATH: process.env.PATH, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail = new TailBuffer();
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => tail.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    timer.unref();
    const finish = (exitCode: number | null) => {
      clearTimeout(timer);
      resolve({
        exitCode,
        stdout: Buffer.concat(out).toString('utf8'),
        stderrTail: redact(tail.toString(), options.secrets ?? []),
      });
    };
    child.once('error', (error) => {
      tail.push(`${tool.name} could not be started: ${error.message}`);
      finish(null);
    });
    child.once('close', finish);
  });
}

/** A scratch folder for the directory format, removed by `dispose`. */
export function scratchFolder(prefix: string): { path: string; dispose(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * The tables a pg_restore --list table of contents names, and those whose rows it carries
 * (`TABLE DATA`): entries are `<id>; <oid> <oid> TABLE [DATA] <schema> <name> <owner>`.
 */
export function tablesInListing(listing: string): { tables: Set<string>; withData: Set<string> } {
  const tables = new Set<string>();
  const withData = new Set<string>();
  for (const line of listing.split('\n')) {
    const match = /^\d+; \d+ \d+ (TABLE DATA|TABLE) (\S+) (.+) \S+$/.exec(line.trim());
    if (!match) continue;
    const name = `${match[2]}.${match[3]}`;
    if (match[1] === 'TABLE') tables.add(name);
    else withData.add(name);
  }
  return { tables, withData };
}

/** What the listing lacks of the source's tables: named, so the failure says what is missing. */
export function missingFromListing(listing: string, source: readonly TableRows[]): string[] {
  const { tables } = tablesInListing(listing);
  return source.map((t) => t.table).filter((name) => !tables.has(name));
}
