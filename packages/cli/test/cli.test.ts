import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_FASHION_MNIST_DIR } from '@supermask/datasets';
import { main, type CliIo } from '@supermask/cli';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'supermask-cli-'));

/** Runs the built CLI in a child process (real exit code). */
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI in this process, capturing its output. */
async function cliInProcess(args: string[], env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), isTTY: false, env };
  const code = await main(args, io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

function writeConfig(dir: string, config: unknown, name = 'config.json'): string {
  const file = join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

const smallConfig = (source: 'embedded' | 'full' = 'embedded') => ({
  name: 'small',
  seed: 0,
  dataset: { id: 'fashion-mnist', options: { source } },
  stream: { id: 'split', options: { tasks: 2, classes_per_task: 2, train_per_task: 256, test_per_task: 100 } },
  backbone: { id: 'lenet', options: { hidden: [64, 32] } },
  strategy: { id: 'supsup', options: { mask_phase: { epochs: 1, lr: 0.01, batch_size: 64 } } },
  mask_scorer: { id: 'topk', options: { density: 0.1 } },
});

describe('supermask CLI', () => {
  it('runs a config end to end on the embedded data and prints the accuracy matrix', () => {
    const dir = tmp();
    const out = join(dir, 'run');
    const r = cli(['run', '--config', writeConfig(dir, smallConfig()), '--out', out, '--backend', 'cpu-plain']);
    expect(r.stderr).toMatch(/^backend: cpu$/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/accuracy matrix/);
    expect(r.stdout).toMatch(/forgetting 0\.00 points/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.backend).toBe('cpu');
    expect(results.accuracy_matrix).toHaveLength(2);
    expect(results.config.backend).toBe('cpu-plain');
    // Not a TTY: plain lines, no progress-bar control characters.
    expect(r.stderr).not.toMatch(/\u001b\[/);
    expect(r.stderr).toMatch(/mask phase epoch 1\/1: loss/);
  });

  it('exits 2 on an invalid config and names the field and what was expected', async () => {
    const dir = tmp();
    const bad = smallConfig() as Record<string, any>;
    bad.strategy.options.mask_phase.lr = 'fast';
    bad.strategy.options.mask_phase.epoch = 3;
    const file = writeConfig(dir, bad);
    const r = cli(['run', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('strategy.options.mask_phase.lr: must be number, got "fast"');
    expect(r.stderr).toContain('strategy.options.mask_phase.epoch: unknown field');
    expect(r.stderr).toContain(file);
  });

  it('exits 2 on a wrong top-level field, an unknown component and unparsable files', async () => {
    const dir = tmp();
    let r = await cliInProcess(['run', '--config', writeConfig(dir, { ...smallConfig(), seed: -1 })]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/seed: must be >= 0/);
    r = await cliInProcess(['run', '--config', writeConfig(dir, { ...smallConfig(), backbone: { id: 'resnet-1000' } })]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/backbone\.id: no backbone is registered as "resnet-1000"; registered: .*\blenet\b/);
    const noStream = smallConfig() as Record<string, unknown>;
    delete noStream.stream;
    r = await cliInProcess(['run', '--config', writeConfig(dir, noStream)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stream: required field is missing/);
    r = await cliInProcess(['run', '--config', writeConfig(dir, '{ "seed": 0, ', 'broken.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.json is not valid JSON/);
    r = await cliInProcess(['run', '--config', writeConfig(dir, 'seed: [1\n', 'broken.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.yaml is not valid YAML/);
    r = await cliInProcess(['run', '--config', join(dir, 'absent.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/absent\.json: no such file/);
  });

  it('reads YAML configs', async () => {
    const dir = tmp();
    const yaml = `name: yaml-run\nseed: 1\ndataset: { id: fashion-mnist }\nstream: { id: split, options: { tasks: 1, train_per_task: 64, test_per_task: 20 } }\nbackbone: { id: lenet, options: { hidden: [16] } }\nstrategy: { id: supsup }\n`;
    const r = await cliInProcess(['run', '--config', writeConfig(dir, yaml, 'c.yaml'), '--out', join(dir, 'run'), '--backend', 'cpu']);
    expect(r.code).toBe(0);
    const results = JSON.parse(readFileSync(join(dir, 'run', 'results.json'), 'utf8'));
    expect(results.name).toBe('yaml-run');
    expect(results.config.strategy.options.mask_phase.lr).toBe(0.01);
  });

  it('exits 3 when the full dataset is missing and lists the places searched', () => {
    const dir = tmp();
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const r = cli(['run', '--config', writeConfig(dir, smallConfig('full')), '--data-dir', empty, '--out', join(dir, 'run')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(empty);
    expect(r.stderr).toContain('SUPERMASK_DATA');
    expect(r.stderr).toContain('/usr/share/datasets/fashion-mnist');
    expect(r.stderr).toMatch(/apt-get install dataset-fashion-mnist/);
    // Nothing half-written.
    expect(() => statSync(join(dir, 'run', 'results.json'))).toThrow();
  });

  it('exits 3 on a truncated IDX file and names it', () => {
    const dir = tmp();
    const data = join(dir, 'data');
    mkdirSync(data);
    for (const f of readdirSync(EMBEDDED_FASHION_MNIST_DIR).filter((n) => n.endsWith('.gz'))) copyFileSync(join(EMBEDDED_FASHION_MNIST_DIR, f), join(data, f));
    const victim = join(data, 'train-images-idx3-ubyte.gz');
    truncateSync(victim, Math.floor(statSync(victim).size / 2));
    const r = cli(['run', '--config', writeConfig(dir, smallConfig('full')), '--data-dir', data, '--out', join(dir, 'run')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(victim);
  });

  it('evaluates without task ids at the end of a run with --task-inference', async () => {
    const dir = tmp();
    const config = {
      ...smallConfig(),
      stream: { id: 'permuted', options: { tasks: 2, train_per_task: 512, test_per_task: 64 } },
      backbone: { id: 'lenet', options: { hidden: [64, 32] } },
    };
    const r = await cliInProcess(['run', '--config', writeConfig(dir, config), '--out', join(dir, 'run'), '--task-inference', 'binary', '--inference-batch-size', '32']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/task inference binary \(batch 32\)/);
    expect(r.stderr).toMatch(/task inference "binary" without superfluous outputs: set outputs\.superfluous/);
    const results = JSON.parse(readFileSync(join(dir, 'run', 'results.json'), 'utf8'));
    expect(results.config.task_inference).toEqual({ id: 'binary', options: { batch_size: 32 } });
    expect(results.task_inference.tasks).toHaveLength(2);
    expect(results.task_inference.task_id_accuracy).toBeGreaterThan(0.9);
    const bad = await cliInProcess(['run', '--config', writeConfig(dir, config), '--task-inference', 'psychic']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/task_inference\.id: no task_inference is registered as "psychic"; registered: binary, contrast, exhaustive, oneshot, oracle, prototype/);
  });

  it('lists the registered components with their option schemas', async () => {
    const r = await cliInProcess(['list']);
    expect(r.code).toBe(0);
    for (const id of ['fashion-mnist', 'split', 'permuted', 'rotated', 'lenet', 'supsup', 'topk', 'frozen', 'oracle', 'none']) expect(r.stdout).toContain(id);
    expect(r.stdout).toMatch(/density: number = 0\.1/);
    const json = await cliInProcess(['list', '--json', '--kind', 'strategy']);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.map((d: { id: string }) => d.id)).toEqual(['exssnet', 'packnet', 'recipe', 'ssnet', 'supsup', 'wsn']);
    expect(parsed[3].schema.properties.mask_phase).toBeDefined();
    expect(parsed[1].schema.properties.kept_fraction).toBeDefined();
  });

  it('rejects bad command-line values with a usage error', async () => {
    const r = cli(['run', '--config', 'x.json', '--backend', 'gpu9000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are auto, tensorflow, cpu, cpu-plain/);
  });
});

describe('committed configs', () => {
  it('every config in configs/ validates against the registered components', async () => {
    const { createRegistry } = await import('@supermask/cli');
    const { loadConfig } = await import('@supermask/core');
    const files = readdirSync(join(root, 'configs')).filter((f) => /\.(json|ya?ml)$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const config = loadConfig(join(root, 'configs', f), createRegistry());
      expect(config.name).toBeTruthy();
    }
  });
});

describe('docs/config-reference.md', () => {
  it('is what `supermask list --markdown` generates from the registered schemas', async () => {
    const { createRegistry, configReferenceMarkdown } = await import('@supermask/cli');
    const committed = readFileSync(join(root, 'docs', 'config-reference.md'), 'utf8');
    // Regenerate with: node packages/cli/dist/bin.js list --markdown > docs/config-reference.md
    expect(committed).toBe(configReferenceMarkdown(createRegistry()));
  });
});
