import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { DependencyContainer } from 'tsyringe';
import { ConfigError, RegistryError } from './errors.js';
import { didYouMean } from './config-input.js';

import { COMPONENT_KINDS, type ComponentKind } from './slots.js';

export { COMPONENT_KINDS, type ComponentKind } from './slots.js';

/** A JSON Schema (draft-07 as understood by ajv). */
export type JsonSchema = Record<string, unknown>;

/** A reference to a component in a config: `{ "id": "topk", "options": { ... } }`. */
export interface ComponentRef {
  id: string;
  options?: Record<string, unknown>;
}

export interface ComponentDefinition<Instance = unknown, Options = any> {
  kind: ComponentKind;
  /** Id used in configs, unique per kind. */
  id: string;
  description: string;
  /** JSON Schema of the options object. Defaults in the schema are applied before `create`. */
  schema: JsonSchema;
  /** npm package that registered it (shown by `supermask list`). */
  package?: string;
  /** Strategies only: components used when the config leaves a slot empty. */
  defaults?: Partial<Record<ComponentKind, ComponentRef>>;
  /** Builds the component. Collaborators (backbone, scorer, RNG, ...) come from the container. */
  create(options: Options, container: DependencyContainer): Instance;
}

interface Entry {
  def: ComponentDefinition;
  validate: ValidateFunction;
}

/** Formats ajv errors as `path: message` lines, with the path in dotted form rooted at `root`. */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined, root: string): string[] {
  if (!errors) return [];
  return errors.map((e) => {
    const segments = e.instancePath.split('/').filter((s) => s.length > 0);
    let path = root;
    for (const s of segments) path += /^\d+$/.test(s) ? `[${s}]` : path ? `.${s}` : s;
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      return `${path ? `${path}.` : ''}${extra}: unknown field${didYouMean(extra, Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}))} (allowed: ${allowedKeys(e.parentSchema)})`;
    }
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return `${path ? `${path}.` : ''}${missing}: required field is missing`;
    }
    if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      return `${path || '(root)'}: must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(e.data)}`;
    }
    return `${path || '(root)'}: ${e.message ?? 'is invalid'}${e.data !== undefined && typeof e.data !== 'object' ? `, got ${JSON.stringify(e.data)}` : ''}`;
  });
}

function allowedKeys(schema: unknown): string {
  const props = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props).join(', ') : 'none';
}

/** Creates the ajv instance used for every schema in supermask. */
export function createAjv(): Ajv {
  return new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
}

/**
 * Components by kind and id. The registry holds definitions; instances are built through the
 * DI container of a run (see `createRunContainer`), so a component's collaborators are injected.
 */
export class Registry {
  private readonly entries = new Map<string, Entry>();
  readonly ajv = createAjv();

  register<I, O>(def: ComponentDefinition<I, O>): void {
    if (!COMPONENT_KINDS.includes(def.kind)) {
      throw new RegistryError(`cannot register "${def.id}": unknown kind "${def.kind}" (kinds: ${COMPONENT_KINDS.join(', ')})`);
    }
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(def.id)) {
      throw new RegistryError(`cannot register ${def.kind} "${def.id}": ids are lower-case letters, digits, '.', '_' and '-'`);
    }
    const key = `${def.kind}:${def.id}`;
    if (this.entries.has(key)) {
      const other = this.entries.get(key)!.def.package ?? 'another package';
      throw new RegistryError(`${def.kind} "${def.id}" is registered twice (by ${other} and ${def.package ?? 'another package'})`);
    }
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(def.schema);
    } catch (error) {
      throw new RegistryError(`${def.kind} "${def.id}"${def.package ? ` from ${def.package}` : ''} has an invalid options schema: ${(error as Error).message}`);
    }
    this.entries.set(key, { def: def as ComponentDefinition, validate });
  }

  has(kind: ComponentKind, id: string): boolean {
    return this.entries.has(`${kind}:${id}`);
  }

  get(kind: ComponentKind, id: string): ComponentDefinition {
    return this.entry(kind, id, kind).def;
  }

  /** All definitions, optionally of one kind, sorted by kind then id. */
  list(kind?: ComponentKind): ComponentDefinition[] {
    return [...this.entries.values()]
      .map((e) => e.def)
      .filter((d) => kind === undefined || d.kind === kind)
      .sort((a, b) => COMPONENT_KINDS.indexOf(a.kind) - COMPONENT_KINDS.indexOf(b.kind) || a.id.localeCompare(b.id));
  }

  ids(kind: ComponentKind): string[] {
    return this.list(kind).map((d) => d.id);
  }

  /**
   * Validates `ref.options` against the component's schema (filling defaults) and returns the
   * complete options. `path` is the config field of the reference, used in error messages.
   */
  resolveOptions(kind: ComponentKind, ref: ComponentRef, path: string): Record<string, unknown> {
    const entry = this.entry(kind, ref.id, path);
    const options = structuredClone(ref.options ?? {});
    if (!entry.validate(options)) {
      throw new ConfigError(`invalid options for ${kind} "${ref.id}"`, formatAjvErrors(entry.validate.errors, `${path}.options`));
    }
    return options;
  }

  private entry(kind: ComponentKind, id: string, path: string): Entry {
    const entry = this.entries.get(`${kind}:${id}`);
    if (!entry) {
      const known = this.ids(kind);
      throw new ConfigError(`unknown ${kind} "${id}"`, [
        `${path}.id: no ${kind} is registered as "${id}"${didYouMean(id, known)}; registered: ${known.length > 0 ? known.join(', ') : 'none'}`,
      ]);
    }
    return entry;
  }
}
