import { InvalidArgumentError } from 'commander';

/** The backends of `--backend` (core's BACKEND_CHOICES, which a test keeps equal; here so that --help needs no core). */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'cpu', 'cpu-plain', 'webgpu'] as const;

/** Parses a positive integer option value (commander argument parser). */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}
