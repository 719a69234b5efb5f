/**
 * Fuzz targets: every parser of supermask with a valid input to mutate, a generator of hostile
 * inputs (truncated, bit-flipped, oversized headers, random bytes, structure-aware edits) and the
 * named error it must raise (DataError for data and checkpoints, ConfigError for configs and
 * plugin manifests) naming the file. Used by fuzz.test.ts (a few hundred inputs per parser in
 * `npm test`) and by `npm run soak` (thousands).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { encode as encodeJpeg } from 'jpeg-js';
import YAML from 'yaml';
import {
  checkPluginManifests,
  ConfigError,
  DataError,
  encodeSafetensors,
  parseSafetensors,
  readCheckpoint,
  readConfigFile,
  resolveConfig,
  storedTensor,
  writeCheckpoint,
  DTYPE_BYTES,
  CHECKPOINT_MANIFEST,
} from '@supermask/core';
import { CIFAR10, CIFAR100, decodeJpegRgb, encodeIdx, parseCifarBatch, parseIdx } from '@supermask/datasets';
import { readTable } from '@supermask/backbone-bert';
import { createRegistry } from '@supermask/cli';

export interface FuzzTarget {
  name: string;
  /** Hostile inputs. */
  inputs: fc.Arbitrary<unknown>;
  /** Parses one input; returns the parsed value (checked by `check`) or throws. */
  parse(input: unknown): unknown;
  /** Throws when a parsed value is not valid. */
  check(value: unknown): void;
  /** The error class every failure must be. */
  error: typeof DataError | typeof ConfigError;
  /** What each error message must name (the file, or the plugin package). */
  names: string;
}

const root = mkdtempSync(join(tmpdir(), 'supermask-fuzz-'));

function fail(message: string): never {
  throw new Error(`invalid parsed value: ${message}`);
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Truncations, bit flips, insertions, random bytes and the target's own oversized headers. */
export function mutationsOf(valid: Uint8Array, extra: fc.Arbitrary<Uint8Array>[] = []): fc.Arbitrary<Uint8Array> {
  const truncated = fc.nat({ max: valid.length - 1 }).map((k) => valid.slice(0, k));
  const flipped = fc
    .array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 })
    .map((flips) => {
      const b = valid.slice();
      for (const [i, bit] of flips) b[i] ^= 1 << bit;
      return b;
    });
  const inserted = fc.tuple(fc.nat({ max: valid.length }), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, ins]) => concat(valid.slice(0, at), ins, valid.slice(at)));
  const overwritten = fc.tuple(fc.nat({ max: valid.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, bytes]) => {
    const b = valid.slice();
    b.set(bytes.subarray(0, b.length - at), at);
    return b;
  });
  const random = fc.uint8Array({ maxLength: 1024 });
  return fc.oneof(truncated, flipped, inserted, overwritten, random, ...extra);
}

/** A copy of `bytes` with `value` written at `at` (big- or little-endian uint of `width` bytes). */
function patched(bytes: Uint8Array, at: number, value: number | bigint, width: 2 | 4 | 8, littleEndian = false): Uint8Array {
  const b = bytes.slice();
  const view = new DataView(b.buffer);
  if (width === 2) view.setUint16(at, Number(value), littleEndian);
  else if (width === 4) view.setUint32(at, Number(value), littleEndian);
  else view.setBigUint64(at, BigInt(value), littleEndian);
  return b;
}

// ---------- IDX ----------

