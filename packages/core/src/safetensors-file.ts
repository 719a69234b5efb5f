import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DataError } from './errors.js';
import { writeFileAtomic } from './files.js';
import { encodeSafetensors, parseSafetensors, type SafetensorsFile, type StoredTensor } from './safetensors.js';

/** safetensors files on disk (Node only); the format itself is in safetensors.ts. */

/** Writes a safetensors file atomically (temporary file, then rename). */
export function writeSafetensors(file: string, tensors: ReadonlyMap<string, StoredTensor> | Record<string, StoredTensor>, metadata: Record<string, string> = {}): number {
  const bytes = encodeSafetensors(tensors, metadata);
  writeFileAtomic(file, bytes);
  return bytes.byteLength;
}

/** Reads and validates a safetensors file (see parseSafetensors). */
export function readSafetensors(file: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new DataError(`${file}: cannot open (${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message})`, file);
  }
  try {
    let bytes: Uint8Array;
    let read = 0;
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new Error('not a regular file');
      bytes = new Uint8Array(stat.size);
      while (read < stat.size) {
        const n = readSync(fd, bytes, read, stat.size - read, read);
        if (n === 0) break;
        read += n;
      }
    } catch (error) {
      throw new DataError(`${file}: cannot read (${(error as Error).message})`, file);
    }
    return parseSafetensors(bytes.subarray(0, read), file);
  } finally {
    closeSync(fd);
  }
}
