import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ConfigError, createAjv, readConfigFile } from '@supermask/core';

/** How failed points are retried (embedded pool and queue alike). */
export interface RetrySpec {
  /** Attempts per point in all, the first included. */
  attempts: number;
  /** Wait before the second attempt; doubled for each further one. */
  backoff_seconds: number;
}

/** A sweep file as written (YAML or JSON), after schema validation with defaults applied. */
export interface SweepSpec {
  name: string;
  /** The base config: inline, or a path relative to the sweep file. */
  base: string | Record<string, unknown>;
  /** Fixed values set in every point, by dotted config path. */
  set: Record<string, unknown>;
  /** Cartesian product of these lists, by dotted config path. */
  grid: Record<string, unknown[]>;
  /** Paired lists of equal length: the i-th values go together (one axis of the grid). */
  zip: Record<string, unknown[]>;
  /** One point per seed for every configuration (default: the base config's seed). */
  seeds?: number[];
  retry: RetrySpec;
}

const DOTTED_PATH = '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)*$';
const axisMap = {
  type: 'object',
  propertyNames: { pattern: DOTTED_PATH },
  additionalProperties: { type: 'array', minItems: 1 },
  default: {},
} as const;

/** JSON Schema of a sweep file. */
export const SWEEP_SCHEMA = {
  $id: 'https://supermask.dev/schemas/sweep.json',
  type: 'object',
  additionalProperties: false,
  required: ['base'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'sweep name (default: the file name)' },
    base: {
      oneOf: [
        { type: 'string', minLength: 1, description: 'path of a run config (JSON or YAML), relative to the sweep file' },
        { type: 'object', description: 'an inline run config' },
      ],
    },
    set: { type: 'object', propertyNames: { pattern: DOTTED_PATH }, default: {}, description: 'values set in every point, by dotted config path' },
    grid: { ...axisMap, description: 'cartesian product: dotted config path -> list of values' },
    zip: { ...axisMap, description: 'paired lists of equal length: dotted config path -> list of values' },
    seeds: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'integer', minimum: 0, maximum: 4294967295 } },
    retry: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        attempts: { type: 'integer', minimum: 1, default: 3 },
        backoff_seconds: { type: 'number', minimum: 0, default: 5 },
      },
    },
  },
} as const;

const validateSweep = createAjv().compile(SWEEP_SCHEMA);

/** `grid["mask_scorer.options.density"]`-style field path of an ajv error. */
function fieldPath(error: ErrorObject): string {
  const segments = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty: string }).missingProperty));
  if (error.keyword === 'additionalProperties') segments.push(String((error.params as { additionalProperty: string }).additionalProperty));
  if (error.propertyName !== undefined) segments.push(error.propertyName);
  let path = '';
  for (const s of segments) path += /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `${path ? '.' : ''}${s}` : /^\d+$/.test(s) ? `[${s}]` : `[${JSON.stringify(s)}]`;
  return path || '(top level)';
}

function schemaProblems(errors: ErrorObject[]): string[] {
  const lines = errors
    .filter((e) => e.keyword !== 'if' && e.keyword !== 'oneOf' && e.keyword !== 'propertyNames')
    .map((e) => {
      const what = e.keyword === 'additionalProperties' ? 'is not a known field' : e.propertyName !== undefined ? 'is not a dotted config path (letters, digits and _ in segments joined by dots)' : e.message;
      return `${fieldPath(e)}: ${what}`;
    });
  return [...new Set(lines)];
}

/** Reads and validates a sweep file (YAML or JSON). Errors are ConfigErrors (exit 2) naming the field. */
export function readSweepFile(file: string): SweepSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read sweep file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, [], file);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`sweep file ${file} is not valid YAML/JSON: ${(error as Error).message}`, [], file);
  }
  return checkSweep(value, file);
}

