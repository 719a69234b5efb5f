import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Durable writes. Every file supermask writes (results, accuracy_matrix.csv, checkpoints,
 * evaluations, reports, exports, benchmark results) goes through `writeFileAtomic`: the data goes
 * to a temporary file beside the target, the file is fsynced, renamed over the target, and the
 * directory is fsynced, so after a crash or a power loss a reader finds either the old file or
 * the complete new one, never an empty or half-written file. A failure removes the temporary
 * file and leaves the target as it was.
 *
 * Several files that belong together (a checkpoint's tensors and its manifest, an export's
 * tensors and model.json) are written one by one with the file that names the others last.
 */

let tmpCounter = 0;

/** Writes all of `data` to the open file `fd` and fsyncs it. */
function writeAllAndSync(fd: number, data: Uint8Array): void {
  for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
  fsyncSync(fd);
}

/**
 * Fsyncs a directory so that a rename or a new file in it survives a crash. Some platforms
 * (Windows) cannot open a directory for fsync; there the rename is as durable as the OS makes it.
 */
export function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (error) {
    if (isCode(error, 'EISDIR', 'EPERM', 'EACCES')) return;
    throw error;
  }
  try {
    fsyncSync(fd);
  } catch (error) {
    if (!isCode(error, 'EINVAL', 'EPERM', 'EBADF')) throw error;
  } finally {
    closeSync(fd);
  }
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as { code?: string }).code ?? '');
}

/**
 * Writes a file atomically and durably: temporary file beside the target, fsync, rename over the
 * target, fsync of the directory. A reader never sees a half-written file, and a crash after the
 * call returned does not lose the file.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${Date.now()}.${tmpCounter++}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeAllAndSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  fsyncDirectory(dir);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Creates `file` holding `data` only if no file of that name exists: the data is written durably
 * to a temporary file that is then hard-linked to `file` (link fails atomically when `file`
 * exists), so `file` never exists with partial content. Returns false when `file` already exists.
 */
export function createFileExclusive(file: string, data: string): boolean {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${Date.now()}.${tmpCounter++}.tmp`);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeAllAndSync(fd, Buffer.from(data, 'utf8'));
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, file);
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    throw error;
  } finally {
    rmSync(tmp, { force: true });
  }
  fsyncDirectory(dir);
  return true;
}
