// node bench/run-summary.mjs RUN_DIR... — a Markdown table of finished runs (from their
// results.json): average accuracy, forgetting, backend, wall time per task. Used for the README's
// results section, so its numbers come from the runs, not from hand.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const rows = process.argv.slice(2).map((dir) => {
  const r = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  const perTask = r.tasks.map((t) => t.phases.reduce((s, p) => s + p.seconds, 0) + t.evaluation_seconds);
  return [
    `\`${r.name}\``,
    r.backend,
    (100 * r.average_accuracy).toFixed(2),
    String(r.forgetting),
    perTask.map((s) => s.toFixed(1)).join(' '),
    r.accuracy_matrix.at(-1).map((a) => (100 * a).toFixed(1)).join(' '),
  ];
});
const head = ['run', 'backend', 'average accuracy (%)', 'forgetting', 'seconds per task (train + eval)', 'final accuracy per task (%)'];
console.log([`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n'));
