// npm run bench:summary — the README's benchmark section, generated from bench/results/*.json
// (nothing typed by hand). With --write, replaces the text between the README's
// <!-- bench:start --> and <!-- bench:end --> markers. Results measured before the last change to a
// configs/ file their benchmark reads are warned about on stderr and in their README section;
// with --check the script exits 1 when any are.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '@supermask/core';
import { join } from 'node:path';
import { root } from './common.mjs';
import { loader, staleMessages, staleResults, utc } from './stale.mjs';

const stale = new Map(staleResults(root).map(({ name, stale }) => [name, stale]));
for (const [name, changes] of stale) for (const line of staleMessages(root, name, changes)) console.error(`warning: ${line}`);
/** The README line saying results NAME are older than configs they use (nothing when fresh). */
const staleNote = (name) => {
  const changes = stale.get(name) ?? [];
  if (!changes.length) return [];
  const configs = changes.map((c) => `\`${c.config}\` (${utc(c.changed)})`).join(', ');
  return [`**Stale:** measured ${utc(changes[0].measured)}, before the last change to ${configs}; rerun the command above and \`npm run bench:summary -- --write\`.`, ''];
};

const load = loader(root);
const pct = (v) => (v === null || v === undefined ? '' : `${(100 * v).toFixed(2)}`);
const num = (v, d = 1) => (v === null || v === undefined ? '' : Number(v).toFixed(d));
const table = (head, rows) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const out = [];
const section = (title, name, body, command = `npm run bench:${name}`) => {
  const d = load(name);
  if (!d) return;
  out.push(`### ${title}`, '', `\`${command}\` (${d.date?.slice(0, 10)}, ${d.machine?.cpus} cores; \`bench/results/${name}.json\`)`, '', ...staleNote(name), body(d), '');
};

