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
    const size = fstatSync(fd).size;
    const bytes = new Uint8Array(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return parseSafetensors(bytes.subarray(0, read), file);
  } finally {
    closeSync(fd);
  }
}
