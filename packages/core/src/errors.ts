/**
 * Errors that the CLI maps to exit codes and clear messages. Every error names the file or the
 * config field at fault and what was expected.
 */

/** A config (or plugin options) that does not match its schema. Exit code 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    /** One line per problem, each naming the field path, e.g. `strategy.options.mask_phase.lr`. */
    readonly problems: string[] = [],
    readonly file?: string,
  ) {
    super(problems.length > 0 ? `${message}\n${problems.map((p) => `  - ${p}`).join('\n')}` : message);
    this.name = 'ConfigError';
  }
}

/** Input data that is missing or malformed (dataset files, checkpoints). Exit code 3. */
export class DataError extends Error {
  readonly exitCode = 3;
  constructor(message: string, readonly file?: string) {
    super(message);
    this.name = 'DataError';
  }
}

/** A component that was asked for but is not registered, or a plugin that cannot load. Exit code 2. */
export class RegistryError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** Exit code for an error: the one it carries, else 1. */
export function exitCodeOf(error: unknown): number {
  if (error && typeof error === 'object' && 'exitCode' in error) {
    const code = (error as { exitCode: unknown }).exitCode;
    if (typeof code === 'number') return code;
  }
  return 1;
}

/** The first line of an error's message (for one-line warnings). */
export function firstLineOf(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}