section('Kernels: plain tfjs cpu against cpu + ONNX Runtime', 'kernels', (d) =>
  table(['kernel', 'case', 'cpu GFLOP/s', 'cpu-ort GFLOP/s', 'speedup'], d.rows.map((r) => [r.kernel, r.case, num(r.cpu_gflops, 2), num(r.cpu_ort_gflops, 1), `${num(r.speedup, 0)}x`])),
);
section('LeNet 300-100 training (density 0.1, batch 64)', 'lenet', (d) =>
  table(['backend', 'phase', 'samples/s'], d.rows.map((r) => [r.backend, r.phase, num(r.samples_per_second, 0)])),
);
section('ResNet-18 (nf 20, 32x32) training (density 0.1, batch 64)', 'resnet18', (d) =>
  [
    table(['backend', 'phase', 'steps', 'samples/s', 'load average (1 min) at the start'], d.rows.map((r) => [r.backend, r.phase, String(r.steps ?? ''), num(r.samples_per_second, 3), num(r.load_average, 2)])),
    '',
    `${(d.speedups ?? []).map((s) => `${s.phase} phase: cpu-ort is ${num(s.speedup, 0)}x plain cpu.`).join(' ')} The rows ran one after the other; where their load averages differ, so does the share of the 2 cores each got, and the ratio with it.`,
  ].join('\n'),
);
section('ResNet-18 accuracy: fused conv + batch-norm units against op by op (Split Fashion-MNIST)', 'resnet18-accuracy', (d) => {
  const names = { 'op-by-op': 'op by op', 'fused-dense': 'fused, dense units', fused: 'fused, sparse units' };
  const presentIn = (config) => Object.keys(names).filter((p) => (d.seeds ?? []).every((seed) => d.runs.some((r) => r.config === config && r.path === p && r.seed === seed)));
  const present = Object.keys(names).filter((p) => (d.rows ?? []).some((s) => presentIn(s.config).includes(p)));
  const fusedPaths = present.filter((p) => p !== 'op-by-op');
  const field = (p) => p.replace(/-/g, '_');
  return [
    `Average accuracy (%) of each config on each path, seeds ${(d.seeds ?? []).join(' ')}, backend ${d.backend}; a run recorded by an earlier sitting says so in \`runs[].from\`.`,
    '',
    table(
      ['config', 'seed', ...present.map((p) => names[p]), ...(present.includes('op-by-op') ? fusedPaths.map((p) => `${names[p]} - op by op (points)`) : [])],
      (d.rows ?? []).flatMap((s) => {
        const run = (p, seed) => d.runs.find((r) => r.config === s.config && r.path === p && r.seed === seed);
        const here = presentIn(s.config);
        const compared = (p) => here.includes(p) && here.includes('op-by-op');
        const cell = (p, seed) => (here.includes(p) ? num(100 * run(p, seed).average_accuracy, 2) : '');
        const diff = (p, seed) => (compared(p) ? num(100 * (run(p, seed).average_accuracy - run('op-by-op', seed).average_accuracy), 2) : '');
        const meanOf = (p) => (here.includes(p) ? `${num(s[`${field(p)}_mean`], 2)} ± ${num(s[`${field(p)}_sd`], 2)}` : '');
        const diffOf = (p) => (compared(p) ? `${num(s[`${field(p)}_minus_op_by_op_mean`], 2)} ± ${num(s[`${field(p)}_minus_op_by_op_sd`], 2)}` : '');
        const diffs = present.includes('op-by-op') ? fusedPaths : [];
        return [
          ...(d.seeds ?? []).map((seed) => [s.config.replace(/\.json$/, ''), String(seed), ...present.map((p) => cell(p, seed)), ...diffs.map((p) => diff(p, seed))]),
          [s.config.replace(/\.json$/, ''), 'mean ± sd', ...present.map(meanOf), ...diffs.map(diffOf)],
        ];
      }),
    ),
  ].join('\n');
});
section('Against PyTorch on the same machine, measured alternately (density 0.1, batch 64)', 'vs-pytorch', (d) =>
  [
    `PyTorch ${d.peer?.torch} on ${d.peer?.threads} threads (\`bench/peer/supermask_peer.py\`); best of ${d.rounds} alternating rounds each; load average at the end ${(d.load_average_end ?? []).map((l) => num(l, 2)).join(' ')}.`,
    '',
    table(
      ['network', 'phase', 'project samples/s', 'PyTorch samples/s', 'project / PyTorch', ...(d.cpu_time ? ['project CPU ms a step', 'PyTorch CPU ms a step', 'CPU-time ratio'] : []), ...(d.op_by_op ? ['project op by op samples/s'] : []), ...(d.no_nchwc ? ['project without NCHWc samples/s', 'without NCHWc CPU ms a step'] : [])],
      d.rows.map((r, i) => {
        const c = d.cpu_time?.find((e) => e.net === r.net && e.phase === r.phase);
        const cpu = d.cpu_time ? [num(c?.project_ms_per_step, 0), c?.pytorch_ms_per_step == null ? '' : num(c.pytorch_ms_per_step, 0), c?.ratio == null ? '' : `${num(c.ratio, 2)}x`] : [];
        return [r.net, r.phase, num(r.project, 1), r.pytorch === null ? 'not run' : num(r.pytorch, 1), r.ratio === null ? '' : `${num(r.ratio, 2)}x`, ...cpu, ...(d.op_by_op ? [num(d.op_by_op[i]?.samples_per_second, 1)] : []), ...(d.no_nchwc ? [num(d.no_nchwc[i]?.samples_per_second, 1), num(d.no_nchwc[i]?.cpu_ms_per_step, 0)] : [])];
      }),
    ),
  ].join('\n'),
);
section('ResNet-18 over a 20-task stream (5 classes per task, ExSSNeT)', 'resnet-stream', (d) =>
  [
    `${d.tasks} tasks, ${d.train_per_task} training / ${d.test_per_task} test images per task, backend ${d.backend}; average accuracy ${pct(d.average_accuracy)}%, forgetting ${d.forgetting}.`,
    '',
    table(['measure', ...Object.keys(d.summary[0]).filter((k) => k !== 'measure')], d.summary.map((r) => [r.measure, ...Object.entries(r).filter(([k]) => k !== 'measure').map(([, v]) => num(v, 2))])),
  ].join('\n'),
);
section('SupSup against ExSSNeT by density (Split Fashion-MNIST, 5 x 2, LeNet)', 'density', (d) =>
  [table(['method', 'density', 'average accuracy (%)', 'forgetting'], d.rows.map((r) => [r.method, r.density, pct(r.average_accuracy), r.forgetting])), '', table(['density', 'ExSSNeT - SupSup (points)'], d.gains.map((g) => [g.density, num(g.exssnet_minus_supsup_points, 2)]))].join('\n'),
);
const strategiesTable = (d) => [
  `${d.seeds.length > 1 ? 'Seeds' : 'Seed'} ${d.seeds.join(', ')}; training images per task: ${d.train_per_task === 'all' ? 'all 12,000' : `${d.train_per_task} (BENCH_TRAIN_PER_TASK)`}; ${d.combined_from ? `combined (BENCH_COMBINE) from the runs recorded in ${d.combined_from.map((n) => `\`${n}.json\``).join(' and ')}, load average ${num(d.run_load_average[0], 1)} to ${num(d.run_load_average[1], 1)} during the runs` : `load average ${num(d.load_average.start[0], 1)} at the start`}. Capacity per task: the mask density (\`topk\`), \`kept_fraction\` for PackNet.`,
  '',
  table(
    ['method', 'capacity per task', 'average accuracy (%, mean ± sd)', 'forgetting', 'capacity used', 'seconds per task'],
    d.rows.map((r) => [r.method, r.density, d.seeds.length > 1 ? `${pct(r.average_accuracy)} ± ${pct(r.average_accuracy_sd)}` : pct(r.average_accuracy), r.forgetting, num(r.capacity_used, 3), num(r.seconds_per_task, 1)]),
  ),
];
section('Strategies as packages: SupSup, ExSSNeT, WSN, WSN + KKT, PackNet (Split Fashion-MNIST, 5 x 2, LeNet)', 'strategies', (d) => {
  const full = load('strategies-full-seed0');
  return [
    ...strategiesTable(d),
    ...(full && d.train_per_task !== 'all' ? ['', `The same on the full data, one seed (\`BENCH_SEEDS=0 BENCH_RESULTS=strategies-full-seed0\`, ${full.date.slice(0, 10)}; \`bench/results/strategies-full-seed0.json\`):`, '', ...staleNote('strategies-full-seed0'), ...strategiesTable(full)] : []),
    '',
    'Capacity used: fraction of the network\'s weights owned by some task after the last one. PackNet owns exactly `kept_fraction` of every layer per task; the mask methods reuse weights earlier masks hold, and with KKT a task starts from an earlier task\'s scores, so its mask overlaps more. Seconds per task were measured on a shared, loaded machine: compare them within one table only.',
  ].join('\n');
});
section('KKT (Rotated Fashion-MNIST, 5 tasks x 10 classes, ExSSNeT)', 'kkt', (d) => {
  const seeds = d.seeds ?? [d.seed];
  const first = seeds[0];
  const sizes = [d.train_per_task].flat();
  const size = (r) => r.train_per_task ?? sizes[0];
  return [
    `Training images per task: ${sizes.join(', ')}; ${d.test_per_task} test images per task; seeds ${seeds.join(', ')}; figures are means over the seeds (a task that never reaches the target within the mask epochs counts as one epoch more).`,
    '',
    table(
      ['train/task', 'kkt', 'average accuracy (%)', 'minus none, per seed (points)', 'mask epochs to 95% of the no-KKT accuracy, per task', 'capacity used after the last task (%)', 'forgetting'],
      d.rows.map((r) => [
        size(r),
        r.kkt,
        r.average_accuracy_sd === undefined ? pct(r.average_accuracy) : `${pct(r.average_accuracy)} ± ${pct(r.average_accuracy_sd)}`,
        (r.minus_none_per_seed ?? []).map((v) => (100 * v).toFixed(2)).join(' '),
        r.epochs_to_target.map((e) => (typeof e === 'number' ? num(e, Number.isInteger(e) ? 0 : 2) : e)).join(' '),
        pct(r.capacity_used),
        r.forgetting,
      ]),
    ),
    '',
    ...(d.per_seed
      ? [table(['train/task', 'seed', 'kkt', 'average accuracy (%)', 'mask epochs to target, per task'], d.per_seed.map((r) => [size(r), r.seed, r.kkt, pct(r.average_accuracy), r.epochs_to_target.join(' ')])), '']
      : []),
    `Seed ${first}, per task:`,
    '',
    table(
      ['train/task', 'kkt', 'task', 'test accuracy after each mask epoch', 'final', 'exclusive share of the mask', 'chosen', 'k-NN accuracy per earlier task'],
      d.per_task
        .filter((r) => (r.seed ?? first) === first)
        .map((r) => [size(r), r.kkt, r.task, (r.mask_epoch_accuracy ?? []).join(' '), r.final_accuracy ?? '', r.exclusive_fraction ?? '', r.chosen, (r.knn_accuracy || []).join?.(' ') ?? '']),
    ),
  ].join('\n');
});
const taskInferenceTable = (d) =>
  [
    `Training images per task: ${[d.train_per_task].flat().join(', ')}; test images per task: ${d.test_per_task}; seed ${d.seed}. Seconds per test batch measured side by side in one process (choosing the task and predicting the batch; the fastest of ${d.repeats ?? 1} passes); cost = seconds per batch over one-shot's on the same model.${d.timing_rounds ? ` Choice = the task choice alone on one batch of the last task, median of ${d.timing_rounds} rounds in which the methods take turns${d.timing_tasks?.length ? `; the same rounds time it on the model's first k = ${d.timing_tasks.join(', ')} tasks too (growth = time with all tasks over time with k)` : ''}.` : ''}`,
    '',
    table(
      ['strategy', 'tasks', 'train/task', 'superfluous outputs', 'inference', 'task-id accuracy (%)', 'average accuracy (%)', 's per batch', 'cost vs one-shot', 'choice ms (median)', 'choice vs one-shot', 'choice time vs the first k tasks', 'task-id accuracy per task (%)'],
      d.rows.map((r) => [
        r.strategy,
        r.tasks ?? 10,
        r.train_per_task ?? d.train_per_task,
        r.superfluous_outputs ?? 0,
        r.error ? `${r.inference} (cannot run: ${r.error})` : r.inference,
        pct(r.task_id_accuracy),
        pct(r.average_accuracy),
        num(r.seconds_per_batch, 4),
        num(r.cost_vs_oneshot, 2),
        num(r.infer_ms_median, 2),
        num(r.infer_vs_oneshot, 3),
        Object.entries(r.infer_growth ?? {}).map(([k, g]) => `${num(g, 2)}x (k = ${k})`).join(' '),
        (r.per_task_id_accuracy ?? []).length <= 10 ? r.per_task_id_accuracy.map((a) => (100 * a).toFixed(1)).join(' ') : `min ${(100 * Math.min(...r.per_task_id_accuracy)).toFixed(1)}`,
      ]),
    ),
  ].join('\n');
