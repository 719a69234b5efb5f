import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseConfigText } from './config-input.js';
import { resolveConfig, type ResolveOptions, type ResolvedConfig } from './config.js';
import { ConfigError } from './errors.js';
import type { Registry } from './registry.js';

/** Reading config files (Node only; the browser entry resolves configs it already holds with resolveConfig). */

/** Reads a JSON or YAML config file; syntax errors name the file and the position. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, [], file);
  }
  const ext = extname(file).toLowerCase();
  return parseConfigText(text, file, ext === '.yaml' || ext === '.yml' ? 'yaml' : 'json');
}

/** Loads, validates and resolves a config file. */
export function loadConfig(file: string, registry: Registry, opts: Omit<ResolveOptions, 'file'> = {}): ResolvedConfig {
  return resolveConfig(readConfigFile(file), registry, { ...opts, file });
}
