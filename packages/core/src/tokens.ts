/**
 * Injection tokens of the run container. Components are registered as factories under these
 * tokens (never through emitted `design:paramtypes` metadata, which esbuild/vitest do not emit),
 * so a component resolves its collaborators explicitly: `container.resolve(TOKENS.MaskScorer)`.
 */
export const TOKENS = {
  Registry: Symbol.for('supermask.Registry'),
  Rng: Symbol.for('supermask.Rng'),
  RunOptions: Symbol.for('supermask.RunOptions'),
  BackboneSpec: Symbol.for('supermask.BackboneSpec'),
  Backbone: Symbol.for('supermask.Backbone'),
  MaskScorer: Symbol.for('supermask.MaskScorer'),
  OwnershipPolicy: Symbol.for('supermask.OwnershipPolicy'),
  KnowledgeTransfer: Symbol.for('supermask.KnowledgeTransfer'),
  TaskInference: Symbol.for('supermask.TaskInference'),
  Strategy: Symbol.for('supermask.Strategy'),
  Logger: Symbol.for('supermask.Logger'),
} as const;

/** Options of a run that are not part of the experiment config (they come from the CLI). */
export interface RunOptions {
  /** --data-dir: directory holding dataset files. */
  dataDir?: string;
  /** Environment consulted for SUPERMASK_DATA (defaults to process.env). */
  env?: Record<string, string | undefined>;
}
