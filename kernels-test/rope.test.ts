import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { attentionSizes, qkvIndex, type AttentionShape } from '../src/kernels/attention.js';
import { ropeReference, type RopeDirection } from '../src/kernels/rope.js';
import { expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

// Lengths cover the TRM sequences (97 = 16 prefix slots + 81 Sudoku cells, 916 = 16 + 30×30);
// head sizes cover 64 and smaller even sizes down to one rotated pair.
const SHAPES: AttentionShape[] = [
  { batch: 1, seq: 1, heads: 1, headDim: 64 },
  { batch: 2, seq: 3, heads: 8, headDim: 64 },
  { batch: 3, seq: 17, heads: 3, headDim: 8 },
  { batch: 1, seq: 5, heads: 2, headDim: 2 },
  { batch: 2, seq: 97, heads: 8, headDim: 64 },
  { batch: 1, seq: 916, heads: 8, headDim: 64 },
];

const DIRECTIONS: RopeDirection[] = ['forward', 'backward'];

const CASES = SHAPES.flatMap((shape) => DIRECTIONS.map((direction) => ({ shape, direction })));

/** Returns the sum of |terms| of each output: |x[d]| + |x[partner]| for rotated channels, |x[d]| for v. */
function magnitudes(shape: AttentionShape, qkv: Float32Array): Float64Array {
  const result = Float64Array.from(qkv, Math.abs);
  const half = shape.headDim / 2;
  for (let batch = 0; batch < shape.batch; batch++) {
    for (let position = 0; position < shape.seq; position++) {
      for (const section of [0, 1]) {
        for (let head = 0; head < shape.heads; head++) {
          for (let d = 0; d < shape.headDim; d++) {
            const partner = d < half ? d + half : d - half;
            result[qkvIndex(shape, section, batch, position, head, d)] += Math.abs(qkv[qkvIndex(shape, section, batch, position, head, partner)]);
          }
        }
      }
    }
  }
  return result;
}

/** Returns the indices of v-section elements that differ from the input, which must pass through untouched. */
function changedValues(shape: AttentionShape, before: Float32Array, after: Float32Array): number[] {
  const changed: number[] = [];
  for (let batch = 0; batch < shape.batch; batch++) {
    for (let position = 0; position < shape.seq; position++) {
      const start = qkvIndex(shape, 2, batch, position, 0, 0);
      for (let i = start; i < start + shape.heads * shape.headDim; i++) {
        if (!Object.is(before[i], after[i])) changed.push(i);
      }
    }
  }
  return changed;
}

for (const runtimeName of selectedRuntimes()) {
  describe(`rope on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    test.each(CASES)('$direction: batch $shape.batch seq $shape.seq heads $shape.heads headDim $shape.headDim', async ({ shape, direction }) => {
      const qkv = randomArray(attentionSizes(shape).qkv, shape.seq * 131 + shape.headDim, 2);

      const outputs = await runtime.run({ op: 'rope', params: { shape, direction }, inputs: { qkv } });

      const expected = ropeReference(shape, qkv, direction);
      expectClose(outputs.qkv, expected, { abs: 0, rel: 4, reductionLength: 2, magnitude: magnitudes(shape, qkv) }, `${direction} qkv`);
      expect(changedValues(shape, qkv, outputs.qkv as Float32Array), 'v elements changed').toEqual([]);
    });
  });
}