function idxTarget(): FuzzTarget {
  const dims = [3, 5, 4];
  const raw = new Uint8Array(encodeIdx(dims, Uint8Array.from({ length: product(dims) }, (_, i) => (i * 37) % 256)));
  const floats = new Uint8Array(encodeIdx([2, 3], Float32Array.from([1, -2, 3.5, 0, 1e9, -1e-9])));
  const gz = new Uint8Array(encodeIdx(dims, Uint8Array.from({ length: product(dims) }, (_, i) => i % 7), { gzip: true }));
  const hugeDim = fc.tuple(fc.integer({ min: 0, max: dims.length - 1 }), fc.integer({ min: 1 << 16, max: 0xffffffff })).map(([d, v]) => patched(raw, 4 + 4 * d, v, 4));
  const manyDims = fc.integer({ min: 4, max: 255 }).map((n) => {
    const b = raw.slice();
    b[3] = n;
    return b;
  });
  const file = join(root, 'train-images-idx3-ubyte');
  return {
    name: 'IDX',
    inputs: fc.oneof(mutationsOf(raw, [hugeDim, manyDims]), mutationsOf(floats), mutationsOf(gz)),
    parse: (input) => parseIdx(input as Uint8Array, file),
    check: (value) => {
      const v = value as ReturnType<typeof parseIdx>;
      if (v.data.length !== product(v.dims)) fail(`IDX data has ${v.data.length} values for dims ${v.dims.join('x')}`);
    },
    error: DataError,
    names: file,
  };
}

// ---------- CIFAR ----------

function cifarTarget(spec: typeof CIFAR10): FuzzTarget {
  const record = spec.labelBytes + 3072;
  const valid = Uint8Array.from({ length: 2 * record }, (_, i) => (i % record < spec.labelBytes ? (i % 10) : (i * 13) % 256));
  const file = join(root, `${spec.id}-data_batch_1.bin`);
  const labelCount = Math.max(...Object.values(spec.labels).map((l) => l.numClasses));
  return {
    name: spec === CIFAR10 ? 'CIFAR-10' : 'CIFAR-100',
    // A batch file has no header: truncations, flips (labels out of range) and extra bytes are the attacks.
    inputs: mutationsOf(valid, [fc.integer({ min: 1, max: 4 }).map((k) => concat(...Array.from({ length: k }, () => valid)))]),
    parse: (input) => parseCifarBatch(input as Uint8Array, file, spec),
    check: (value) => {
      const v = value as ReturnType<typeof parseCifarBatch>;
      if (v.x.length !== v.n * 3072 || v.y.length !== v.n) fail('CIFAR split sizes');
      for (const y of v.y) if (y < 0 || y >= labelCount) fail(`label ${y}`);
      for (const x of v.x) if (!(x >= 0 && x <= 1)) fail(`pixel ${x}`);
    },
    error: DataError,
    names: file,
  };
}

// ---------- TinyImageNet JPEG ----------

/** Offset of the SOF0 frame header's height field in a baseline JPEG. */
function sofSizeOffset(jpeg: Uint8Array): number {
  for (let i = 2; i + 8 < jpeg.length; i++) if (jpeg[i] === 0xff && jpeg[i + 1] === 0xc0) return i + 5;
  throw new Error('no SOF0 marker in the fixture JPEG');
}

function jpegTarget(): FuzzTarget {
  const size = 64;
  const rgba = Buffer.alloc(size * size * 4);
  for (let i = 0; i < size * size; i++) {
    rgba[4 * i] = (i * 3) % 256;
    rgba[4 * i + 1] = (i >> 4) % 256;
    rgba[4 * i + 2] = 128;
    rgba[4 * i + 3] = 255;
  }
  const valid = new Uint8Array(encodeJpeg({ data: rgba, width: size, height: size }, 60).data);
  const sof = sofSizeOffset(valid);
  const hugeSize = fc.tuple(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 0xffff })).map(([h, w]) => patched(patched(valid, sof, h, 2), sof + 2, w, 2));
  const file = join(root, 'n01443537_0.JPEG');
  const expected = { width: size, height: size };
  return {
    name: 'TinyImageNet JPEG',
    inputs: mutationsOf(valid, [hugeSize]),
    parse: (input) => decodeJpegRgb(input as Uint8Array, file, expected),
    check: (value) => {
      const v = value as ReturnType<typeof decodeJpegRgb>;
      if (v.width !== size || v.height !== size || v.data.length !== size * size * 3) fail(`JPEG ${v.width}x${v.height}, ${v.data.length} bytes`);
    },
    error: DataError,
    names: file,
  };
}

// ---------- text tables ----------

