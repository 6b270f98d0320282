// The float64 backward reference of the input encoding against central finite differences.
import { describe, expect, test } from 'vitest';
import { inputEmbeddingBackwardReference, inputEmbeddingReference, type EmbeddingShape } from '../src/kernels/embedding.js';
import { randomArray } from './compare.js';

// Repeated token ids (several positions share a row), repeated puzzle ids (two samples share
// a row) and untouched rows of both tables, so the gradient sums are exercised.
const shape: EmbeddingShape = { batch: 3, seq: 4, prefix: 2, hidden: 3, vocab: 6, puzzleRows: 4 };
const tokens = [0, 2, 2, 4, 1, 0, 4, 4, 2, 2, 2, 3];
const puzzleIds = [3, 0, 3];
const tokenTable = Float64Array.from(randomArray(shape.vocab * shape.hidden, 11));
const puzzleTable = Float64Array.from(randomArray(shape.puzzleRows * shape.hidden, 12));
const weights = randomArray((shape.prefix + shape.seq) * shape.batch * shape.hidden, 13);

/** Computes a nonlinear loss of x: L = Σ w·x + ½ Σ x², so dL/dx = w + x. */
function loss(tokenTableValues: Float64Array, puzzleTableValues: Float64Array): number {
  const x = inputEmbeddingReference(shape, tokens, tokenTableValues, puzzleIds, puzzleTableValues);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += weights[i] * x[i] + 0.5 * x[i] * x[i];
  return sum;
}

function lossGradientX(): Float64Array {
  const x = inputEmbeddingReference(shape, tokens, tokenTable, puzzleIds, puzzleTable);
  return x.map((value, i) => weights[i] + value);
}

function centralDifference(table: Float64Array, index: number, evaluate: () => number): number {
  const h = 1e-6;
  const saved = table[index];
  table[index] = saved + h;
  const plus = evaluate();
  table[index] = saved - h;
  const minus = evaluate();
  table[index] = saved;
  return (plus - minus) / (2 * h);
}

describe('input embedding backward reference', () => {
  const { dTokenTable, dPuzzle } = inputEmbeddingBackwardReference(shape, tokens, lossGradientX(), new Float64Array(shape.vocab * shape.hidden));
  const evaluate = () => loss(tokenTable, puzzleTable);

  test('dTokenTable matches central differences', () => {
    for (let i = 0; i < tokenTable.length; i++) {
      const numeric = centralDifference(tokenTable, i, evaluate);
      expect(Math.abs(dTokenTable[i] - numeric), `dTokenTable[${i}]: analytic ${dTokenTable[i]}, numeric ${numeric}`).toBeLessThan(1e-5 * (1 + Math.abs(numeric)));
    }
  });

  test('per-sample dPuzzle summed per id matches central differences', () => {
    const { hidden } = shape;
    for (let i = 0; i < puzzleTable.length; i++) {
      const row = Math.floor(i / hidden);
      let analytic = 0;
      for (let b = 0; b < shape.batch; b++) if (puzzleIds[b] === row) analytic += dPuzzle[b * hidden + (i % hidden)];
      const numeric = centralDifference(puzzleTable, i, evaluate);
      expect(Math.abs(analytic - numeric), `dPuzzleTable[${i}]: analytic ${analytic}, numeric ${numeric}`).toBeLessThan(1e-5 * (1 + Math.abs(numeric)));
    }
  });

  test('dTokenTable adds to its input', () => {
    const initial = Float64Array.from(randomArray(shape.vocab * shape.hidden, 14));
    const accumulated = inputEmbeddingBackwardReference(shape, tokens, lossGradientX(), initial).dTokenTable;
    for (let i = 0; i < initial.length; i++) expect(accumulated[i]).toBeCloseTo(initial[i] + dTokenTable[i], 12);
  });
});
