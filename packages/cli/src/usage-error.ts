/** A command-line mistake: exit code 2. (Its own module: main.ts imports it without loading core.) */
export class UsageError extends Error {
  readonly exitCode = 2;
}
