import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import type { BackendChoice } from '@supermask/core';
import { backendOption, parsePositiveInt } from './choices.js';
import type { CliIo } from './main.js';

// Core, the components and the sweep package (BullMQ) are imported by the actions, so that
// --help and --version start at once.
const loadCore = () => import('@supermask/core');
const loadSweep = () => import('@supermask/sweep');

/** The CLI entry every run process starts (dist/bin.js next to this module; from the sources under vitest, the built one). */
function cliBin(): string {
  const here = fileURLToPath(new URL('./bin.js', import.meta.url));
  return existsSync(here) ? here : resolve(dirname(here), '../dist/bin.js');
}


/** A sweep that ended with failed points: exit code 1 after the summary. */
class SweepFailed extends Error {
  readonly exitCode = 1;
}

/** `supermask sweep`, `supermask sweep status` and `supermask worker`. */
export function registerSweepCommands(program: Command, io: CliIo): void {
  const sweep = program
    .command('sweep')
    .description('run every point of a sweep file (a grid of configs over seeds): in local worker processes, or on BullMQ workers with --queue')
    .argument('[sweep-file]', 'sweep file (YAML or JSON): base config, grid / zip axes over dotted config paths, seeds')
    .option('-o, --out <dir>', 'sweep directory: one run directory per point, sweep.json, summary.csv, summary.md')
    .option('-w, --workers <n>', 'run processes at once (default: one per core; without --queue)', parsePositiveInt)
    .option('--queue <url>', 'redis://HOST:PORT[/DB]: enqueue the points for `supermask worker` processes and wait for them')
    .option('--data-dir <dir>', 'directory holding the dataset files (local runs)')
    .addOption(backendOption('tfjs backend of every run'))
    .action(async (file: string | undefined, opts: { out?: string; workers?: number; queue?: string; dataDir?: string; backend?: BackendChoice }) => {
      const { ConfigError, loadPlugins, pluginNames, resolveConfig } = await loadCore();
      const { checkQueue, planSweep, redisConnection, runLocalSweep, runQueuedSweep, writeSummary } = await loadSweep();
      if (file === undefined) throw new ConfigError('sweep needs a SWEEP_FILE (or `sweep status --queue URL`)');
      if (opts.out === undefined) throw new ConfigError('sweep needs --out DIR (the sweep directory)');
      if (opts.queue !== undefined && opts.workers !== undefined) throw new ConfigError('--workers is for the embedded pool; with --queue start `supermask worker` processes instead');
      if (opts.queue !== undefined) redisConnection(opts.queue);
      const started = Date.now();
      const registry = (await import('./registry.js')).createRegistry();
      const loaded = new Set<string>();
      const plan = await planSweep(file, opts.out, async (raw, f) => {
        const names = pluginNames(raw, f).filter((n) => !loaded.has(n));
        await loadPlugins(names, registry, [dirname(resolve(f)), process.cwd()]);
        names.forEach((n) => loaded.add(n));
        return resolveConfig(raw, registry, { file: f });
      }, opts.queue ?? 'local', opts.queue !== undefined ? () => checkQueue(opts.queue!) : undefined);
      const log = (line: string) => io.stderr(line);
      const state = opts.queue
        ? await runQueuedSweep(plan, { queue: opts.queue, log })
        : await runLocalSweep(plan, { bin: cliBin(), workers: opts.workers, dataDir: opts.dataDir, backend: opts.backend, env: io.env, log });
      io.stdout(writeSummary(plan.outDir, state));
      io.stdout(`sweep ${state.name}: ${state.points.filter((p) => p.state === 'done').length} of ${state.points.length} points done in ${((Date.now() - started) / 1000).toFixed(1)} s; written ${plan.outDir}/sweep.json, summary.csv, summary.md`);
      const failed = state.points.filter((p) => p.state === 'failed');
      if (failed.length > 0) throw new SweepFailed(`${failed.length} of ${state.points.length} points failed: ${failed.map((p) => p.id).join(', ')} (see sweep.json)`);
    });

  sweep
    .command('status')
    .description('the point jobs on a queue: waiting, running (which worker, which task and epoch), done, failed')
    .option('--queue <url>', 'redis://HOST:PORT[/DB]')
    .option('--json', 'print JSON')
    .action(async (_opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<{ queue?: string; json?: boolean }>();
      const { ConfigError } = await loadCore();
      const { formatQueueStatus, queueStatus, redisConnection } = await loadSweep();
      if (opts.queue === undefined) throw new ConfigError('sweep status needs --queue redis://HOST:PORT[/DB]');
      redisConnection(opts.queue);
      const jobs = await queueStatus(opts.queue);
      io.stdout(opts.json ? JSON.stringify(jobs, null, 2) : formatQueueStatus(jobs, opts.queue));
    });

  program
    .command('worker')
    .description('take sweep points from a queue and run them, until stopped (SIGINT / SIGTERM)')
    .requiredOption('--queue <url>', 'redis://HOST:PORT[/DB]')
    .option('--concurrency <n>', 'points run at once by this worker', parsePositiveInt, 1)
    .option('--runs-dir <dir>', 'put run directories under DIR/<sweep>/<point> (default: the sweep directory the job names, on shared storage)')
    .option('--data-dir <dir>', 'directory holding the dataset files')
    .addOption(backendOption('tfjs backend of every run'))
    .addOption(new Option('--lock-ms <ms>', 'a worker silent this long is taken for dead and its points run again').argParser(parsePositiveInt).default(30_000))
    .action(async (opts: { queue: string; concurrency: number; runsDir?: string; dataDir?: string; backend?: BackendChoice; lockMs: number }) => {
      const { redisConnection, runWorker } = await loadSweep();
      redisConnection(opts.queue);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await runWorker({ ...opts, runsDir: opts.runsDir ? resolve(opts.runsDir) : undefined, bin: cliBin(), env: io.env, log: (line) => io.stderr(line), signal: stop.signal });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