function tableTarget(format: 'csv' | 'tsv' | 'jsonl'): FuzzTarget {
  const dir = join(root, `table-${format}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `train.${format}`);
  const text =
    format === 'csv'
      ? 'label,title,body\n1,"A ""quoted"" title","line one\nline two"\n2,plain,text, more\n'
      : format === 'tsv'
        ? 'label\ttitle\tbody\n1\tA title\tsome text\n2\tother\tmore text\n'
        : '{"label": 1, "title": "A title", "body": "text"}\n{"label": "2", "title": "x", "body": {"nested": true}}\n';
  const valid = new TextEncoder().encode(text);
  const alphabet = format === 'jsonl' ? ['{', '}', '"', ':', ',', '[', ']', '\n', 'a', '1', '\\', ' ', 'label', 'title', 'body', 'null'] : [',', '"', '\n', '\r', '\t', 'a', ' ', 'label', 'title', 'body', '\uFEFF', '\u00e9'];
  const structured = fc.array(fc.constantFrom(...alphabet), { maxLength: 200 }).map((parts) => new TextEncoder().encode(parts.join('')));
  return {
    name: `table ${format.toUpperCase()}`,
    inputs: fc.oneof(mutationsOf(valid), structured),
    parse: (input) => {
      writeFileSync(file, input as Uint8Array);
      return readTable(file, { format, columns: { text: ['title', 'body'], label: 'label' } });
    },
    check: (value) => {
      for (const row of value as ReturnType<typeof readTable>) if (typeof row.text !== 'string' || typeof row.label !== 'string') fail('table row');
    },
    error: DataError,
    names: file,
  };
}

// ---------- safetensors ----------

function safetensorsTarget(): FuzzTarget {
  const tensors = new Map([
    ['layer/fc1/weight', storedTensor('F32', [3, 4], Float32Array.from({ length: 12 }, (_, i) => i / 3))],
    ['layer/fc1/mask/0', storedTensor('U8', [2], Uint8Array.from([5, 250]))],
  ]);
  const valid = encodeSafetensors(tensors, { format: 'supermask-checkpoint' });
  const headerLength = Number(new DataView(valid.buffer, valid.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(valid.subarray(8, 8 + headerLength)).toString('utf8')) as Record<string, { shape?: number[]; data_offsets?: number[] }>;
  const data = valid.subarray(8 + headerLength);
  const withHeader = (h: unknown) => {
    const json = new TextEncoder().encode(JSON.stringify(h));
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
    return concat(len, json, data);
  };
  const hugeLength = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((n) => patched(valid, 0, n, 8, true));
  const hugeShape = fc.tuple(fc.constantFrom('layer/fc1/weight', 'layer/fc1/mask/0'), fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { maxLength: 4 }), fc.option(fc.array(fc.integer({ min: -5, max: 2 ** 40 }), { minLength: 2, maxLength: 2 })))
    .map(([name, shape, offsets]) => withHeader({ ...header, [name]: { ...header[name], shape, ...(offsets ? { data_offsets: offsets } : {}) } }));
  const wildHeader = fc.tuple(fc.constantFrom('layer/fc1/weight', '__metadata__'), fc.jsonValue()).map(([name, v]) => withHeader({ ...header, [name]: v }));
  const file = join(root, 'checkpoint-task-0001.safetensors');
  return {
    name: 'safetensors',
    inputs: mutationsOf(valid, [hugeLength, hugeShape, wildHeader]),
    parse: (input) => parseSafetensors(input as Uint8Array, file),
    check: (value) => {
      const v = value as ReturnType<typeof parseSafetensors>;
      for (const [name, t] of v.tensors) if (t.bytes.length !== product(t.shape) * DTYPE_BYTES[t.dtype]) fail(`tensor ${name}`);
      for (const m of Object.values(v.metadata)) if (typeof m !== 'string') fail('metadata');
    },
    error: DataError,
    names: file,
  };
}

// ---------- checkpoint manifest ----------

function checkpointTarget(): FuzzTarget {
  const dir = join(root, 'checkpoint');
  mkdirSync(dir, { recursive: true });
  const tensors = new Map([
    ['layer/fc1/weight', storedTensor('F32', [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]))],
    ['layer/fc1/mask/0', storedTensor('U8', [1], Uint8Array.from([9]))],
  ]);
  writeCheckpoint(
    dir,
    {
      format: 'supermask-checkpoint',
      format_version: 1,
      run_id: 'f0e1d2c3-0000-4000-8000-000000000000',
      created_at: '2026-01-01T00:00:00.000Z',
      config: { seed: 1, backbone: { id: 'lenet' }, dataset: { id: 'fashion-mnist' }, stream: { id: 'split' }, strategy: { id: 'supsup' } },
      seed: 1,
      rng_state: [1, 2, 3, 4],
      stream: { name: 'split', tasks: 2, input_shape: [28, 28, 1], num_classes: 10 },
      completed_tasks: 1,
      components: {},
      accuracy_matrix: [[0.9, null]],
      tasks: [{}],
      started_at: '2026-01-01T00:00:00.000Z',
      backend: 'cpu',
    },
    tensors,
  );
  const manifestFile = join(dir, CHECKPOINT_MANIFEST);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
  const valid = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
  const keys = Object.keys(manifest);
  const fieldReplaced = fc.tuple(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 })).map(([k, v]) => new TextEncoder().encode(JSON.stringify({ ...manifest, [k]: v })));
  const hugeTensor = fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { maxLength: 4 }).map((shape) =>
    new TextEncoder().encode(JSON.stringify({ ...manifest, tensors: [{ name: 'layer/fc1/weight', dtype: 'F32', shape }, { name: 'layer/fc1/mask/0', dtype: 'U8', shape: [1] }] })),
  );
  return {
    name: 'checkpoint manifest',
    inputs: mutationsOf(valid, [fieldReplaced, hugeTensor]),
    parse: (input) => {
      writeFileSync(manifestFile, input as Uint8Array);
      return readCheckpoint(dir);
    },
    check: (value) => {
      const v = value as ReturnType<typeof readCheckpoint>;
      if (v.manifest.tensors.length !== v.tensors.size) fail('checkpoint tensors');
    },
    error: DataError,
    names: dir,
  };
}

// ---------- plugin manifest ----------

function pluginManifestTarget(): FuzzTarget {
  const valid = { id: 'random-owner', kind: 'ownership_policy', core: '^0.1.0', description: 'fuzz', schema: { type: 'object', properties: { p: { type: 'number', default: 0.5 } } } };
  const keys = Object.keys(valid);
  const fieldReplaced = fc.tuple(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 })).map(([k, v]) => ({ ...valid, [k]: v }));
  const wildSchema = fc.dictionary(fc.constantFrom('type', 'properties', 'required', '$ref', 'items', 'enum', 'minimum', 'pattern', 'default', 'oneOf'), fc.jsonValue({ maxDepth: 2 })).map((schema) => ({ ...valid, schema }));
  const ranges = fc.constantFrom('^0.1.0', '>=0.0.1', '*', '1.x', 'not a range', '^999.0.0', '', '>=0.1.0 <0.2.0', '~0.1', '||', '0.1.0 - 0.2.0').map((core) => ({ ...valid, core }));
  const single = fc.oneof(fieldReplaced, wildSchema, ranges, fc.jsonValue({ maxDepth: 3 }));
  return {
    name: 'plugin manifest',
    inputs: fc.oneof(single, fc.array(single, { maxLength: 3 })),
    parse: (input) => checkPluginManifests(input, 'supermask-plugin-fuzz', 'plugins[0]', '0.1.0'),
    check: (value) => {
      for (const m of value as ReturnType<typeof checkPluginManifests>) if (typeof m.id !== 'string' || typeof m.schema !== 'object') fail('plugin manifest');
    },
    error: ConfigError,
    names: 'supermask-plugin-fuzz',
  };
}

// ---------- config ----------

function configTarget(format: 'json' | 'yaml'): FuzzTarget {
  const registry = createRegistry();
  const config = {
    name: 'fuzz',
    seed: 3,
    dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
    stream: { id: 'split', options: { tasks: 2, classes_per_task: 2 } },
    backbone: { id: 'lenet', options: { hidden: [32, 16] } },
    strategy: { id: 'exssnet', options: { mask_phase: { epochs: 1, lr: 0.01, batch_size: 32 } } },
    mask_scorer: { id: 'topk', options: { density: 0.1 } },
    knowledge_transfer: { id: 'kkt', options: { k: 5 } },
  };
  const file = join(root, `config.${format}`);
  const encodeText = (v: unknown) => new TextEncoder().encode(format === 'json' ? JSON.stringify(v, null, 2) : YAML.stringify(v));
  const valid = encodeText(config);
  const sections = Object.keys(config) as (keyof typeof config)[];
  const fieldReplaced = fc.tuple(fc.constantFrom(...sections, 'plugins', 'backend', 'evaluation', 'checkpoint', 'outputs'), fc.jsonValue({ maxDepth: 3 })).map(([k, v]) => encodeText({ ...config, [k]: v }));
  const optionReplaced = fc
    .tuple(fc.constantFrom('stream', 'backbone', 'strategy', 'mask_scorer', 'knowledge_transfer') as fc.Arbitrary<'stream'>, fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }))
    .map(([section, key, v]) => encodeText({ ...config, [section]: { ...config[section], options: { ...config[section].options, [key]: v } } }));
  return {
    name: `config ${format.toUpperCase()}`,
    inputs: mutationsOf(valid, [fieldReplaced, optionReplaced]),
    parse: (input) => {
      writeFileSync(file, input as Uint8Array);
      return resolveConfig(readConfigFile(file), registry, { file });
    },
    check: (value) => {
      const v = value as ReturnType<typeof resolveConfig>;
      if (typeof v.seed !== 'number' || typeof v.name !== 'string') fail('config');
    },
    error: ConfigError,
    names: file,
  };
}

/** Every fuzz target, in the order of the report. */
export function fuzzTargets(): FuzzTarget[] {
  return [
    idxTarget(),
    cifarTarget(CIFAR10),
    cifarTarget(CIFAR100),
    jpegTarget(),
    tableTarget('csv'),
    tableTarget('tsv'),
    tableTarget('jsonl'),
    safetensorsTarget(),
    checkpointTarget(),
    pluginManifestTarget(),
    configTarget('json'),
    configTarget('yaml'),
  ];
}

export interface FuzzCount {
  parser: string;
  tried: number;
  parsed: number;
  named_errors: number;
  slowest_ms: number;
}

/**
 * Runs `runs` generated inputs through `target` (seeded): each must parse to a valid value or
 * raise the target's named error naming the file, within `maxMs`. Throws (with fast-check's
 * counterexample) otherwise; returns the counts.
 */
export function fuzz(target: FuzzTarget, runs: number, seed: number, maxMs = 2000): FuzzCount {
  const count: FuzzCount = { parser: target.name, tried: 0, parsed: 0, named_errors: 0, slowest_ms: 0 };
  fc.assert(
    fc.property(target.inputs, (input) => {
      count.tried++;
      const start = performance.now();
      let value: unknown;
      let error: unknown;
      try {
        value = target.parse(input);
      } catch (e) {
        error = e;
      }
      const ms = performance.now() - start;
      count.slowest_ms = Math.max(count.slowest_ms, ms);
      if (ms > maxMs) throw new Error(`${target.name}: one input took ${ms.toFixed(0)} ms`);
      if (error === undefined) {
        target.check(value);
        count.parsed++;
        return;
      }
      if (!(error instanceof target.error)) throw new Error(`${target.name}: expected a ${target.error.name}, got ${(error as Error)?.name}: ${(error as Error)?.message ?? String(error)}`);
      if (!error.message.includes(target.names)) throw new Error(`${target.name}: the error does not name ${target.names}: ${error.message}`);
      count.named_errors++;
    }),
    { numRuns: runs, seed },
  );
  return count;
}
