import * as tf from '@tensorflow/tfjs-core';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Experiment, ExportedModel, exportTaskModel, inputSize, readCheckpoint, resolveConfig } from '@supermask/core';
import { testRegistry } from './helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'supermask-ckpt-'));
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

const config = {
  name: 'resume',
  seed: 3,
  dataset: { id: 'fashion-mnist' },
  stream: { id: 'split', options: { tasks: 5, classes_per_task: 2, train_per_task: 1200, test_per_task: 200 } },
  backbone: { id: 'lenet', options: { hidden: [200, 100] } },
  strategy: { id: 'exssnet', options: { mask_phase: { epochs: 2, lr: 0.01, batch_size: 32 }, weight_phase: { epochs: 1, lr: 0.001, batch_size: 32 } } },
  mask_scorer: { id: 'topk', options: { density: 0.1 } },
  knowledge_transfer: { id: 'kkt', options: { k: 20, score_precision: 'float16' } },
};

function run(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Name, size and hash of every file in a directory. */
function snapshot(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .map((f) => `${f} ${statSync(join(dir, f)).size} ${createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')}`);
}

describe('checkpoints', () => {
  it('resumes a run killed (SIGKILL) in the middle of a task to the same accuracy matrix', async () => {
    const dir = tmp();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const reference = run(['run', '--config', file, '--out', join(dir, 'reference')]);
    expect(reference.stderr).not.toMatch(/error/);
    expect(reference.code).toBe(0);
    const expected = JSON.parse(readFileSync(join(dir, 'reference', 'results.json'), 'utf8'));

    const out = join(dir, 'killed');
    const child = spawn(process.execPath, [bin, 'run', '--config', file, '--out', out], { cwd: root, env, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // Wait until two tasks are checkpointed, then kill the process inside task 3.
    let completed = 0;
    const deadline = Date.now() + 120_000;
    while (completed < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      if (existsSync(join(out, 'checkpoint.json'))) completed = readCheckpoint(out).manifest.completed_tasks;
    }
    child.kill('SIGKILL');
    await exited;
    expect(completed).toBe(2);
    expect(existsSync(join(out, 'results.json'))).toBe(false);
    expect(readCheckpoint(out).manifest.completed_tasks).toBe(2);

    const resumed = run(['run', '--resume', out]);
    expect(resumed.stderr).toContain(`resuming ${out} after task 2 of 5`);
    expect(resumed.code).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.accuracy_matrix).toEqual(expected.accuracy_matrix);
    expect(results.forgetting).toBe(0);
    expect(results.resumed_from.completed_tasks).toBe(2);
    expect(results.tasks[4].transfer.chosen).toEqual(expected.tasks[4].transfer.chosen);
    // Only the newest tensors file is kept.
    expect(readdirSync(out).filter((f) => f.endsWith('.safetensors'))).toEqual(['checkpoint-task-0005.safetensors']);
  }, 300_000);

  it('refuses a truncated checkpoint with an error naming the file and leaves the run directory untouched', () => {
    const dir = tmp();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ ...config, stream: { id: 'split', options: { tasks: 2, train_per_task: 200, test_per_task: 50 } } }));
    const out = join(dir, 'run');
    expect(run(['run', '--config', file, '--out', out]).code).toBe(0);
    const tensors = join(out, 'checkpoint-task-0002.safetensors');
    truncateSync(tensors, statSync(tensors).size - 100);
    const before = snapshot(out);
    const r = run(['run', '--resume', out]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(tensors);
    expect(r.stderr).toMatch(/truncated/);
    expect(snapshot(out)).toEqual(before);
    // A broken manifest is named too.
    writeFileSync(join(out, 'checkpoint.json'), '{"format": "supermask-checkpoint"');
    const bad = run(['run', '--resume', out]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain(join(out, 'checkpoint.json'));
    const usage = run(['run', '--resume', out, '--seed', '4']);
    expect(usage.code).toBe(2);
  });

  it('exports a task model that reproduces the task accuracy exactly, and evaluates a run without task ids', async () => {
    const registry = testRegistry();
    const dir = tmp();
    // With superfluous outputs: the exported head keeps them and predictions leave them out.
    const resolved = resolveConfig({ ...config, stream: { id: 'split', options: { tasks: 3, train_per_task: 400, test_per_task: 150 } }, outputs: { superfluous: 6 } }, registry);
    const experiment = await Experiment.create({ config: resolved, registry, outDir: dir });
    let results;
    try {
      results = await experiment.run();
    } finally {
      experiment.dispose();
    }
    const resumed = await Experiment.resume(dir, { registry });
    try {
      for (const task of [0, 2]) {
        const modelDir = join(dir, `model-${task}`);
        await exportTaskModel(dir, task, modelDir, registry);
        const model = ExportedModel.load(modelDir, registry);
        const t = resumed.stream.tasks[task]!;
        const x = tf.tensor(t.test.x, [t.test.n, ...t.inputShape]);
        expect(model.manifest.num_outputs).toBe(model.manifest.num_classes + 6);
        expect(model.backbone.layers.at(-1)!.shape.at(-1)).toBe(model.manifest.num_classes + 6);
        const predicted = tf.tidy(() => {
          const logits = model.predict(x);
          expect(logits.shape).toEqual([t.test.n, model.manifest.num_classes]);
          return logits.argMax(1).dataSync() as Int32Array;
        });
        let correct = 0;
        for (let i = 0; i < t.test.n; i++) if (predicted[i] === t.test.y[i]) correct++;
        expect(correct / t.test.n).toBe(results.accuracy_matrix[2]![task]);
        expect(inputSize(model.manifest.input_shape)).toBe(784);
        x.dispose();
        model.dispose();
      }
      await expect(exportTaskModel(dir, 5, join(dir, 'nope'), registry)).rejects.toThrow(/task 6 cannot be exported: the checkpoint holds tasks 1\.\.3/);
    } finally {
      resumed.dispose();
    }
    const cli = run(['eval', dir, '--task-inference', 'oneshot', '--batch-size', '50']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/task inference oneshot \(batch 50\)/);
    // An ExSSNeT run with superfluous outputs: the measured-reliability warning only.
    expect(cli.stderr).toMatch(/^warning: task inference "oneshot" is known to be unreliable with strategy "exssnet": it identified 0\.0% .*"prototype" ranks tasks by their input statistics instead of the gradient, and "exhaustive" is exact/m);
    expect(cli.stderr).not.toMatch(/without superfluous outputs/);
    const evaluation = JSON.parse(readFileSync(join(dir, 'evaluation-oneshot.json'), 'utf8'));
    expect(evaluation.tasks).toHaveLength(3);
    expect(evaluation.average_accuracy_true).toBeCloseTo(results.average_accuracy, 12);
    const exported = run(['export', dir, '--task', '2', '--out', join(dir, 'cli-model')]);
    expect(exported.code).toBe(0);
    expect(existsSync(join(dir, 'cli-model', 'model.safetensors'))).toBe(true);
  });
});
