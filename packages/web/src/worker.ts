/**
 * The training worker: resolves the page's config against the registry's JSON Schemas, activates
 * the backend, runs core's Experiment (the same runner as the CLI) and posts progress, the
 * results after every task and, at the end, the masks. Keeps the page responsive while it trains.
 */
import { ConfigError, Experiment, resolveConfig, setRuntimeVersions, type Observer } from '@supermask/core/browser';
import { selectPageBackend } from './backend.js';
import { masksSafetensors } from './masks.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { createPageRegistry } from './registry.js';

declare const __SUPERMASK_CORE_VERSION__: string;

const post = (message: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(message, transfer);

setRuntimeVersions({ browser: self.navigator.userAgent, '@supermask/core': __SUPERMASK_CORE_VERSION__ });

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  if (event.data.type !== 'run') return;
  try {
    await run(event.data);
  } catch (error) {
    post({ type: 'error', message: String((error as Error)?.message ?? error) });
  }
};

async function run(request: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const registry = createPageRegistry(request.dataUrl);
  let config;
  try {
    config = resolveConfig(request.config, registry);
  } catch (error) {
    if (error instanceof ConfigError) return post({ type: 'invalid', message: error.message });
    throw error;
  }
  const backend = await selectPageBackend(request.backend);
  const progress: Observer = {
    id: 'web-progress',
    afterBatch: (b, run) =>
      post({
        type: 'progress',
        task: b.task.index,
        tasks: run.stream.tasks.length,
        phase: b.phase.name,
        epoch: b.epoch,
        epochs: b.phase.epochs,
        batch: b.batch,
        batches: b.batchesPerEpoch,
        loss: b.loss,
        trainAccuracy: b.trainAccuracy,
      }),
    afterTask: (_info, run) => post({ type: 'results', results: run.results(), final: false }),
  };
  const experiment = await Experiment.create({ config, registry, backend, observers: [progress] });
  try {
    post({
      type: 'started',
      backend: backend.backend,
      notes: backend.notes,
      config,
      tasks: experiment.stream.tasks.map((t) => ({ name: t.name, classes: [...t.classes] })),
    });
    const results = await experiment.run();
    post({ type: 'results', results, final: true });
    const bytes = masksSafetensors(experiment);
    post({ type: 'masks', bytes }, [bytes.buffer]);
  } finally {
    experiment.dispose();
  }
}
