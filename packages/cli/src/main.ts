import { Command, InvalidArgumentError, Option } from 'commander';
import { join, resolve } from 'node:path';
import {
  BACKEND_CHOICES,
  COMPONENT_KINDS,
  ConfigError,
  Experiment,
  exitCodeOf,
  loadConfig,
  type BackendChoice,
  type ComponentKind,
  type Logger,
} from '@supermask/core';
import { createRegistry } from './registry.js';
import { ProgressReporter } from './progress.js';
import { formatAccuracyMatrix } from './format.js';

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

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let exitCode = 0;
  const program = new Command()
    .name('supermask')
    .description('Continual learning with supermask subnetworks')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s.trimEnd()), writeErr: (s) => io.stderr(s.trimEnd()) });

  program
    .command('run')
    .description('train a network on a task stream described by a config (JSON or YAML)')
    .requiredOption('-c, --config <file>', 'experiment config')
    .option('--data-dir <dir>', 'directory holding the dataset files (else $SUPERMASK_DATA, else the system location)')
    .option('-o, --out <dir>', 'run directory for results.json and accuracy_matrix.csv (default runs/<name>-<time>)')
    .option('--seed <n>', 'override the config seed', parseSeed)
    .addOption(new Option('--backend <name>', 'tfjs backend').choices([...BACKEND_CHOICES]))
    .action(async (opts: { config: string; dataDir?: string; out?: string; seed?: number; backend?: BackendChoice }) => {
      const registry = createRegistry();
      const config = loadConfig(opts.config, registry, { seed: opts.seed, backend: opts.backend });
      const outDir = resolve(opts.out ?? join('runs', `${config.name}-${timestamp()}`));
      const logger: Logger = { info: (m) => io.stderr(m), warn: (m) => io.stderr(`warning: ${m}`) };
      const experiment = await Experiment.create({
        config,
        registry,
        outDir,
        runOptions: { dataDir: opts.dataDir, env: io.env },
        logger,
        plugins: [new ProgressReporter((line) => io.stderr(line), io.isTTY)],
      });
      try {
        io.stderr(`backend: ${experiment.backendSelection.backend}${experiment.backendSelection.module ? ` (${experiment.backendSelection.module})` : ''}`);
        const results = await experiment.run();
        io.stdout(`accuracy matrix (%), row = after task, column = task:\n${formatAccuracyMatrix(results.accuracy_matrix)}`);
        io.stdout(`average accuracy ${(100 * results.average_accuracy).toFixed(2)}%, forgetting ${(100 * results.forgetting).toFixed(2)} points, backend ${results.backend}`);
        io.stdout(`results: ${join(outDir, 'results.json')}`);
      } finally {
        experiment.dispose();
      }
    });

  program
    .command('list')
    .description('list registered components with their option schemas')
    .addOption(new Option('--kind <kind>', 'only this kind').choices([...COMPONENT_KINDS]))
    .option('--json', 'print JSON')
    .action((opts: { kind?: ComponentKind; json?: boolean }) => {
      const registry = createRegistry();
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

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    const e = error as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander has printed its message (help, version or a usage error).
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    exitCode = exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`error: ${message}`);
    if (exitCode === 1 && error instanceof Error && error.stack && io.env.SUPERMASK_DEBUG) io.stderr(error.stack);
    if (error instanceof ConfigError && error.file) io.stderr(`(config file: ${error.file})`);
  }
  return exitCode;
}
