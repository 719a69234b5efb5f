/**
 * Injection tokens of the run container. Components are registered as factories under these
 * tokens (never through emitted `design:paramtypes` metadata, which esbuild/vitest do not emit),
 * so a component resolves its collaborators explicitly. Each config slot's component is registered
 * under its slot's token (`CONFIG_SLOTS.mask_scorer.token`, see slots.ts).
 */
export const TOKENS = {
  Registry: Symbol.for('supermask.Registry'),
  Rng: Symbol.for('supermask.Rng'),
  RunOptions: Symbol.for('supermask.RunOptions'),
  BackboneSpec: Symbol.for('supermask.BackboneSpec'),
  Logger: Symbol.for('supermask.Logger'),
  /** The running Experiment (built-in observers write results and checkpoints through it). */
  Run: Symbol.for('supermask.Run'),
} as const;

/** Options of a run that are not part of the experiment config (they come from the CLI). */
export interface RunOptions {
  /** --data-dir: directory holding dataset files. */
  dataDir?: string;
  /** Environment consulted for SUPERMASK_DATA (defaults to process.env). */
  env?: Record<string, string | undefined>;
}
