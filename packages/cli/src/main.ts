import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ResolvedConfig, TaskInference, BackendChoice, ComponentKind, Logger, Experiment as ExperimentInstance } from '@supermask/core';
import { BACKEND_NAMES, backendOption, parsePositiveInt } from './choices.js';
import type { JsonLinesLogger } from './progress.js';
import type { OwnedRunDir } from './run-dir.js';
import { registerSweepCommands } from './sweep-commands.js';
import { UsageError } from './usage-error.js';

export { BACKEND_NAMES };

// Heavy modules (TensorFlow.js, ONNX Runtime, the components, the report's charting libraries) are
// imported by the commands that use them, so that --help and --version start at once.
const loadCore = () => import('@supermask/core');
const loadRegistry = async () => (await import('./registry.js')).createRegistry();

/** The version of @supermask/cli (its package.json, next to src/ and dist/). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTTY: boolean;
  env: Record<string, string | undefined>;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(`${t}\n`),
  stderr: (t) => process.stderr.write(`${t}\n`),
  isTTY: Boolean(process.stderr.isTTY),
  env: process.env,
};

function parseSeed(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 4294967295) throw new InvalidArgumentError('expected an integer in 0..4294967295');
  return n;
}

interface RunFlags {
  config?: string;
  resume?: string;
  dataDir?: string;
  out?: string;
  seed?: number;
  backend?: BackendChoice;
  taskInference?: string;
  inferenceBatchSize?: number;
  logFormat?: 'text' | 'json';
  set?: string[];
  overwrite?: boolean;
}

/** Applies --task-inference and --inference-batch-size to a raw config (validated afterwards). */
function overrideTaskInference(raw: unknown, opts: RunFlags): void {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return;
  const config = raw as Record<string, unknown>;
  const current = (config.task_inference ?? {}) as { id?: string; options?: Record<string, unknown> };
  const id = opts.taskInference ?? current.id ?? 'oneshot';
  const sameComponent = current.id === id;
  const options = { ...(sameComponent ? (current.options ?? {}) : {}), ...(opts.inferenceBatchSize !== undefined ? { batch_size: opts.inferenceBatchSize } : {}) };
  config.task_inference = Object.keys(options).length > 0 ? { id, options } : { id };
}

