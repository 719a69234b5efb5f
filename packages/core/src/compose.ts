import { container as rootContainer, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import { selectBackend, type BackendSelection } from './backend.js';
import { outputWidth, type ResolvedComponentRef, type ResolvedConfig } from './config.js';
import type { Backbone, BackboneSpec, DatasetLoader, KnowledgeTransfer, MaskScorer, StreamBuilder, Strategy, TaskInference, WeightOwnershipPolicy } from './contracts.js';
import type { LabeledDataset, TaskStream } from './data.js';
import type { Observer } from './observer.js';
import type { PhaseKind } from './phase-kind.js';
import type { Registry } from './registry.js';
import { Rng } from './rng.js';
import { COMPONENT_SLOTS, CONFIG_SLOTS, OBSERVERS_SLOT } from './slots.js';
import { TOKENS, type RunOptions } from './tokens.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: Logger = { info: () => {}, warn: () => {} };

/** The components of a run, built from the config through the run's DI container. */
export interface Composition {
  container: DependencyContainer;
  backend: BackendSelection;
  rng: Rng;
  dataset: LabeledDataset;
  stream: TaskStream;
  backbone: Backbone;
  strategy: Strategy;
  scorer: MaskScorer;
  ownership: WeightOwnershipPolicy;
  transfer: KnowledgeTransfer;
  inference: TaskInference;
  /** The config's observers (slot `observers`), in order. */
  observers: Observer[];
  /** One instance per phase kind, created on first use. */
  phaseKind(id: string): PhaseKind;
  /** Phase kinds created so far, by id. */
  phaseKinds: Map<string, PhaseKind>;
  /** A component of `kind` built through the run's container (e.g. another task inference for `supermask eval`). */
  create<T>(kind: 'task_inference' | 'observer' | 'phase', ref: { id: string; options?: Record<string, unknown> }, path?: string): T;
}

/**
 * Selects the backend (unless the caller already activated one: `activated`), loads the data,
 * builds the stream and every component of the config's slots (CONFIG_SLOTS), binds the scorer
 * to every layer's masks, and creates the observers.
 */
export async function compose(
  config: ResolvedConfig,
  registry: Registry,
  logger: Logger,
  runOptions: RunOptions = {},
  parent: DependencyContainer = rootContainer,
  activated?: BackendSelection,
): Promise<Composition> {
  const backend = activated ?? (await selectBackend(config.backend));
  for (const note of backend.notes) logger.warn(note);
  const rng = new Rng(config.seed);
  const c = parent.createChildContainer();
  c.register(TOKENS.Registry, { useValue: registry });
  c.register(TOKENS.Rng, { useValue: rng });
  c.register(TOKENS.RunOptions, { useValue: runOptions });
  c.register(TOKENS.Logger, { useValue: logger });

  const loader = registry.get('dataset', config.dataset.id).create(config.dataset.options, c) as DatasetLoader;
  const dataset = await loader.load();
  const builder = registry.get('stream', config.stream.id).create(config.stream.options, c) as StreamBuilder;
  const stream = builder.build(dataset, rng.child('stream'));
  if (stream.tasks.length === 0) throw new Error(`stream "${config.stream.id}" produced no tasks`);
  const spec: BackboneSpec = { inputShape: stream.inputShape, numClasses: stream.numClasses, numOutputs: outputWidth(stream.numClasses, config) };
  c.register(TOKENS.BackboneSpec, { useValue: spec });
  for (const slot of COMPONENT_SLOTS) {
    if (slot === 'dataset' || slot === 'stream') continue;
    const ref = config[slot];
    const def = registry.get(CONFIG_SLOTS[slot].kind, ref.id);
    c.register(CONFIG_SLOTS[slot].token, { useFactory: instanceCachingFactory((dc) => def.create(ref.options, dc)) });
  }
  const resolve = <T>(slot: keyof typeof CONFIG_SLOTS) => c.resolve<T>(CONFIG_SLOTS[slot].token);
  const backbone = resolve<Backbone>('backbone');
  const scorer = resolve<MaskScorer>('mask_scorer');
  const densities = scorer.densities(backbone.layers);
  backbone.layers.forEach((layer, i) => layer.masks.bind(scorer, densities[i]!));
  const create = <T>(kind: 'task_inference' | 'observer' | 'phase', ref: { id: string; options?: Record<string, unknown> }, path: string = kind): T =>
    registry.get(kind, ref.id).create(registry.resolveOptions(kind, ref, path), c) as T;
  // Configs saved before observers existed get the default list.
  const observerRefs: ResolvedComponentRef[] = config.observers ?? OBSERVERS_SLOT.fallback.map((r) => ({ id: r.id, options: {} }));
  const phaseKinds = new Map<string, PhaseKind>();
  return {
    container: c,
    backend,
    rng,
    dataset,
    stream,
    backbone,
    strategy: resolve<Strategy>('strategy'),
    scorer,
    ownership: resolve<WeightOwnershipPolicy>('ownership_policy'),
    transfer: resolve<KnowledgeTransfer>('knowledge_transfer'),
    inference: resolve<TaskInference>('task_inference'),
    observers: observerRefs.map((ref, i) => create<Observer>('observer', ref, `observers[${i}]`)),
    phaseKinds,
    phaseKind(id) {
      let kind = phaseKinds.get(id);
      if (!kind) {
        kind = create<PhaseKind>('phase', { id }, `phase "${id}"`);
        phaseKinds.set(id, kind);
      }
      return kind;
    },
    create,
  };
}
