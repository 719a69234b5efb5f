/**
 * What a user types into a config: the file's text (syntax errors with line and column), dotted
 * command-line overrides (`--set strategy.options.mask_phase.epochs=3`) and "did you mean"
 * suggestions for misspelt fields and ids.
 */
import YAML from 'yaml';
import { ConfigError } from './errors.js';

/** Levenshtein distance (insertions, deletions, substitutions; each costs 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to `word` (case-insensitive edit distance), if it is close enough to be a
 * likely misspelling: at most a third of the longer word's length, and at least 1 edit allowed.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  const limit = Math.max(1, Math.floor(Math.max(word.length, best?.length ?? 0) / 3));
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

/** `; did you mean "x"?` for a likely misspelling of one of `candidates`, else ''. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = closestMatch(word, candidates);
  return match !== undefined && match !== word ? `; did you mean "${match}"?` : '';
}

/** 1-based line and column of a character offset in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}

/**
 * Parses a config file's text (YAML for .yaml/.yml, else JSON). A syntax error names the file,
 * the line and the column: `config.json:3:5: ...`.
 */
export function parseConfigText(text: string, file: string, format: 'json' | 'yaml'): unknown {
  if (format === 'yaml') {
    const fail = (error: unknown): never => {
      const pos = (error as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
      const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
      throw new ConfigError(`${where}: config file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, [], file);
    };
    let doc: ReturnType<typeof YAML.parseDocument>;
    try {
      doc = YAML.parseDocument(text);
    } catch (error) {
      return fail(error);
    }
    // Warnings (an unknown !tag, most often a typo) are errors too: the value would be read as a plain string.
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) fail(problem);
    try {
      return doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      return fail(error);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    // V8 names the offending offset ("... in JSON at position 42"); a truncated file ends early.
    const position = /at position (\d+)/.exec(message);
    const offset = position ? Number(position[1]) : /end of JSON input/.test(message) ? text.length : undefined;
    const at = offset === undefined ? undefined : lineColumn(text, offset);
    const where = at ? `${file}:${at.line}:${at.column}` : file;
    throw new ConfigError(`${where}: config file ${file} is not valid JSON: ${message}`, [], file);
  }
}

/** A `--set path=value` value: JSON when it parses (3, true, [1,2], {"a":1}, "x"), else the string itself. */
export function parseOverrideValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Applies dotted overrides (`a.b.c=value`, in order) to a raw config, creating missing objects on
 * the way; numeric segments index existing arrays. The result is validated afterwards like the
 * file itself, so a wrong field or value is reported with its dotted path.
 */
export function applyOverrides(raw: unknown, overrides: readonly string[]): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('--set needs a config object at the top level');
  const config = raw as Record<string, unknown>;
  for (const override of overrides) {
    const eq = override.indexOf('=');
    const path = eq > 0 ? override.slice(0, eq) : '';
    const segments = path.split('.');
    if (eq <= 0 || segments.some((s) => s.length === 0)) {
      throw new ConfigError(`--set ${override}: expected PATH=VALUE with a dotted path, e.g. --set strategy.options.mask_phase.epochs=3`);
    }
    const value = parseOverrideValue(override.slice(eq + 1));
    let node: Record<string, unknown> | unknown[] = config;
    for (let i = 0; i < segments.length; i++) {
      const key = segments[i]!;
      const last = i === segments.length - 1;
      const here = segments.slice(0, i + 1).join('.');
      if (Array.isArray(node)) {
        const index = Number(key);
        if (!Number.isInteger(index) || index < 0 || index >= node.length) {
          throw new ConfigError(`--set ${path}: ${segments.slice(0, i).join('.')} is a list of ${node.length}; "${key}" is not an index in 0..${node.length - 1}`);
        }
        if (last) node[index] = value;
        else node = descend(node, index, here);
      } else {
        if (last) node[key] = value;
        else {
          if (node[key] === undefined) node[key] = {};
          node = descend(node, key, here);
        }
      }
    }
  }
  return config;
}

function descend(parent: Record<string, unknown> | unknown[], key: string | number, path: string): Record<string, unknown> | unknown[] {
  const child = (parent as Record<string | number, unknown>)[key];
  if (child === null || typeof child !== 'object') throw new ConfigError(`--set: ${path} is ${JSON.stringify(child)}, not an object or a list, so it has no fields to set`);
  return child as Record<string, unknown> | unknown[];
}
