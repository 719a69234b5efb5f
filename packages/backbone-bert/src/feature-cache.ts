/**
 * The cache of frozen-BERT features. An entry is the feature matrix of one text (or text pair)
 * under one model and one maximum length; its key is SHA-256 of (model fingerprint, max length,
 * text, pair), so a different checkpoint, tokenizer or max length never reads another's entry.
 *
 * Two levels: a process-wide memory store (least recently used out first, bounded in bytes,
 * shared by every encoder of the process: a second experiment on the same data computes
 * nothing), and optionally a directory on disk, one small file per entry written atomically
 * (temporary file + rename), so interrupted runs leave no partial entry and resume where they
 * stopped.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@supermask/core';

/** Memory store shared by every `FeatureCache` of the process. */
class MemoryStore {
  private readonly entries = new Map<string, Float32Array>();
  private bytes = 0;
  limitBytes = 1024 * 1024 * 1024;

  get(key: string): Float32Array | undefined {
    const v = this.entries.get(key);
    if (v) {
      // Refresh: Map iteration order is insertion order, so re-insert to mark as recent.
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: string, value: Float32Array): void {
    if (value.byteLength > this.limitBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.byteLength;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.bytes += value.byteLength;
    this.evict();
  }

  evict(): void {
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.limitBytes) break;
      this.entries.delete(k);
      this.bytes -= v.byteLength;
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }
}

const memory = new MemoryStore();

/** Sets the size limit of the process-wide memory store (0 turns it off and empties it). */
export function setMemoryCacheLimit(bytes: number): void {
  memory.limitBytes = Math.max(0, bytes);
  memory.evict();
}

/** Empties the process-wide memory store. */
export function clearMemoryCache(): void {
  memory.clear();
}

/** Entries and bytes held by the process-wide memory store. */
export function memoryCacheUsage(): { entries: number; bytes: number; limitBytes: number } {
  return { entries: memory.size, bytes: memory.usedBytes, limitBytes: memory.limitBytes };
}

export interface FeatureCacheOptions {
  /** Fingerprint of the model's files (see `modelFingerprint`). */
  model: string;
  maxLength: number;
  /** Values per entry (maxLength * hidden). */
  entrySize: number;
  /** Directory of the on-disk cache; none when absent. */
  dir?: string;
  /** Use the process-wide memory store (default true). */
  memory?: boolean;
}

export interface FeatureCacheStats {
  memoryHits: number;
  diskHits: number;
  misses: number;
  writes: number;
}

const littleEndianHost = endianness() === 'LE';
const MAGIC = 0x4346_4d53; // "SMFC" little-endian
const VERSION = 1;
const HEADER_BYTES = 16;

/** Feature matrices by text, for one model and one max length. */
export class FeatureCache {
  readonly stats: FeatureCacheStats = { memoryHits: 0, diskHits: 0, misses: 0, writes: 0 };
  /** Folder of this model and max length inside the cache directory. */
  readonly folder: string | undefined;
  private readonly prefix: string;

  constructor(readonly options: FeatureCacheOptions) {
    this.prefix = `${options.model}\0${options.maxLength}\0`;
    this.folder = options.dir ? join(options.dir, `${options.model.slice(0, 16)}-L${options.maxLength}`) : undefined;
  }

  /** The cache key of a text (and its pair). */
  key(text: string, pair?: string): string {
    return createHash('sha256').update(this.prefix).update(text).update('\0').update(pair ?? '\u0001none').digest('hex');
  }

  /** The file of an entry in the disk cache. */
  fileOf(key: string): string | undefined {
    return this.folder ? join(this.folder, key.slice(0, 2), `${key}.f32`) : undefined;
  }

  get(key: string): Float32Array | undefined {
    if (this.options.memory !== false) {
      const hit = memory.get(key);
      if (hit) {
        this.stats.memoryHits++;
        return hit;
      }
    }
    const file = this.fileOf(key);
    if (file && existsSync(file)) {
      const values = this.readEntry(file);
      if (values) {
        this.stats.diskHits++;
        if (this.options.memory !== false) memory.set(key, values);
        return values;
      }
    }
    this.stats.misses++;
    return undefined;
  }

  set(key: string, values: Float32Array): void {
    if (values.length !== this.options.entrySize) throw new Error(`feature cache: entry has ${values.length} values, expected ${this.options.entrySize}`);
    if (this.options.memory !== false) memory.set(key, values);
    const file = this.fileOf(key);
    if (file) {
      const bytes = new Uint8Array(HEADER_BYTES + values.byteLength);
      const view = new DataView(bytes.buffer);
      view.setUint32(0, MAGIC, true);
      view.setUint32(4, VERSION, true);
      view.setUint32(8, values.length, true);
      view.setUint32(12, this.options.maxLength, true);
      if (littleEndianHost) bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), HEADER_BYTES);
      else for (let i = 0; i < values.length; i++) view.setFloat32(HEADER_BYTES + i * 4, values[i]!, true);
      writeFileAtomic(file, bytes);
      this.stats.writes++;
    }
  }

  /** An entry's values, or undefined when the file is not a complete entry of this cache. */
  private readEntry(file: string): Float32Array | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch {
      return undefined;
    }
    if (bytes.length !== HEADER_BYTES + this.options.entrySize * 4) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== VERSION) return undefined;
    if (view.getUint32(8, true) !== this.options.entrySize || view.getUint32(12, true) !== this.options.maxLength) return undefined;
    if (littleEndianHost) return new Float32Array(bytes.buffer.slice(bytes.byteOffset + HEADER_BYTES, bytes.byteOffset + bytes.length));
    const out = new Float32Array(this.options.entrySize);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(HEADER_BYTES + i * 4, true);
    return out;
  }
}