for (const [name, env, note] of [
  ['task-inference', 'BENCH_TASKS=10 BENCH_TRAIN_PER_TASK=all BENCH_TEST_PER_TASK=512 BENCH_SUPERFLUOUS=90,0 BENCH_REPEATS=3 BENCH_METHODS=oneshot,binary,exhaustive,contrast,prototype,prototype-2', 'all training images (the setting of issue 21)'],
  ['task-inference-50', 'BENCH_TASKS=10,50 BENCH_TRAIN_PER_TASK=1000 BENCH_TEST_PER_TASK=256 BENCH_SUPERFLUOUS=0 BENCH_REPEATS=3 BENCH_TIMING_TASKS=10 BENCH_METHODS=oneshot,exhaustive,contrast,prototype,prototype-2 BENCH_RESULTS_NAME=task-inference-50', 'cost from 10 to 50 tasks'],
  [
    'task-inference-wsn-packnet',
    'BENCH_STRATEGIES=wsn,packnet BENCH_TASKS=10 BENCH_TRAIN_PER_TASK=all BENCH_TEST_PER_TASK=512 BENCH_SUPERFLUOUS=0 BENCH_METHODS=oneshot,exhaustive,contrast,prototype,prototype-2 BENCH_RESULTS_NAME=task-inference-wsn-packnet',
    'WSN and PackNet (their split-fmnist recipes on the permuted data)',
  ],
  [
    'task-inference-superfluous',
    'BENCH_TASKS=10 BENCH_TRAIN_PER_TASK=1000,20000 BENCH_TEST_PER_TASK=500 BENCH_SUPERFLUOUS=0,90 BENCH_METHODS=oneshot,prototype BENCH_RESULTS_NAME=task-inference-superfluous',
    'average accuracy with and without superfluous outputs (oracle rows)',
  ],
]) {
  section(`Task inference (Permuted Fashion-MNIST, 10 classes per task, LeNet, test batch 128)${note ? `: ${note}` : ''}`, name, taskInferenceTable, `${env} npm run bench:task-inference`);
}
section(
  'Task inference on Split Fashion-MNIST (5 tasks of 2 classes, LeNet, test batch 128): tasks whose input distributions are closer',
  'task-inference-split',
  taskInferenceTable,
  'BENCH_STREAM=split BENCH_STRATEGIES=supsup,exssnet,wsn,packnet BENCH_TRAIN_PER_TASK=all BENCH_TEST_PER_TASK=1000 BENCH_SUPERFLUOUS=0 BENCH_METHODS=oneshot,exhaustive,contrast,prototype,prototype-2 BENCH_RESULTS_NAME=task-inference-split npm run bench:task-inference',
);
section('100 tasks on one network (Permuted Fashion-MNIST, 1,000 / 500 images per task, LeNet)', '100-tasks', (d) =>
  [
    table(
      ['strategy', 'tasks', 'average accuracy (%)', 'forgetting', 's/task, tasks 1-10', 's/task, last 10', 'train s/task 1-10', 'train s/task last 10', 'task inference', 'task-id accuracy (%)', 's per test batch'],
      d.rows.map((r) => [
        r.strategy,
        r.tasks,
        pct(r.average_accuracy),
        r.forgetting,
        num(r.seconds_per_task_1_10, 2),
        num(r.seconds_per_task_last_10, 2),
        num(r.train_seconds_1_10, 2),
        num(r.train_seconds_last_10, 2),
        r.inference ?? '',
        pct(r.task_id_accuracy),
        num(r.inference_seconds_per_batch, 3),
      ]),
    ),
    '',
    table(['strategy', 'after task', 'RSS (MB)', 'tf.memory().numTensors', 'checkpoint (MB)', 'checkpoint bytes per task', 'task state bytes'], d.memory.map((r) => [r.strategy, r.after_task, num(r.rss_mb, 0), r.num_tensors, num(r.checkpoint_mb, 2), num(r.checkpoint_bytes_per_task, 0), r.task_state_bytes])),
  ].join('\n'),
);
section('Text: SupSup against ExSSNeT on the local multi-domain stream', 'text', (d) =>
  [
    table(['strategy', 'average accuracy (%)', 'forgetting', 'seconds per task', 'backend'], d.summary.map((r) => [r.strategy, pct(r.average_accuracy), r.forgetting, r.seconds_per_task.join(' '), r.backend])),
    '',
    'Accuracy matrices (%, row = after task):',
    '',
    table(['strategy', 'after task', ...d.runs[0].accuracy_matrix.map((_, j) => `task ${j + 1}`)], d.runs.flatMap((run) => run.accuracy_matrix.map((row, i) => [run.strategy, i + 1, ...row.map((a) => (a === null ? '' : pct(a)))]))),
    '',
    'Feature cache (BERT is frozen, so its features are computed once and cached):',
    '',
    table(['second mask epoch of task 1', 'seconds', 'examples'], d.second_epoch.map((r) => [r.variant, num(r.second_epoch_seconds, 2), r.examples])),
  ].join('\n'),
);

const text = out.join('\n').trimEnd();
if (process.argv.includes('--write')) {
  const readme = join(root, 'README.md');
  const s = readFileSync(readme, 'utf8');
  const start = s.indexOf('<!-- bench:start -->');
  const end = s.indexOf('<!-- bench:end -->');
  if (start < 0 || end < 0) throw new Error('README.md lacks the <!-- bench:start --> / <!-- bench:end --> markers');
  writeFileAtomic(readme, `${s.slice(0, start + '<!-- bench:start -->'.length)}\n${text}\n${s.slice(end)}`);
  console.log(`README.md benchmark section rewritten from bench/results`);
} else console.log(text);
if (process.argv.includes('--check') && [...stale.values()].some((changes) => changes.length)) {
  console.error('bench:summary --check: some results are older than the configs they use (warnings above)');
  process.exit(1);
}
