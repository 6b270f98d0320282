import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { foldWorkgroups } from '../src/gpu/gpu.js';
import { embeddingSizes, inputEmbeddingBackwardReference, inputEmbeddingReference, type EmbeddingShape } from '../src/kernels/embedding.js';
import { expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

const TRM_SUDOKU: EmbeddingShape = { batch: 3, seq: 81, prefix: 16, hidden: 512, vocab: 11, puzzleRows: 1 };

// Element counts straddle the 64-invocation workgroup; hidden sizes are odd and not multiples
// of 4; vocab 11 and prefix 16 are the Sudoku model's.
const SHAPES: EmbeddingShape[] = [
  { batch: 1, seq: 1, prefix: 1, hidden: 1, vocab: 1, puzzleRows: 1 },
  { batch: 2, seq: 7, prefix: 2, hidden: 3, vocab: 6, puzzleRows: 3 },
  { batch: 3, seq: 5, prefix: 16, hidden: 63, vocab: 11, puzzleRows: 4 },
  { batch: 2, seq: 9, prefix: 3, hidden: 65, vocab: 12, puzzleRows: 2 },
  { batch: 1, seq: 3, prefix: 1, hidden: 64, vocab: 5, puzzleRows: 1 },
  TRM_SUDOKU,
  { ...TRM_SUDOKU, puzzleRows: 5 },
];

// 85 · 97 · 512 elements need more than 65535 workgroups of 64, so the dispatch folds into y.
const FOLDED: EmbeddingShape = { ...TRM_SUDOKU, batch: 85 };

function randomIds(count: number, rows: number, seed: number): Int32Array {
  return Int32Array.from(randomArray(count, seed), (value) => Math.min(rows - 1, Math.floor(((value + 1) / 2) * rows)));
}

function forwardInputs(shape: EmbeddingShape, seed: number) {
  const sizes = embeddingSizes(shape);
  return {
    tokens: randomIds(sizes.tokens, shape.vocab, seed),
    tokenTable: randomArray(sizes.tokenTable, seed + 1),
    puzzleIds: randomIds(sizes.puzzleIds, shape.puzzleRows, seed + 2),
    puzzleTable: randomArray(sizes.puzzleTable, seed + 3),
  };
}

function backwardInputs(shape: EmbeddingShape, seed: number) {
  const sizes = embeddingSizes(shape);
  return {
    tokens: randomIds(sizes.tokens, shape.vocab, seed),
    dX: randomArray(sizes.x, seed + 1),
    dTokenTable: randomArray(sizes.tokenTable, seed + 2),
  };
}

function describeShape(shape: EmbeddingShape): string {
  const { batch, seq, prefix, hidden, vocab, puzzleRows } = shape;
  return `batch ${batch}, seq ${seq}, prefix ${prefix}, hidden ${hidden}, vocab ${vocab}, ${puzzleRows} puzzle rows`;
}

/** Expects x within rounding of f32(table · f32(sqrt(hidden))), two roundings at most. */
function expectForward(actual: Float32Array, expected: Float64Array, label: string): void {
  expectClose(actual, expected, { abs: 0, rel: 4, reductionLength: 1 }, label);
}

function expectBackward(shape: EmbeddingShape, outputs: Record<string, ArrayLike<number>>, inputs: ReturnType<typeof backwardInputs>): void {
  const expected = inputEmbeddingBackwardReference(shape, inputs.tokens, inputs.dX, inputs.dTokenTable);
  const magnitude = inputEmbeddingBackwardReference(shape, inputs.tokens, inputs.dX.map(Math.abs), inputs.dTokenTable.map(Math.abs));
  const reductionLength = shape.batch * shape.seq;
  expectClose(outputs.dTokenTable, expected.dTokenTable, { abs: 0, rel: 4, reductionLength, magnitude: magnitude.dTokenTable }, 'dTokenTable');
  expectClose(outputs.dPuzzle, expected.dPuzzle, { abs: 0, rel: 4, reductionLength: 1 }, 'dPuzzle');
}

for (const runtimeName of selectedRuntimes()) {
  describe(`input embedding on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    test.each(SHAPES.map((shape) => ({ name: describeShape(shape), shape })))('forward: $name', async ({ shape }) => {
      const inputs = forwardInputs(shape, shape.hidden * 31 + shape.seq);
      const outputs = await runtime.run({ op: 'embedding.forward', params: { shape }, inputs });

      const expected = inputEmbeddingReference(shape, inputs.tokens, inputs.tokenTable, inputs.puzzleIds, inputs.puzzleTable);
      expectForward(outputs.x as Float32Array, expected, 'x');
    });

    test('forward with a folded dispatch: batch 85 of the Sudoku shape', async () => {
      expect(foldWorkgroups(Math.ceil(embeddingSizes(FOLDED).x / 64))[1]).toBeGreaterThan(1);
      const inputs = forwardInputs(FOLDED, 85);
      const outputs = await runtime.run({ op: 'embedding.forward', params: { shape: FOLDED }, inputs });

      const expected = inputEmbeddingReference(FOLDED, inputs.tokens, inputs.tokenTable, inputs.puzzleIds, inputs.puzzleTable);
      expectForward(outputs.x as Float32Array, expected, 'x');
    });

    test.each(SHAPES.map((shape) => ({ name: describeShape(shape), shape })))('backward: $name', async ({ shape }) => {
      const inputs = backwardInputs(shape, shape.hidden * 17 + shape.seq);
      const outputs = await runtime.run({ op: 'embedding.backward', params: { shape }, inputs });
      expectBackward(shape, outputs, inputs);
    });

    test('backward is bitwise reproducible', async () => {
      const inputs = backwardInputs(TRM_SUDOKU, 3);
      const first = await runtime.run({ op: 'embedding.backward', params: { shape: TRM_SUDOKU }, inputs });
      const second = await runtime.run({ op: 'embedding.backward', params: { shape: TRM_SUDOKU }, inputs });
      expect(new Uint32Array(second.dTokenTable.buffer)).toEqual(new Uint32Array(first.dTokenTable.buffer));
    });

    test('out-of-range ids in host data are rejected before upload', async () => {
      const shape = SHAPES[2];
      const inputs = forwardInputs(shape, 7);
      inputs.tokens[4] = shape.vocab;
      await expect(runtime.run({ op: 'embedding.forward', params: { shape }, inputs })).rejects.toThrow(
        /embedding\.forward: tokens\[4\] is 11, but ids must be integers in \[0, 11\)/,
      );
      inputs.tokens[4] = 0;
      inputs.puzzleIds[1] = -1;
      await expect(runtime.run({ op: 'embedding.forward', params: { shape }, inputs })).rejects.toThrow(/puzzleIds\[1\] is -1/);
    });

    test('out-of-range ids on the GPU turn their rows into NaN, and only those', async () => {
      const shape = SHAPES[2];
      const { seq, prefix, hidden } = shape;
      const inputs = forwardInputs(shape, 9);
      const badTokens: [number, number][] = [[0, -1], [6, shape.vocab], [7, 2 ** 31 - 1], [14, -(2 ** 31)]];
      const expected = inputEmbeddingReference(shape, inputs.tokens.map((id, i) => (badTokens.some(([at]) => at === i) ? 0 : id)), inputs.tokenTable, inputs.puzzleIds.map((id, b) => (b === 1 ? 0 : id)), inputs.puzzleTable);
      for (const [at, id] of badTokens) inputs.tokens[at] = id;
      inputs.puzzleIds[1] = shape.puzzleRows;

      const poisonRow = (position: number) => expected.fill(Number.NaN, position * hidden, (position + 1) * hidden);
      for (const [at] of badTokens) poisonRow(Math.floor(at / seq) * (prefix + seq) + prefix + (at % seq));
      poisonRow(1 * (prefix + seq));

      const outputs = await runtime.run({ op: 'embedding.forward', params: { shape, checkIds: false }, inputs });
      expectForward(outputs.x as Float32Array, expected, 'x');
    });

    test('out-of-range token ids on the GPU contribute no gradient', async () => {
      const shape = SHAPES[2];
      const { seq, prefix, hidden } = shape;
      const inputs = backwardInputs(shape, 10);
      const clean = { ...inputs, tokens: inputs.tokens.slice(), dX: inputs.dX.slice() };
      for (const [at, id] of [[2, -1], [8, shape.vocab]]) {
        inputs.tokens[at] = id;
        clean.tokens[at] = 0;
        const position = Math.floor(at / seq) * (prefix + seq) + prefix + (at % seq);
        clean.dX.fill(0, position * hidden, (position + 1) * hidden);
      }

      const outputs = await runtime.run({ op: 'embedding.backward', params: { shape, checkIds: false }, inputs });
      expectBackward(shape, outputs, clean);
    });
  });
}
