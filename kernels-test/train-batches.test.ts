import { describe, expect, test } from 'vitest';
import { generateSudokuSet } from '../src/data/generator.js';
import { SUDOKU_4X4, cellCount } from '../src/data/sudoku.js';
import { IGNORE_LABEL } from '../src/kernels/losses.js';
import { TrainingBatcher, evaluationBatches } from '../src/train/sudoku-batches.js';
import { renderTrainingPlot } from '../src/train/plot.js';

const set = generateSudokuSet(10, { seed: 3, geometry: SUDOKU_4X4 });
const cells = cellCount(SUDOKU_4X4);

describe('training batches', () => {
  test('every epoch visits each puzzle once', () => {
    const batcher = new TrainingBatcher(set, 5, 1, false);
    const seen = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const batch = batcher.next();
      for (let row = 0; row < 5; row++) seen.add(Array.from(batch.inputs.subarray(row * cells, (row + 1) * cells)).join(''));
    }
    expect(seen.size).toBe(10);
    expect(batcher.position).toEqual({ epoch: 0, position: 10 });
  });

  test('tokens are shifted cell values', () => {
    const batch = new TrainingBatcher(set, 10, 2, false).next();
    for (const token of batch.inputs) expect(token >= 1 && token <= 5).toBe(true);
    for (const token of batch.labels) expect(token >= 2 && token <= 5).toBe(true);
    expect(Array.from(batch.puzzleIds)).toEqual(new Array(10).fill(0));
  });

  test('resuming from a position repeats the stream', () => {
    const first = new TrainingBatcher(set, 4, 9, true);
    first.next();
    first.next();
    const state = first.position;
    const expected = [first.next(), first.next(), first.next()];

    const resumed = new TrainingBatcher(set, 4, 9, true, state);
    for (const batch of expected) {
      const again = resumed.next();
      expect(Array.from(again.inputs)).toEqual(Array.from(batch.inputs));
      expect(Array.from(again.labels)).toEqual(Array.from(batch.labels));
    }
  });

  test('augmentation changes puzzles between epochs', () => {
    const batcher = new TrainingBatcher(set, 10, 4, true);
    const epoch0 = new Set(splitRows(batcher.next().inputs));
    const epoch1 = new Set(splitRows(batcher.next().inputs));
    const repeated = [...epoch1].filter((row) => epoch0.has(row)).length;
    expect(repeated).toBeLessThan(10);
  });

  test('evaluation pads the last batch with ignored rows', () => {
    const batches = [...evaluationBatches(set, 4)];
    expect(batches.map((b) => b.validRows)).toEqual([4, 4, 2]);
    const last = batches[2];
    expect(Array.from(last.labels.subarray(2 * cells))).toEqual(new Array(2 * cells).fill(IGNORE_LABEL));
    expect(Array.from(last.inputs.subarray(2 * cells))).toEqual(new Array(2 * cells).fill(0));
  });
});

describe('training plot', () => {
  test('draws lines, dots and legends', () => {
    const svg = renderTrainingPlot(
      'run <1>',
      [{ label: 'loss', color: '#c00', points: [{ step: 1, value: 2 }, { step: 2, value: 1 }] }],
      [{ label: 'exact (eval)', color: '#00c', points: [{ step: 2, value: 0.5 }], dots: true }],
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('run &lt;1&gt;');
    expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+"/);
    expect(svg).toMatch(/<circle cx="[\d.]+" cy="[\d.]+" r="3"/);
    expect(svg).toContain('exact (eval)');
  });
});

function splitRows(tokens: Int32Array): string[] {
  const rows: string[] = [];
  for (let row = 0; row < tokens.length / cells; row++) rows.push(Array.from(tokens.subarray(row * cells, (row + 1) * cells)).join(''));
  return rows;
}