/** Validates a parsed sweep (schema, zip lengths, overlapping axes); fills in defaults. */
export function checkSweep(value: unknown, file?: string): SweepSpec {
  const where = file ? ` ${file}` : '';
  const spec = structuredClone(value) as Record<string, unknown>;
  if (!validateSweep(spec)) throw new ConfigError(`invalid sweep file${where}`, schemaProblems(validateSweep.errors ?? []), file);
  const s = spec as unknown as SweepSpec;
  const problems: string[] = [];
  const zipKeys = Object.keys(s.zip);
  const zipLength = zipKeys.length > 0 ? s.zip[zipKeys[0]!]!.length : 0;
  for (const key of zipKeys) {
    if (s.zip[key]!.length !== zipLength) problems.push(`zip[${JSON.stringify(key)}]: has ${s.zip[key]!.length} values, expected ${zipLength} like zip[${JSON.stringify(zipKeys[0])}] (zip lists are paired)`);
  }
  const seen = new Map<string, string>();
  for (const [section, keys] of [['set', Object.keys(s.set)], ['grid', Object.keys(s.grid)], ['zip', zipKeys]] as const) {
    for (const key of keys) {
      if (key === 'seed') problems.push(`${section}.seed: the seed is not an axis; list the seeds under \`seeds\``);
      const clash = [...seen.keys()].find((k) => k === key || k.startsWith(`${key}.`) || key.startsWith(`${k}.`));
      if (clash !== undefined) problems.push(`${section}[${JSON.stringify(key)}]: overlaps ${seen.get(clash)}[${JSON.stringify(clash)}] (each config path may be set once)`);
      seen.set(key, section);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid sweep file${where}`, problems, file);
  s.name ??= file ? (file.split('/').pop() ?? 'sweep').replace(/\.(ya?ml|json)$/i, '').replace(/[^A-Za-z0-9._-]/g, '-') : 'sweep';
  return s;
}

/** One expanded point: a full raw config plus where it sits in the sweep. */
export interface SweepPoint {
  /** Unique, file-system safe: axis values and seed, e.g. `density=0.05_strategy=supsup_seed=1`. */
  id: string;
  /** The same without the seed: points that differ only by seed share it. */
  configuration: string;
  /** The axis values of this point, by dotted config path (grid and zip). */
  axes: Record<string, unknown>;
  /** Short text of each axis value (as in the id), by dotted config path. */
  labels: Record<string, string>;
  seed: number;
  /** The run config (raw: not yet resolved). */
  config: Record<string, unknown>;
}

/** Sets `value` at a dotted path, creating objects on the way; an existing non-object on the way is an error. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown, field: string): void {
  const keys = path.split('.');
  let node: Record<string, unknown> = target;
  for (const [i, key] of keys.slice(0, -1).entries()) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new ConfigError(`${field}: cannot set ${path}: ${keys.slice(0, i + 1).join('.')} in the base config is ${JSON.stringify(next)}, not an object`);
    }
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = structuredClone(value);
}

/**
 * Short texts of an axis's values for point ids and tables: scalars as they are, components
 * (objects with an id) by their id (plus a hash where two values share an id), others by a hash.
 */
export function axisValueLabels(values: readonly unknown[]): string[] {
  const idOf = (v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { id?: unknown }).id === 'string' ? (v as { id: string }).id : undefined);
  return values.map((v) => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
    const id = idOf(v);
    if (id === undefined) return hash(v);
    return values.filter((w) => idOf(w) === id).length > 1 ? `${id}-${hash(v)}` : id;
  });
}

function hash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 6);
}

/** The label of each axis in point ids: its last path segment, or more of the path where that clashes. */
export function axisLabels(paths: string[]): Map<string, string> {
  const labels = new Map<string, string>();
  for (const path of paths) {
    const parts = path.split('.');
    let n = 1;
    const clash = (l: string) => paths.some((p) => p !== path && p.split('.').slice(-n).join('.') === l);
    while (n < parts.length && clash(parts.slice(-n).join('.'))) n++;
    labels.set(path, parts.slice(-n).join('.'));
  }
  return labels;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9.+=-]+/g, '-');

/** The base config of a sweep (read from its path when given by path). */
export function baseConfig(spec: SweepSpec, file?: string): Record<string, unknown> {
  if (typeof spec.base !== 'string') return structuredClone(spec.base);
  const path = resolve(file ? dirname(file) : '.', spec.base);
  const raw = readConfigFile(path);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`base: ${path} does not hold a config object`, [], file);
  return raw as Record<string, unknown>;
}

/**
 * Every point of a sweep: the cartesian product of the grid axes and the zip (one axis whose
 * i-th values go together), times the seeds. The base config gets `set`, then the point's axis
 * values, then its seed. Points are ordered configuration by configuration, seeds innermost.
 */
export function expandSweep(spec: SweepSpec, file?: string): SweepPoint[] {
  const base = baseConfig(spec, file);
  for (const [path, value] of Object.entries(spec.set)) setPath(base, path, value, `set[${JSON.stringify(path)}]`);
  const seeds = spec.seeds ?? [typeof base.seed === 'number' ? base.seed : 0];
  let combos: Record<string, unknown>[] = [{}];
  for (const [path, values] of Object.entries(spec.grid)) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [path]: v })));
  const zipKeys = Object.keys(spec.zip);
  if (zipKeys.length > 0) {
    const n = spec.zip[zipKeys[0]!]!.length;
    combos = combos.flatMap((c) => Array.from({ length: n }, (_, i) => ({ ...c, ...Object.fromEntries(zipKeys.map((k) => [k, spec.zip[k]![i]])) })));
  }
  const labels = axisLabels([...Object.keys(spec.grid), ...zipKeys]);
  const axisValues: Record<string, unknown[]> = { ...spec.grid, ...spec.zip };
  const valueLabels = new Map(Object.entries(axisValues).map(([path, values]) => [path, axisValueLabels(values)]));
  const label = (path: string, v: unknown) => valueLabels.get(path)![axisValues[path]!.indexOf(v)]!;
  const points: SweepPoint[] = [];
  for (const axes of combos) {
    const configuration = Object.entries(axes).map(([path, v]) => safe(`${labels.get(path)}=${label(path, v)}`)).join('_') || 'base';
    const valueTexts = Object.fromEntries(Object.entries(axes).map(([path, v]) => [path, label(path, v)]));
    for (const seed of seeds) {
      const config = structuredClone(base);
      for (const [path, value] of Object.entries(axes)) setPath(config, path, value, `point ${configuration}: ${path}`);
      config.seed = seed;
      const id = `${configuration}_seed=${seed}`;
      config.name = `${spec.name}/${id}`;
      points.push({ id, configuration, axes, labels: valueTexts, seed, config });
    }
  }
  const ids = new Set<string>();
  for (const p of points) {
    if (ids.has(p.id)) throw new ConfigError(`sweep${file ? ` ${file}` : ''}: two points are both named ${p.id} (repeated axis values?)`, [], file);
    ids.add(p.id);
  }
  return points;
}
