import { describe, expect, test } from 'vitest';
import { accumulateBatch, emptyTotals, summarize } from '../src/train/evaluation.js';
import type { TokenBatch } from '../src/train/sudoku-batches.js';
import { IGNORE_LABEL } from '../src/kernels/losses.js';

// Two puzzles of 4 cells plus one padding row: tokens 1 = blank, 2… = digits.
const batch: TokenBatch = {
  inputs: Int32Array.from([2, 1, 1, 5, 1, 3, 1, 1, 0, 0, 0, 0]),
  labels: Int32Array.from([2, 3, 4, 5, 4, 3, 2, 5, ...new Array(4).fill(IGNORE_LABEL)]),
  puzzleIds: new Int32Array(3),
  validRows: 2,
};

describe('evaluation metrics', () => {
  test('scores the final step and first solved step', () => {
    const step1 = Int32Array.from([2, 3, 4, 5, 4, 3, 3, 3, 9, 9, 9, 9]);
    const step2 = Int32Array.from([2, 3, 4, 5, 4, 3, 2, 3, 9, 9, 9, 9]);
    const totals = emptyTotals();
    accumulateBatch(totals, batch, { tokens: [step1, step2], qHalt: [Float32Array.from([1, -1, 5]), Float32Array.from([2, 3, 5])] });
    const report = summarize(totals);

    expect(report.puzzles).toBe(2);
    expect(report.exactAccuracy).toBe(0.5);
    expect(report.tokenAccuracy).toBe(7 / 8);
    expect(report.copyBaselineTokenAccuracy).toBe(3 / 8);
    expect(report.blankAccuracy).toBe(4 / 5);
    expect(report.meanFirstSolvedStep).toBe(1);
    expect(report.solvedAtSomeStep).toBe(1);
    // Row 0: exact and q_halt > 0; row 1: wrong but q_halt > 0.
    expect(report.haltingAccuracy).toBe(0.5);
    expect(report.meanFirstHaltStep).toBe(1.5);
  });

  test('reports no solved step when none', () => {
    const wrong = new Int32Array(12).fill(9);
    const totals = emptyTotals();
    accumulateBatch(totals, batch, { tokens: [wrong], qHalt: [Float32Array.from([-1, -1, -1])] });
    const report = summarize(totals);
    expect(report.exactAccuracy).toBe(0);
    expect(report.meanFirstSolvedStep).toBeNull();
    expect(report.meanFirstHaltStep).toBeNull();
    expect(report.haltingAccuracy).toBe(1);
  });
});
