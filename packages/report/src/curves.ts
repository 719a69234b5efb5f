import type { TopLevelSpec } from 'vega-lite';
import { epochPoints } from './data.js';
import type { RunData } from './results.js';
import { percentAxis, runColor, spanOf, type Ctx, type Figure } from './specs.js';

/**
 * Loss and accuracy per epoch from metrics.csv: x is the epoch's position in the run (every task
 * and phase in order), one line per task and phase; test accuracy where the run evaluated after
 * each epoch. Several runs: coloured by run.
 */
export function epochCurvesFigure(runs: readonly RunData[], { top, compare }: Ctx): Figure {
  const points = epochPoints(runs);
  const accuracy = points.filter((p) => p.measure !== 'loss');
  const x = { field: 'step', type: 'quantitative', title: 'epoch (over all tasks and phases)', axis: { tickMinStep: 1, format: 'd' } };
  const color = compare ? runColor(runs) : { field: 'task', type: 'ordinal', title: 'task', scale: { scheme: 'tableau10' } };
  const detail = [{ field: 'run', type: 'nominal' }, { field: 'task', type: 'nominal' }, { field: 'phase', type: 'nominal' }];
  const many = points.length > 600;
  const loss = {
    title: { text: 'training loss', fontSize: 13, offset: 6, frame: 'group' },
    width: 560,
    height: 170,
    transform: [{ filter: { field: 'measure', equal: 'loss' } }],
    mark: { type: 'line', point: !many, strokeWidth: 2 },
    encoding: { x: { ...x, title: null }, y: { field: 'value', type: 'quantitative', title: 'loss', scale: { zero: false } }, color, detail },
  };
  const acc = {
    title: { text: 'accuracy', fontSize: 13, offset: 6, frame: 'group' },
    width: 560,
    height: 170,
    transform: [{ filter: { field: 'measure', oneOf: ['train accuracy', 'test accuracy'] } }],
    mark: { type: 'line', point: !many, strokeWidth: 2 },
    encoding: {
      x,
      y: { field: 'value', type: 'quantitative', axis: percentAxis(null, spanOf(accuracy.map((p) => p.value))), scale: { zero: false } },
      color,
      strokeDash: { field: 'measure', type: 'nominal', title: null, sort: ['train accuracy', 'test accuracy'], scale: { domain: ['train accuracy', 'test accuracy'], range: [[1, 0], [5, 3]] } },
      detail: [...detail, { field: 'measure', type: 'nominal' }],
    },
  };
  return {
    id: 'epoch-curves',
    title: 'Loss and accuracy per epoch',
    caption:
      "Each finished epoch of every task's phases in order (from metrics.csv): the mean training loss, the training accuracy and, where the run evaluated after every epoch, the task's test accuracy (dashed)." +
      (compare ? ' One colour per run.' : ''),
    spec: { ...top, title: 'Loss and accuracy per epoch', data: { values: points }, spacing: 24, vconcat: [loss, acc] } as unknown as TopLevelSpec,
  };
}
