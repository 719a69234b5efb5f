import { InvalidArgumentError, Option } from 'commander';

/** The backends of `--backend` (core's BACKEND_CHOICES, which a test keeps equal; here so that --help needs no core). */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'cpu', 'cpu-plain', 'webgpu'] as const;

/** Parses a positive integer option value (commander argument parser). */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** The `--backend <name>` option (one of BACKEND_NAMES), with the command's help text. */
export function backendOption(description: string): Option {
  return new Option('--backend <name>', description).choices([...BACKEND_NAMES]);
}
