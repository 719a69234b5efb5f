import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import YAML from 'yaml';
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
  if (ext === '.yaml' || ext === '.yml') {
    let doc: ReturnType<typeof YAML.parseDocument>;
    try {
      doc = YAML.parseDocument(text);
    } catch (error) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${(error as Error).message}`, [], file);
    }
    // Warnings (an unknown !tag, most often a typo) are errors too: the value would be read as a plain string.
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw new ConfigError(`config file ${file} is not valid YAML: ${problem.message}`, [], file);
    try {
      return doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${(error as Error).message}`, [], file);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(error as Error).message}`, [], file);
  }
}

/** Loads, validates and resolves a config file. */
export function loadConfig(file: string, registry: Registry, opts: Omit<ResolveOptions, 'file'> = {}): ResolvedConfig {
  return resolveConfig(readConfigFile(file), registry, { ...opts, file });
}