/** `--backend` of `run` and `eval`. */
const backendHelp = 'tfjs backend: auto (fastest available), webgpu (GPU through Dawn), tensorflow (tfjs-node), cpu (ONNX Runtime kernels), cpu-plain (pure JS)';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Ends the help text of every mandatory option with "(required)". */
function markRequiredOptions(command: Command): void {
  for (const option of command.options) if (option.mandatory && !option.description.endsWith('(required)')) option.description += ' (required)';
  for (const sub of command.commands) markRequiredOptions(sub);
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let exitCode = 0;
  let jsonLog: JsonLinesLogger | undefined;
  const commandLine = ['supermask', ...argv].join(' ');
  const program = new Command()
    .name('supermask')
    .description('Continual learning with supermask subnetworks')
    .version(cliVersion(), '-V, --version', 'print the version of supermask')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s.trimEnd()), writeErr: (s) => io.stderr(s.trimEnd()) });

  program
    .command('run')
    .description('train a network on a task stream described by a config (JSON or YAML), or resume a run')
    .option('-c, --config <file>', 'experiment config (JSON or YAML)')
    .option('--resume <dir>', 'continue the run saved in this run directory (its checkpoint holds the config)')
    .option('--data-dir <dir>', 'directory holding the dataset files (else $SUPERMASK_DATA, else the system location)')
    .option('-o, --out <dir>', 'run directory for results.json, accuracy_matrix.csv and checkpoints (default runs/<name>-<time>)')
    .option('--overwrite', 'delete the run already held in the --out directory (results, checkpoints, evaluations, report) and start a new one there')
    .option('--seed <n>', 'override the config seed', parseSeed)
    .addOption(backendOption(backendHelp))
    .option('--task-inference <id>', 'evaluate without task ids at the end with this task_inference component (prototype, contrast, oneshot, binary, exhaustive)')
    .option('--inference-batch-size <n>', 'test batch size of the task inference', parsePositiveInt)
    .option('--set <path=value>', 'override one config field by its dotted path, e.g. strategy.options.mask_phase.epochs=3 (value: JSON, else a string; repeatable)', collect, [])
    .addOption(new Option('--log-format <format>', 'text: progress bars on a terminal, plain lines otherwise; json: one JSON object per line on stdout').choices(['text', 'json']).default('text'))
    .action(async (opts: RunFlags) => {
      const { Experiment, applyOverrides, loadPlugins, newRunId, pluginNames, readConfigFile, resolveConfig } = await loadCore();
      const runDirs = await import('./run-dir.js');
      const { JsonLinesLogger, ProgressReporter } = await import('./progress.js');
      const { formatAccuracyMatrix, formatTaskInference } = await import('./format.js');
      const registry = await loadRegistry();
      const json = opts.logFormat === 'json' ? new JsonLinesLogger((line) => io.stdout(line)) : undefined;
      jsonLog = json;
      const progress = json ? undefined : new ProgressReporter((line) => io.stderr(line), io.isTTY);
      const say = (m: string) => (json ? json.emit('info', { message: m }) : progress!.log(m));
      const logger: Logger = json
        ? { info: (m) => json.emit('info', { message: m }), warn: (m) => json.emit('warning', { message: m }) }
        : { info: (m) => progress!.log(m), warn: (m) => progress!.log(`warning: ${m}`) };
      const common = (dir: OwnedRunDir) => ({
        registry,
        runOptions: { dataDir: opts.dataDir, env: io.env },
        logger,
        observers: [json ?? progress!],
      });
      let experiment: ExperimentInstance;
      let outDir: string;
      let owned: OwnedRunDir;
      // Everything is checked (flags, config, checkpoint) before the run directory is touched;
      // then the directory is locked and run.json written before the data loads.
      if (opts.resume !== undefined) {
        for (const flag of ['config', 'out', 'seed', 'taskInference', 'inferenceBatchSize', 'overwrite', 'set'] as const) {
          if (opts[flag] !== undefined && !(Array.isArray(opts[flag]) && opts[flag].length === 0)) throw new UsageError(`--resume continues a run with the config saved in its checkpoint; it cannot be combined with --${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        }
        outDir = resolve(opts.resume);
        const checkpoint = runDirs.readResumable(outDir);
        await loadPlugins(pluginNames(checkpoint.manifest.config), registry, [outDir, process.cwd()]);
        const runId = checkpoint.manifest.run_id ?? newRunId();
        owned = new runDirs.OwnedRunDir(outDir, { runId, command: commandLine, mode: 'resume', logger });
        const config = opts.backend ? { ...(checkpoint.manifest.config as unknown as ResolvedConfig), backend: opts.backend } : undefined;
        experiment = await owned.guard(() => Experiment.resume(outDir, { ...common(owned), runId, ...(config ? { config } : {}) }));
        const at = experiment.resumePosition;
        say(`resuming ${outDir} after task ${experiment.finishedTasks} of ${experiment.stream.tasks.length}${at ? `, in task ${at.task + 1} at phase ${at.phase_name}, epoch ${at.epoch + 1}, batch ${at.batch + 1}` : ''}`);
      } else {
        if (opts.config === undefined) throw new UsageError("run needs --config FILE (or --resume RUN_DIR)");
        const raw = applyOverrides(readConfigFile(opts.config), opts.set ?? []);
        await loadPlugins(pluginNames(raw, opts.config), registry, [dirname(resolve(opts.config)), process.cwd()]);
        if (opts.taskInference !== undefined || opts.inferenceBatchSize !== undefined) overrideTaskInference(raw, opts);
        const config = resolveConfig(raw, registry, { file: opts.config, seed: opts.seed, backend: opts.backend });
        outDir = resolve(opts.out ?? join('runs', `${config.name}-${timestamp()}`));
        const runId = newRunId();
        owned = new runDirs.OwnedRunDir(outDir, { runId, command: commandLine, mode: opts.overwrite ? 'overwrite' : 'new', logger });
        experiment = await owned.guard(() => Experiment.create({ ...common(owned), config, outDir, runId }));
      }
      try {
        say(`backend: ${experiment.backendSelection.backend}${experiment.backendSelection.module ? ` (${experiment.backendSelection.module})` : ''}`);
        owned.stopWith(() => experiment.requestStop());
        const results = await owned.guard(() => experiment.run());
        if (results.outcome?.status === 'interrupted') {
          const signal = owned.signal ?? 'SIGINT';
          owned.end('interrupted', signal);
          const where = results.outcome.task ? `during task ${results.outcome.task}` : `after task ${experiment.finishedTasks}`;
          if (json) json.emit('interrupted', { signal, task: results.outcome.task, resume: `supermask run --resume ${outDir}` });
          else io.stderr(`interrupted ${where}; continue with: supermask run --resume ${outDir}`);
          exitCode = runDirs.OwnedRunDir.exitCodeOf(signal);
          return;
        }
        owned.end('finished');
        if (json) {
          json.emit('results', {
            file: join(outDir, 'results.json'),
            backend: results.backend,
            accuracy_matrix: results.accuracy_matrix,
            average_accuracy: results.average_accuracy,
            forgetting: results.forgetting,
            ...(results.task_inference ? { task_inference: { method: results.task_inference.method, task_id_accuracy: results.task_inference.task_id_accuracy, average_accuracy: results.task_inference.average_accuracy } } : {}),
          });
          return;
        }
        io.stdout(`accuracy matrix (%), row = after task, column = task:\n${formatAccuracyMatrix(results.accuracy_matrix)}`);
        io.stdout(`average accuracy ${(100 * results.average_accuracy).toFixed(2)}%, forgetting ${(100 * results.forgetting).toFixed(2)} points, backend ${results.backend}`);
        if (results.task_inference) io.stdout(formatTaskInference(results.task_inference));
        io.stdout(`results: ${join(outDir, 'results.json')}`);
      } finally {
        progress?.stop();
        experiment.dispose();
      }
    });

  program
    .command('eval')
    .description('evaluate a saved run without task ids (task inference), or with them (oracle)')
    .argument('<run-dir>', 'run directory holding checkpoint.json')
    .requiredOption('--task-inference <id>', 'task_inference component: prototype, contrast, oneshot, binary, exhaustive or oracle')
    .option('--batch-size <n>', 'test batch size (each batch gets one inferred task id)', parsePositiveInt)
    .option('--data-dir <dir>', 'directory holding the dataset files')
    .addOption(backendOption(backendHelp))
    .action(async (runDir: string, opts: { taskInference: string; batchSize?: number; dataDir?: string; backend?: BackendChoice }) => {
      const { Experiment, assertSameRun, loadPlugins, pluginNames, readCheckpoint, writeJsonAtomic } = await loadCore();
      const { withRunLock } = await import('./run-dir.js');
      const { formatTaskInference } = await import('./format.js');
      const registry = await loadRegistry();
      const dir = resolve(runDir);
      assertSameRun(dir);
      const checkpoint = readCheckpoint(dir);
      // eval writes evaluation-<id>.json into the run directory: it owns the directory meanwhile.
      await withRunLock(dir, { runId: checkpoint.manifest.run_id ?? '', command: commandLine }, async () => {
        await loadPlugins(pluginNames(checkpoint.manifest.config), registry, [dir, process.cwd()]);
        const config = { ...(checkpoint.manifest.config as unknown as ResolvedConfig), ...(opts.backend ? { backend: opts.backend } : {}) };
        const ref = { id: opts.taskInference, options: opts.batchSize !== undefined && opts.taskInference !== 'oracle' ? { batch_size: opts.batchSize } : {} };
        registry.resolveOptions('task_inference', ref, 'task_inference');
        const experiment = await Experiment.resume(dir, { registry, config, runOptions: { dataDir: opts.dataDir, env: io.env } });
        try {
          const summary = await experiment.evaluateTaskInference(ref, ref.id === 'oracle' ? opts.batchSize : undefined, { info: () => {}, warn: (m) => io.stderr(`warning: ${m}`) });
          io.stdout(formatTaskInference(summary));
          const file = join(dir, `evaluation-${ref.id}.json`);
          writeJsonAtomic(file, { run: dir, backend: experiment.backendSelection.backend, completed_tasks: experiment.finishedTasks, ...summary });
          io.stdout(`written ${file}`);
        } finally {
          experiment.dispose();
        }
      });
    });

  program
    .command('export')
    .description("write a standalone model of one task (effective weights W * M_task, per-task state) with a model card (README.md)")
    .argument('<run-dir>', 'run directory holding checkpoint.json')
    .requiredOption('--task <n>', 'task to export (1-based)', parsePositiveInt)
    .requiredOption('--out <dir>', 'directory for the model files and README.md')
    .addOption(
      new Option('--format <format>', 'native: supermask-model.json + model.safetensors (@supermask/core); tfjs: TensorFlow.js LayersModel (model.json + weights); onnx: model.onnx')
        .choices(['native', 'tfjs', 'onnx'])
        .default('native'),
    )
    .action(async (runDir: string, opts: { task: number; out: string; format: 'native' | 'tfjs' | 'onnx' }) => {
      const { loadPlugins, pluginNames, readCheckpoint } = await loadCore();
      const { exportModel } = await import('@supermask/export');
      const registry = await loadRegistry();
      const dir = resolve(runDir);
      await loadPlugins(pluginNames(readCheckpoint(dir).manifest.config), registry, [dir, process.cwd()]);
      const files = await exportModel(dir, opts.task - 1, resolve(opts.out), registry, opts.format);
      for (const file of files) io.stdout(`written ${file}`);
    });

  program
    .command('report')
    .description('write report.html (self-contained) and PNG figures of one run, or compare several runs side by side')
    .argument('<run-dir...>', 'run directories holding results.json (several: one comparison report)')
    .option('-o, --out <dir>', 'directory for report.html and figures/ (default: the run directory for one run, reports/<time> for several)')
    .action(async (runDirs: string[], opts: { out?: string }) => {
      // Loaded on use: the charting libraries are not needed by the other commands.
      const { buildReport, runDirectory } = await import('@supermask/report');
      const outDir = resolve(opts.out ?? (runDirs.length === 1 ? runDirectory(runDirs[0]!) : join('reports', timestamp())));
      const report = await buildReport(runDirs, outDir);
      for (const note of report.notes) io.stderr(`not shown: ${note.title}: ${note.reason}`);
      io.stdout(`written ${report.html}`);
      for (const png of report.pngs) io.stdout(`written ${png}`);
    });

  program
    .command('list')
    .description('list registered components with their option schemas')
    .option('--kind <kind>', 'only this kind (dataset, stream, backbone, strategy, ...)')
    .option('--json', 'print JSON')
    .option('--markdown', 'print the config reference in Markdown (top-level fields and every component)')
    .option('--plugin <package...>', 'also load these plugin packages')
    .action(async (opts: { kind?: ComponentKind; json?: boolean; markdown?: boolean; plugin?: string[] }) => {
      const { COMPONENT_KINDS, loadPlugins } = await loadCore();
      if (opts.kind !== undefined && !(COMPONENT_KINDS as readonly string[]).includes(opts.kind)) {
        throw new UsageError(`option '--kind <kind>' argument '${opts.kind}' is invalid. Allowed choices are ${COMPONENT_KINDS.join(', ')}.`);
      }
      const registry = await loadRegistry();
      if (opts.plugin) await loadPlugins(opts.plugin, registry, [process.cwd()]);
      if (opts.markdown) {
        const { configReferenceMarkdown } = await import('./reference.js');
        io.stdout(configReferenceMarkdown(registry).trimEnd());
        return;
      }
      const defs = registry.list(opts.kind);
      if (opts.json) {
        io.stdout(JSON.stringify(defs.map((d) => ({ kind: d.kind, id: d.id, package: d.package, description: d.description, schema: d.schema, defaults: d.defaults })), null, 2));
        return;
      }
      let kind = '';
      for (const d of defs) {
        if (d.kind !== kind) {
          kind = d.kind;
          io.stdout(`\n${kind}`);
        }
        io.stdout(`  ${d.id.padEnd(14)} ${d.description}${d.package ? ` [${d.package}]` : ''}`);
        const props = (d.schema.properties ?? {}) as Record<string, { default?: unknown; description?: string; enum?: unknown[]; type?: string }>;
        for (const [name, p] of Object.entries(props)) {
          const type = p.enum ? p.enum.map((v) => JSON.stringify(v)).join('|') : (p.type ?? 'object');
          const def = p.default !== undefined ? ` = ${JSON.stringify(p.default)}` : '';
          io.stdout(`      ${name}: ${type}${def}${p.description ? `  ${p.description}` : ''}`);
        }
      }
    });

  registerSweepCommands(program, io);
  markRequiredOptions(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    const e = error as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander has printed its message (help, version or a usage error).
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    exitCode = (await loadCore()).exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    const file = (error as { file?: unknown }).file;
    if (jsonLog) {
      // --log-format json: the error is one more JSON event on stdout (and a plain line on stderr).
      jsonLog.emit('error', { message, exit_code: exitCode, kind: error instanceof Error ? error.name : 'Error', ...(typeof file === 'string' ? { file } : {}), ...(Array.isArray((error as { problems?: unknown }).problems) ? { problems: (error as { problems: string[] }).problems } : {}) });
    }
    io.stderr(`error: ${message}`);
    if (exitCode === 1 && error instanceof Error && error.stack && io.env.SUPERMASK_DEBUG) io.stderr(error.stack);
    if (error instanceof Error && error.name === 'ConfigError' && typeof file === 'string') io.stderr(`(config file: ${file})`);
  }
  return exitCode;
}
