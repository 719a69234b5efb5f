import { describe, expect, it } from 'vitest';
import { accuracyMatrixCsv, averageAccuracy, backwardTransfer, forgetting } from '@supermask/core';

describe('metrics', () => {
  const matrix = [
    [0.9, null, null],
    [0.8, 0.7, null],
    [0.85, 0.6, 0.5],
  ];
  it('computes average accuracy from the last row', () => {
    expect(averageAccuracy(matrix)).toBeCloseTo((0.85 + 0.6 + 0.5) / 3, 10);
  });
  it('computes forgetting from the best earlier accuracy', () => {
    // task 1: best 0.9, last 0.85 -> 0.05; task 2: best 0.7, last 0.6 -> 0.1
    expect(forgetting(matrix)).toBeCloseTo(0.075, 10);
    expect(forgetting([[0.9, null], [0.9, 0.8]])).toBe(0);
    expect(backwardTransfer(matrix)).toBeCloseTo((-0.05 - 0.1) / 2, 10);
  });
  it('writes the matrix as CSV with empty cells above the diagonal', () => {
    expect(accuracyMatrixCsv([[0.5, null], [0.25, 1]])).toBe('after_task,task_1,task_2\n1,0.500000,\n2,0.250000,1.000000\n');
  });
});
