import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exports as resolveExports } from 'resolve.exports';
import semver from 'semver';
import { ConfigError, RegistryError } from './errors.js';
import { COMPONENT_KINDS, createAjv, formatAjvErrors, type ComponentKind, type JsonSchema, type Registry } from './registry.js';
import { coreVersion } from './versions.js';

/**
 * What a third-party plugin package exports for each component it provides. A package exports
 * `manifest` (one or a list) and `register(registry)`; configs load it by package name:
 * `"plugins": ["supermask-plugin-foo"]`.
 */
export interface PluginManifest {
  /** Component id that configs use. */
  id: string;
  kind: ComponentKind;
  /** semver range of @supermask/core the plugin works with, e.g. "^0.1.0". */
  core: string;
  /** JSON Schema of the component's options. */
  schema: JsonSchema;
  description?: string;
}

export interface PluginModule {
  manifest: PluginManifest | PluginManifest[];
  register(registry: Registry): void;
}

export const PLUGIN_MANIFEST_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['id', 'kind', 'core', 'schema'],
  properties: {
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$' },
    kind: { enum: [...COMPONENT_KINDS] },
    core: { type: 'string', minLength: 1 },
    schema: { type: 'object' },
    description: { type: 'string' },
  },
};

let validateManifest: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;

/** Finds a package's ESM entry file from `from` upwards (node_modules lookup, "exports" aware). */
export function resolvePackageEntry(name: string, from: string[]): string | undefined {
  for (const start of from) {
    let dir = resolvePath(start);
    for (;;) {
      const pkgDir = join(dir, 'node_modules', name);
      const pkgFile = join(pkgDir, 'package.json');
      if (existsSync(pkgFile)) {
        const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: unknown; main?: string };
        let entry: string | undefined;
        if (pkg.exports !== undefined) entry = resolveExports(pkg as never, '.', { conditions: ['import', 'node', 'default'] })?.[0];
        entry ??= pkg.main ?? 'index.js';
        return join(pkgDir, entry);
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return undefined;
}

export interface LoadedPlugin {
  name: string;
  version: string | undefined;
  manifests: PluginManifest[];
}

/**
 * Loads plugin packages by name, checks each manifest (fields, JSON Schema of the options, the
 * @supermask/core version range), registers the components and checks that the package
 * registered what its manifest declares. Every problem is a ConfigError naming the package
 * (exit code 2), raised before anything runs.
 */
export async function loadPlugins(names: readonly string[], registry: Registry, searchFrom: string[]): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  const version = coreVersion();
  for (const [i, name] of names.entries()) {
    const field = `plugins[${i}]`;
    const entry = resolvePackageEntry(name, searchFrom);
    if (!entry) {
      throw new ConfigError(`plugin package "${name}" is not installed`, [
        `${field}: cannot find ${name} in node_modules above ${searchFrom.join(' or ')}; install it (npm install ${name}) next to your config`,
      ]);
    }
    let mod: Partial<PluginModule>;
    try {
      mod = (await import(pathToFileURL(entry).href)) as Partial<PluginModule>;
    } catch (error) {
      throw new ConfigError(`plugin package "${name}" failed to load`, [`${field}: ${entry}: ${(error as Error).message.split('\n')[0]}`]);
    }
    if (mod.manifest === undefined || typeof mod.register !== 'function') {
      throw new ConfigError(`"${name}" is not a supermask plugin`, [`${field}: the package must export \`manifest\` and a \`register(registry)\` function`]);
    }
    const manifests = checkPluginManifests(mod.manifest, name, field, version);
    try {
      mod.register(registry);
    } catch (error) {
      if (error instanceof RegistryError) throw new ConfigError(`plugin ${name} could not register`, [`${field}: ${error.message}`]);
      throw error;
    }
    for (const manifest of manifests) {
      if (!registry.has(manifest.kind, manifest.id)) {
        throw new ConfigError(`plugin ${name} did not register what its manifest declares`, [`${field}: no ${manifest.kind} "${manifest.id}" was registered`]);
      }
    }
    let pkgVersion: string | undefined;
    const pkgFile = findPackageJson(entry);
    if (pkgFile) pkgVersion = (JSON.parse(readFileSync(pkgFile, 'utf8')) as { version?: string }).version;
    loaded.push({ name, version: pkgVersion, manifests });
  }
  return loaded;
}

/**
 * Validates what a plugin package exports as `manifest` (one manifest or a list): each against
 * the manifest schema, its `core` range against `coreVer`, its options schema compiled. Problems
 * are ConfigErrors naming the package and the config field (`field`, e.g. `plugins[0]`).
 */
export function checkPluginManifests(exported: unknown, name: string, field: string, coreVer: string = coreVersion()): PluginManifest[] {
  const manifests: unknown[] = Array.isArray(exported) ? exported : [exported];
  if (manifests.length === 0) throw new ConfigError(`invalid plugin manifest in ${name}`, [`${field} (${name}) manifest: an empty list declares no component`]);
  const validate = validateManifest ?? (validateManifest = createAjv().compile(PLUGIN_MANIFEST_SCHEMA));
  for (const [j, m] of manifests.entries()) {
    const where = `${field} (${name}) manifest${manifests.length > 1 ? `[${j}]` : ''}`;
    if (!validate(m)) throw new ConfigError(`invalid plugin manifest in ${name}`, formatAjvErrors(validate.errors, where));
    const manifest = m as PluginManifest;
    if (!semver.validRange(manifest.core)) throw new ConfigError(`invalid plugin manifest in ${name}`, [`${where}.core: "${manifest.core}" is not a semver range`]);
    if (!semver.satisfies(coreVer, manifest.core, { includePrerelease: true })) {
      throw new ConfigError(`plugin ${name} does not support this @supermask/core`, [
        `${where}.core: ${manifest.kind} "${manifest.id}" supports @supermask/core ${manifest.core}, but the installed version is ${coreVer}`,
      ]);
    }
    try {
      createAjv().compile(manifest.schema);
    } catch (error) {
      throw new ConfigError(`invalid plugin manifest in ${name}`, [`${where}.schema: not a valid JSON Schema: ${(error as Error).message}`]);
    }
  }
  return manifests as PluginManifest[];
}

function findPackageJson(file: string): string | undefined {
  let dir = dirname(file);
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) return p;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The `plugins` list of a raw config (validated as an array of package names). */
export function pluginNames(raw: unknown, file?: string): string[] {
  if (!raw || typeof raw !== 'object' || !('plugins' in raw)) return [];
  const plugins = (raw as { plugins: unknown }).plugins;
  if (!Array.isArray(plugins) || !plugins.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new ConfigError(`invalid config${file ? ` in ${file}` : ''}`, ['plugins: must be an array of npm package names'], file);
  }
  return plugins as string[];
}
