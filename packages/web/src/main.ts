/**
 * The page: the form, the worker that trains, the live accuracy matrix and the report's figures
 * (the spec builders of @supermask/report, drawn by Vega), the downloads, and dropped results.json
 * files from the CLI.
 */
import { buildFigures, renderSvg, runFromResults } from '@supermask/report/browser';
import type { ExperimentResults } from '@supermask/core/browser';
import { PAGE_BACKENDS, type FromWorker, type PageBackend, type ToWorker } from './protocol.js';
import { DEFAULT_SETTINGS, pageConfig, type PageSettings } from './settings.js';

const $ = <T extends HTMLElement = HTMLInputElement>(id: string) => document.getElementById(id) as T;

/** Form fields: element id -> settings key (numbers are parsed; empty optional numbers are left out). */
const FIELDS: [string, keyof PageSettings, 'text' | 'number' | 'optional' | 'check'][] = [
  ['name', 'name', 'text'],
  ['seed', 'seed', 'number'],
  ['stream', 'stream', 'text'],
  ['tasks', 'tasks', 'number'],
  ['classes-per-task', 'classesPerTask', 'number'],
  ['train-per-task', 'trainPerTask', 'optional'],
  ['test-per-task', 'testPerTask', 'optional'],
  ['strategy', 'strategy', 'text'],
  ['backbone', 'backbone', 'text'],
  ['resnet-width', 'resnetWidth', 'number'],
  ['density', 'density', 'number'],
  ['epochs', 'epochs', 'number'],
  ['weight-epochs', 'weightEpochs', 'number'],
  ['lr', 'lr', 'number'],
  ['batch-size', 'batchSize', 'number'],
  ['task-inference', 'taskInference', 'text'],
  ['kkt', 'kkt', 'check'],
];

function readSettings(): PageSettings {
  const s: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const [id, key, kind] of FIELDS) {
    const el = $(id);
    if (kind === 'check') s[key] = el.checked;
    else if (kind === 'text') s[key] = el.value;
    else if (kind === 'optional') s[key] = el.value.trim() === '' ? undefined : Number(el.value);
    // A non-number stays a string, so the schema names the field ("must be integer").
    else s[key] = el.value.trim() !== '' && Number.isFinite(Number(el.value)) ? Number(el.value) : el.value;
  }
  return s as unknown as PageSettings;
}

function writeSettings(s: PageSettings): void {
  for (const [id, key, kind] of FIELDS) {
    const el = $(id);
    if (kind === 'check') el.checked = Boolean(s[key]);
    else el.value = s[key] === undefined ? '' : String(s[key]);
  }
}

const showConfig = () => ($('config').textContent = JSON.stringify(pageConfig(readSettings()), null, 2));
const setError = (message: string) => ($('errors').textContent = message);
const setStatus = (message: string) => ($('status').textContent = message);

let worker: Worker | undefined;
let lastResults: ExperimentResults | undefined;
let lastMasks: Uint8Array | undefined;

function startRun(): void {
  setError('');
  worker?.terminate();
  lastResults = undefined;
  lastMasks = undefined;
  $<HTMLButtonElement>('download-results').disabled = true;
  $<HTMLButtonElement>('download-masks').disabled = true;
  $('matrix').replaceChildren();
  $('inference').replaceChildren();
  $('figures').replaceChildren();
  const backend = $<HTMLSelectElement>('backend').value as PageBackend;
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (event: MessageEvent<FromWorker>) => onWorkerMessage(event.data);
  worker.onerror = (event) => {
    setError(`the training worker failed: ${event.message}`);
    console.error(event.message);
  };
  const message: ToWorker = { type: 'run', config: pageConfig(readSettings()), backend, dataUrl: new URL('data/fashion-mnist-subset/', document.baseURI).href };
  setStatus('Loading the data…');
  document.body.dataset.state = 'running';
  worker.postMessage(message);
}

function onWorkerMessage(m: FromWorker): void {
  switch (m.type) {
    case 'invalid':
      setError(m.message);
      setStatus('The config is not valid.');
      document.body.dataset.state = 'invalid';
      return;
    case 'error':
      setError(m.message);
      setStatus('The run failed.');
      document.body.dataset.state = 'failed';
      console.error(m.message);
      return;
    case 'started':
      document.body.dataset.backend = m.backend;
      document.body.dataset.notes = m.notes.join('; ');
      setStatus(`Training ${m.tasks.length} tasks on the ${m.backend} backend${m.notes.length ? ` (${m.notes.join('; ')})` : ''}.`);
      return;
    case 'progress': {
      const done = (m.task + (m.epoch + (m.batch + 1) / m.batches) / m.epochs / 2) / m.tasks;
      $<HTMLProgressElement>('progress').value = Math.min(1, done);
      setStatus(
        `Task ${m.task + 1}/${m.tasks}, ${m.phase} phase, epoch ${m.epoch + 1}/${m.epochs}, batch ${m.batch + 1}/${m.batches}: ` +
          `loss ${m.loss.toFixed(4)}, training accuracy ${(100 * m.trainAccuracy).toFixed(1)}% (backend ${document.body.dataset.backend}).`,
      );
      return;
    }
    case 'results':
      lastResults = m.results;
      void showRun(m.results, m.results.name);
      if (m.final) {
        $<HTMLProgressElement>('progress').value = 1;
        setStatus(`Finished: average accuracy ${(100 * m.results.average_accuracy).toFixed(2)}%, forgetting ${m.results.forgetting} (${m.results.wall_time_seconds.toFixed(1)} s, ${m.results.backend}).`);
        $<HTMLButtonElement>('download-results').disabled = false;
      }
      return;
    case 'masks':
      lastMasks = m.bytes;
      $<HTMLButtonElement>('download-masks').disabled = false;
      document.body.dataset.state = 'finished';
      return;
  }
}

