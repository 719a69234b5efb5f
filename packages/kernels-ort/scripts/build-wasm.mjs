#!/usr/bin/env node
// Builds wasm/supermask-kernels.wasm from every wasm/*.c with clang + wasm-ld (Debian: apt-get install clang lld).
// Usage: node scripts/build-wasm.mjs [--out FILE] [--check]
//   --out FILE  writes the module to FILE instead of wasm/supermask-kernels.wasm
//   --check     builds to a temporary file and fails (exit 1) when it differs from the committed module
// The output is deterministic: same sources and same clang -> same bytes (sources compiled in name order
// to fixed object names, no debug information).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const wasmDir = fileURLToPath(new URL('../wasm/', import.meta.url));
const committed = join(wasmDir, 'supermask-kernels.wasm');
/** Per-thread stack of an instance (bytes); src/wasm-pool.ts gives every worker's instance a region this size. */
export const STACK_BYTES = 65536;

export const COMPILE_FLAGS = ['--target=wasm32', '-O3', '-msimd128', '-matomics', '-mbulk-memory', '-mmutable-globals', '-nostdlib', '-ffreestanding', '-fno-builtin', '-Wall', '-Werror'];
export const LINK_FLAGS = [
  '--target=wasm32',
  '-nostdlib',
  '-Wl,--no-entry',
  '-Wl,--import-memory',
  '-Wl,--shared-memory',
  '-Wl,--max-memory=4294967296',
  `-Wl,-z,stack-size=${STACK_BYTES}`,
  '-Wl,--export=__stack_pointer',
  '-Wl,--export=__heap_base',
  '-Wl,--export=__data_end',
];

function fail(message, code = 1) {
  process.stderr.write(`build-wasm: ${message}\n`);
  process.exit(code);
}

function tool(command) {
  try {
    return { command, version: execFileSync(command, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0] };
  } catch {
    fail(`${command} not found on PATH: the WebAssembly kernels are built with clang and wasm-ld (Debian/Ubuntu: apt-get install clang lld)`);
  }
}

function run(command, args) {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (error) {
    fail(`${command} ${args.join(' ')} failed (${error.status ?? error.message})`);
  }
}

/** Builds every wasm/*.c into `out`; returns the module's bytes. */
export function buildWasm(out) {
  const clang = tool('clang');
  tool('wasm-ld'); // clang links wasm32 with wasm-ld from PATH
  const sources = readdirSync(wasmDir).filter((name) => name.endsWith('.c')).sort();
  if (sources.length === 0) fail(`no .c file in ${wasmDir}`);
  const work = mkdtempSync(join(tmpdir(), 'supermask-wasm-'));
  try {
    const objects = sources.map((source, index) => {
      const object = join(work, `${index}.o`);
      run(clang.command, [...COMPILE_FLAGS, '-c', join(wasmDir, source), '-o', object]);
      return object;
    });
    const linked = join(work, 'out.wasm');
    run(clang.command, [...LINK_FLAGS, ...objects, '-o', linked]);
    const bytes = readFileSync(linked);
    checkModule(bytes);
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, out);
    return { bytes, sources, clang: clang.version };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The module must import only the shared memory and export the stack pointer and heap base the pool uses. */
function checkModule(bytes) {
  const module = new WebAssembly.Module(bytes);
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name} (${i.kind})`);
  if (imports.length !== 1 || imports[0] !== 'env.memory (memory)') fail(`the module must import only env.memory, it imports: ${imports.join(', ')}`);
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const name of ['__stack_pointer', '__heap_base']) if (!exports.has(name)) fail(`the module does not export ${name}`);
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const outIndex = args.indexOf('--out');
  for (const [i, arg] of args.entries()) if (arg !== '--check' && arg !== '--out' && args[i - 1] !== '--out') fail(`unknown argument ${arg} (usage: build-wasm.mjs [--out FILE] [--check])`, 2);
  if (outIndex >= 0 && args[outIndex + 1] === undefined) fail('--out needs a file name', 2);
  let out = outIndex >= 0 ? resolve(args[outIndex + 1]) : committed;
  let work;
  if (check) {
    work = mkdtempSync(join(tmpdir(), 'supermask-wasm-check-'));
    out = join(work, basename(committed));
  }
  const { bytes, sources, clang } = buildWasm(out);
  const exported = WebAssembly.Module.exports(new WebAssembly.Module(bytes)).filter((e) => e.kind === 'function').map((e) => e.name);
  if (check) {
    rmSync(work, { recursive: true, force: true });
    let same = false;
    try {
      same = Buffer.compare(readFileSync(committed), bytes) === 0;
    } catch {
      same = false;
    }
    if (!same) fail(`${committed} is not the build of wasm/*.c (${clang}): run npm run build:wasm -w @supermask/kernels-ort and commit it`);
    process.stdout.write(`build-wasm: ${basename(committed)} matches the build of ${sources.join(', ')} (${clang})\n`);
  } else {
    process.stdout.write(`build-wasm: ${out} (${bytes.length} bytes) from ${sources.join(', ')} (${clang}); kernels: ${exported.join(', ')}\n`);
  }
}
