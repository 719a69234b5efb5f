import { join } from 'node:path';
import YAML from 'yaml';
import { readCheckpoint, stateNames, countBits, writeFileAtomic } from '@supermask/core';

export const MODEL_CARD = 'README.md';

export interface ModelCardInfo {
  format: 'native' | 'tfjs' | 'onnx';
  /** Files of the model next to the card (names). */
  files: string[];
  runDir: string;
  /** 0-based task. */
  task: number;
}

/** Fraction of the task's mask bits that are set, over every masked layer (from the checkpoint). */
function maskDensity(ckpt: ReturnType<typeof readCheckpoint>, task: number): number {
  let kept = 0;
  let total = 0;
  for (const entry of ckpt.manifest.tensors) {
    const m = /^layer\/(.+)\/weight$/.exec(entry.name);
    if (!m) continue;
    const size = entry.shape.reduce((a, b) => a * b, 1);
    const bits = ckpt.tensors.get(stateNames.mask(m[1]!, task))?.bytes;
    if (!bits) continue;
    kept += countBits(bits, size);
    total += size;
  }
  return total === 0 ? 1 : kept / total;
}

const USAGE: Record<ModelCardInfo['format'], (inputShape: number[]) => string> = {
  native: () =>
    ["```ts", "import { ExportedModel } from '@supermask/core';", '// registry: a Registry with the backbone\'s package registered (e.g. createRegistry() of @supermask/cli)', "const model = ExportedModel.load('.', registry);", 'const logits = model.predict(x); // x: tf.Tensor [batch, ...input_shape]', '```'].join('\n'),
  tfjs: (shape) =>
    [
      '```js',
      "// Browser: const model = await tf.loadLayersModel('https://…/model.json');",
      "// Node without tfjs-node: fileModelLoader from @supermask/export",
      "const model = await tf.loadLayersModel(fileModelLoader('model.json'));",
      `const logits = model.predict(tf.zeros([1, ${shape.join(', ')}]));`,
      '```',
    ].join('\n'),
  onnx: (shape) =>
    [
      '```js',
      "const ort = require('onnxruntime-node'); // or onnxruntime-web, or Python onnxruntime",
      "const session = await ort.InferenceSession.create('model.onnx');",
      `const { logits } = await session.run({ input: new ort.Tensor('float32', data, [1, ${shape.join(', ')}]) });`,
      '```',
    ].join('\n'),
};

/**
 * Writes README.md, a model card with YAML front matter (task, classes, accuracy, density, source
 * run, licence), next to an exported model.
 */
export function writeModelCard(outDir: string, info: ModelCardInfo): string {
  const ckpt = readCheckpoint(info.runDir);
  const m = ckpt.manifest;
  const record = (m.tasks[info.task] ?? {}) as { name?: string; classes?: number[] };
  const accuracy = m.accuracy_matrix[m.completed_tasks - 1]?.[info.task] ?? null;
  const config = m.config as { name?: string; backbone?: { id?: string }; dataset?: { id?: string }; strategy?: { id?: string } };
  const front = {
    task: info.task + 1,
    task_name: record.name ?? `task ${info.task + 1}`,
    classes: record.classes ?? [],
    accuracy,
    density: maskDensity(ckpt, info.task),
    source_run: info.runDir,
    run_name: config.name,
    dataset: config.dataset?.id,
    backbone: config.backbone?.id,
    strategy: config.strategy?.id,
    format: info.format,
    files: info.files,
    input_shape: m.stream.input_shape,
    license: 'mit',
    library_name: info.format === 'tfjs' ? 'tfjs' : info.format === 'onnx' ? 'onnx' : 'supermask',
    created_at: new Date().toISOString(),
  };
  const body = [
    `# ${front.task_name}: task ${front.task} of ${config.name ?? 'a supermask run'}`,
    '',
    `A standalone classifier of task ${front.task} (classes ${front.classes.join(', ')}) of the continual-learning run \`${info.runDir}\`:`,
    `the ${front.backbone} backbone with the task's effective weights W * M (mask density ${(100 * front.density).toFixed(2)}%) and its batch-norm statistics, if any.`,
    accuracy === null ? '' : `Test accuracy of the task in the run: ${(100 * accuracy).toFixed(2)}%.`,
    '',
    `Input: float32 [batch, ${m.stream.input_shape.join(', ')}] (channels last), preprocessed as the run's dataset \`${front.dataset}\` delivers it; output: the logits of the task's ${front.classes.length || m.stream.num_classes} classes (argmax = predicted class index within the task).`,
    '',
    USAGE[info.format](m.stream.input_shape),
    '',
    'Licence: MIT (the weights); the training data keeps its own licence.',
    '',
  ].join('\n');
  const file = join(outDir, MODEL_CARD);
  writeFileAtomic(file, `---\n${YAML.stringify(front)}---\n\n${body}`);
  return file;
}
