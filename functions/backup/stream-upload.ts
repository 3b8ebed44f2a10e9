import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { AbortMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Log } from '../../src/ports.ts';
import { redact, TailBuffer } from './postgres-tools.ts';

/** S3's limits for a multipart upload. */
export const S3_MAX_PARTS = 10_000;
export const S3_MIN_PART_BYTES = 5 * 1024 * 1024;
export const S3_MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
const MIB = 1024 * 1024;

/**
 * A part size at which 10,000 parts cover four times `estimateBytes` (the database's size on disk: a
 * dump is usually smaller, but an uncompressed one of dense data can be larger), at least 8 MiB.
 * Memory is about (queue size + 1) parts, so a 1 GB database costs 24 MiB of buffers.
 */
export function partSizeFor(estimateBytes: number): number {
  const needed = Math.ceil((Math.max(estimateBytes, 0) * 4) / S3_MAX_PARTS);
  const rounded = Math.ceil(Math.max(needed, 8 * MIB) / MIB) * MIB;
  if (rounded > S3_MAX_PART_BYTES) {
    throw new Error(
      `the database (${Math.round(estimateBytes / 2 ** 30)} GiB) is too large for one S3 object of 10,000 ${S3_MAX_PART_BYTES / 2 ** 30} GiB parts: use format "directory" or exclude table data`,
    );
  }
  return Math.max(rounded, S3_MIN_PART_BYTES);
}

/** A backup step that failed: `message` is the cause (the producer's own error first), with its stderr tail. */
export class BackupStepError extends Error {
  constructor(
    message: string,
    readonly stderrTail?: string,
    /** A later error that followed the cause (the abort failing, say): reported, never in its place. */
    readonly secondary?: string,
  ) {
    super(message);
    this.name = 'BackupStepError';
  }
}

/** The producer ended badly: raised inside the stream so that lib-storage never completes the upload. */
class ProducerFailed extends Error {}

export interface ProducerCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Shown in errors: `pg_dump`, `tar`. */
  readonly name: string;
}

export interface StreamUploadOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly producer: ProducerCommand;
  readonly partSizeBytes: number;
  /** Parts uploaded at once; memory is about (queueSize + 1) × partSizeBytes. @default 2 */
  readonly queueSize?: number;
  readonly timeoutMs: number;
  /** Values removed from the stderr tail (the password). */
  readonly secrets: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly onProgress?: (bytes: number) => void;
  readonly log?: Log;
}

export interface StreamUploadResult {
  readonly bytes: number;
  /** Hex SHA-256 of every byte the producer wrote, computed on the way up. */
  readonly sha256: string;
  readonly versionId?: string;
  /** S3's own checksum of the object (composite `...-N` for a multipart upload), when S3 returns one. */
  readonly s3Checksum?: string;
  readonly partSizeBytes: number;
  readonly stderrTail: string;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly spawnError?: Error;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
      // A process that never started emits no 'close' of its own.
      if (child.pid === undefined) resolve({ code: null, signal: null, spawnError });
    });
    child.once('close', (code, signal) => resolve({ code, signal, spawnError }));
  });
}

function describeExit(name: string, exit: Exit, tail: TailBuffer): string {
  if (exit.spawnError) return `${name} could not be started: ${exit.spawnError.message}`;
  const own = tail.lastError();
  const how = exit.signal ? `was stopped by ${exit.signal}` : `exited with code ${exit.code}`;
  return own ? `${name} ${how}: ${own}` : `${name} ${how}`;
}

/**
 * Streams a child process's stdout (pg_dump's archive) through SHA-256 and a byte counter into an S3
 * multipart upload, and completes the object only when the process has exited 0.
 *
 * Fail closed: the stream's end is held until the exit is known, so a producer that dies (a signal,
 * a dropped connection, a non-zero exit) fails the last read and lib-storage never sends
 * CompleteMultipartUpload (nor, for a dump smaller than one part, PutObject). An S3 error, or the
 * timeout, stops the producer. Either way the multipart upload is aborted here, not by lib-storage,
 * so that the error reported is the cause and an abort that fails too is only a secondary error
 * (and the bucket's lifecycle rule removes such parts a day later).
 */
export async function streamToS3(options: StreamUploadOptions): Promise<StreamUploadResult> {
  const { producer, secrets } = options;
  const tail = new TailBuffer();
  const child = spawn(producer.command, [...producer.args], {
    env: producer.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = exitOf(child);
  child.stderr?.on('data', (chunk: Buffer) => tail.push(chunk));
  let stoppedBecause: string | undefined;
  const stop = (reason: string) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    stoppedBecause ??= reason;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  };

  const hash = createHash('sha256');
  let bytes = 0;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      options.onProgress?.(bytes);
      callback(null, chunk);
    },
    flush(callback) {
      exited.then((exit) => {
        if (exit.code === 0 && !exit.spawnError) callback();
        else callback(new ProducerFailed(describeExit(producer.name, exit, tail)));
      }, callback);
    },
  });
  child.stdout?.pipe(body);

  const upload = new Upload({
    client: options.s3,
    params: {
      Bucket: options.bucket,
      Key: options.key,
      Body: body,
      ContentType: 'application/octet-stream',
      // Every part carries its SHA-256 and S3 checks it on arrival.
      ChecksumAlgorithm: 'SHA256',
    },
    partSize: options.partSizeBytes,
    queueSize: options.queueSize ?? 2,
    // Aborted below, so that a failing abort cannot take the place of the cause.
    leavePartsOnError: true,
    tags: Object.entries(options.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
  });
  const timer = setTimeout(() => {
    const reason = `the backup timed out after ${Math.round(options.timeoutMs / 1000)} s`;
    stop(reason);
    body.destroy(new ProducerFailed(reason));
  }, options.timeoutMs);
  timer.unref();

  try {
    const result = await upload.done();
    return {
      bytes,
      sha256: hash.digest('hex'),
      versionId: result.VersionId,
      s3Checksum: result.ChecksumSHA256,
      partSizeBytes: options.partSizeBytes,
      stderrTail: redact(tail.toString(), secrets),
    };
  } catch (uploadError) {
    stop('the upload to S3 failed');
    const exit = await exited;
    let cause: string;
    if (uploadError instanceof ProducerFailed) cause = uploadError.message;
    else if (stoppedBecause && stoppedBecause !== 'the upload to S3 failed') cause = stoppedBecause;
    else if (!stoppedBecause && (exit.code !== 0 || exit.spawnError))
      cause = describeExit(producer.name, exit, tail);
    else cause = `the upload to S3 failed: ${(uploadError as Error).message}`;
    const secondary = await abortUpload(options, upload);
    if (secondary) options.log?.warn('multipart upload not aborted', { key: options.key, error: secondary });
    throw new BackupStepError(redact(cause, secrets), redact(tail.toString(), secrets), secondary);
  } finally {
    clearTimeout(timer);
  }
}

/** Aborts the upload's multipart upload if one was started; the abort's own error, if any. */
async function abortUpload(options: StreamUploadOptions, upload: Upload): Promise<string | undefined> {
  // lib-storage keeps the id on the instance; with leavePartsOnError it leaves the abort to us.
  const uploadId = (upload as unknown as { uploadId?: string }).uploadId;
  if (!uploadId) return undefined;
  try {
    await options.s3.send(
      new AbortMultipartUploadCommand({ Bucket: options.bucket, Key: options.key, UploadId: uploadId }),
    );
    return undefined;
  } catch (error) {
    return `AbortMultipartUpload of ${uploadId} failed: ${(error as Error).message}`;
  }
}
