import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Owner-only: the folder holds the ack signing key and demo secrets (in dynalite) and the webhook token. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

async function makePrivate(path: string, mode: number) {
  try {
    await chmod(path, mode);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') return;
    throw new Error(
      `cannot make ${path} private (${code ?? (error as Error).message}): it holds the responder's secrets, so chown it to this user or set RESPONDER_DATA_DIR to another folder`,
    );
  }
}

/**
 * Creates the data folder and the subfolders the embedded servers use, owner-only, and tightens a
 * folder made before this was so: every folder directly inside becomes 0700 and every file 0600.
 * What the embedded servers write deeper down sits behind those 0700 folders.
 */
export async function preparePrivateDataDir(dataDir: string, subfolders: readonly string[]): Promise<void> {
  // Only the data folder is private: parent folders made on the way keep the usual mode, so the
  // postgres user (demo environment under root) can still pass through them.
  await mkdir(dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { mode: PRIVATE_DIR_MODE }).catch((error: { code?: string }) => {
    if (error.code !== 'EEXIST') throw error;
  });
  // mkdir's mode only applies to a folder it creates, and then minus the umask.
  await makePrivate(dataDir, PRIVATE_DIR_MODE);
  for (const name of subfolders)
    await mkdir(join(dataDir, name), { recursive: true, mode: PRIVATE_DIR_MODE });
  for (const name of await readdir(dataDir)) {
    const path = join(dataDir, name);
    const entry = await lstat(path).catch(() => undefined);
    // chmod follows symlinks, and their targets are not ours to change.
    if (!entry || entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) await makePrivate(path, PRIVATE_DIR_MODE);
    else if (entry.isFile()) await makePrivate(path, PRIVATE_FILE_MODE);
  }
}