function showMatrix(results: ExperimentResults): void {
  const matrix = results.accuracy_matrix;
  const n = results.tasks.length;
  const head = `<tr><th>after \\ on</th>${matrix[0]!.map((_, j) => `<th>task ${j + 1}</th>`).join('')}</tr>`;
  const rows = matrix
    .slice(0, n)
    .map((row, i) => `<tr><th>task ${i + 1}</th>${row.map((v, j) => (j <= i && v !== null ? `<td data-row="${i}" data-col="${j}" data-value="${v}">${(100 * v).toFixed(2)}%</td>` : '<td></td>')).join('')}</tr>`)
    .join('');
  $('matrix').innerHTML = head + rows;
  $('average-accuracy').textContent = `${(100 * results.average_accuracy).toFixed(2)}%`;
  $('average-accuracy').dataset.value = String(results.average_accuracy);
  $('forgetting').textContent = String(results.forgetting);
  $('forgetting').dataset.value = String(results.forgetting);
  const inference = results.task_inference;
  $('inference').innerHTML = inference
    ? `<tr><th>task inference: ${inference.method}</th><th>task identified</th><th>accuracy (inferred task)</th><th>accuracy (given task)</th></tr>` +
      inference.tasks.map((t) => `<tr><th>task ${t.task + 1}</th><td>${(100 * t.task_id_accuracy).toFixed(1)}%</td><td>${(100 * t.accuracy_inferred).toFixed(2)}%</td><td>${(100 * t.accuracy_true).toFixed(2)}%</td></tr>`).join('')
    : '';
}

let figureGeneration = 0;

/** The matrix and the report's figures for a run (the page's own, partial or final, or a dropped one). */
async function showRun(results: ExperimentResults, file: string): Promise<void> {
  const run = runFromResults(results, file);
  showMatrix(run.results);
  const generation = ++figureGeneration;
  const plan = buildFigures([run]);
  const rendered = await Promise.all(plan.figures.map(async (f) => ({ f, svg: await renderSvg(f.spec) })));
  if (generation !== figureGeneration) return;
  $('figures').replaceChildren(
    ...rendered.map(({ f, svg }) => {
      const figure = document.createElement('figure');
      figure.id = `fig-${f.id}`;
      const title = document.createElement('h3');
      title.textContent = f.title;
      const body = document.createElement('div');
      body.innerHTML = svg;
      const caption = document.createElement('figcaption');
      caption.textContent = f.caption;
      figure.append(title, body, caption);
      return figure;
    }),
  );
  $('figure-notes').replaceChildren(
    ...plan.notes.map((n) => {
      const li = document.createElement('li');
      li.textContent = `${n.title}: ${n.reason}`;
      return li;
    }),
  );
  document.body.dataset.figures = String(plan.figures.length);
}

function download(name: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function openResultsFile(file: File): Promise<void> {
  setError('');
  try {
    let value: unknown;
    try {
      value = JSON.parse(await file.text());
    } catch (error) {
      throw new Error(`${file.name}: not valid JSON (${(error as Error).message})`);
    }
    // showRun checks it (runFromResults) and throws naming the file.
    await showRun(value as ExperimentResults, file.name);
    setStatus(`Showing ${file.name}.`);
  } catch (error) {
    setError((error as Error).message);
  }
}

function init(): void {
  const params = new URLSearchParams(location.search);
  const backend = params.get('backend');
  writeSettings(DEFAULT_SETTINGS);
  if (backend && (PAGE_BACKENDS as readonly string[]).includes(backend)) $<HTMLSelectElement>('backend').value = backend;
  showConfig();
  $('settings').addEventListener('input', showConfig);
  $('settings').addEventListener('submit', (event) => {
    event.preventDefault();
    startRun();
  });
  // The results.json of a run is written exactly as the CLI writes it.
  $('download-results').addEventListener('click', () => lastResults && download('results.json', `${JSON.stringify(lastResults, null, 2)}\n`, 'application/json'));
  $('download-masks').addEventListener('click', () => lastMasks && download('masks.safetensors', lastMasks as BlobPart, 'application/octet-stream'));
  $('results-file').addEventListener('change', () => {
    const file = $('results-file').files?.[0];
    if (file) void openResultsFile(file);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    const file = event.dataTransfer?.files[0];
    if (file) void openResultsFile(file);
  });
  document.body.dataset.state = 'ready';
}

init();
