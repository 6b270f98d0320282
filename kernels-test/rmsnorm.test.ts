import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RMS_NORM_EPS, RMS_NORM_VARIANTS, rmsNormBackwardReference, rmsNormForwardReference, rmsNormSizes, type RmsNormShape, type RmsNormVariant } from '../src/kernels/rmsnorm.js';
import { clobberedGuards } from '../src/testing/ops/mlp.js';
import { expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

// Rows shorter than, equal to and longer than the 64-wide workgroup, the TRM hidden size 512
// and SwiGLU width 1536; columns counts that straddle 64 invocations, the Sudoku sequence
// length 97 with 512 channels, and the 30×30 sequence length 916.
const SHAPES: RmsNormShape[] = [
  { axis: 'last', rows: 1, hidden: 1 },
  { axis: 'last', rows: 2, hidden: 2 },
  { axis: 'last', rows: 3, hidden: 3 },
  { axis: 'last', rows: 4, hidden: 5 },
  { axis: 'last', rows: 3, hidden: 63 },
  { axis: 'last', rows: 2, hidden: 64 },
  { axis: 'last', rows: 2, hidden: 65 },
  { axis: 'last', rows: 5, hidden: 129 },
  { axis: 'last', rows: 97, hidden: 512 },
  { axis: 'last', rows: 3, hidden: 1536 },
  { axis: 'middle', batch: 1, length: 1, channels: 1 },
  { axis: 'middle', batch: 2, length: 2, channels: 3 },
  { axis: 'middle', batch: 1, length: 3, channels: 5 },
  { axis: 'middle', batch: 2, length: 97, channels: 7 },
  { axis: 'middle', batch: 3, length: 5, channels: 65 },
  { axis: 'middle', batch: 1, length: 97, channels: 512 },
  { axis: 'middle', batch: 1, length: 916, channels: 3 },
];

function describeShape(shape: RmsNormShape): string {
  return shape.axis === 'last' ? `last ${shape.rows}x${shape.hidden}` : `middle ${shape.batch}x${shape.length}x${shape.channels}`;
}

function normLength(shape: RmsNormShape): number {
  return shape.axis === 'last' ? shape.hidden : shape.length;
}

/** Indices into x of the elements of one normalised vector. */
function vectorIndices(shape: RmsNormShape, vector: number): number[] {
  if (shape.axis === 'last') return Array.from({ length: shape.hidden }, (_, j) => vector * shape.hidden + j);
  const batch = Math.floor(vector / shape.channels);
  const base = batch * shape.length * shape.channels + (vector % shape.channels);
  return Array.from({ length: shape.length }, (_, j) => base + j * shape.channels);
}

/** Per element of dX, the sum of |terms|: rstd · (|dY| + |y| · mean(|dY ⊙ y|)). */
function backwardMagnitude(shape: RmsNormShape, dY: Float32Array, y: Float32Array, rstd: Float32Array): Float64Array {
  const magnitude = new Float64Array(dY.length);
  for (let vector = 0; vector < rstd.length; vector++) {
    const indices = vectorIndices(shape, vector);
    const meanTerm = indices.reduce((total, i) => total + Math.abs(dY[i] * y[i]), 0) / indices.length;
    for (const i of indices) magnitude[i] = rstd[vector] * (Math.abs(dY[i]) + Math.abs(y[i]) * meanTerm);
  }
  return magnitude;
}

for (const runtimeName of selectedRuntimes()) {
  describe(`rmsnorm on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    async function forward(shape: RmsNormShape, variant: RmsNormVariant, x: Float32Array) {
      const outputs = await runtime.run({ op: 'rmsnorm.forward', params: { shape, variant }, inputs: { x } });
      expect(clobberedGuards(outputs.yGuard), 'y guard').toEqual([]);
      expect(clobberedGuards(outputs.rstdGuard), 'rstd guard').toEqual([]);
      return { y: outputs.y as Float32Array, rstd: outputs.rstd as Float32Array };
    }

    async function backward(shape: RmsNormShape, variant: RmsNormVariant, dY: Float32Array, y: Float32Array, rstd: Float32Array) {
      const outputs = await runtime.run({ op: 'rmsnorm.backward', params: { shape, variant }, inputs: { dY, y, rstd } });
      expect(clobberedGuards(outputs.dXGuard), 'dX guard').toEqual([]);
      return outputs.dX as Float32Array;
    }

    function expectForwardClose(shape: RmsNormShape, x: Float32Array, actual: { y: Float32Array; rstd: Float32Array }): void {
      const expected = rmsNormForwardReference(shape, x);
      const tolerance = { abs: 1e-6, rel: 8, reductionLength: normLength(shape) };
      expectClose(actual.rstd, expected.rstd, tolerance, 'rstd');
      expectClose(actual.y, expected.y, tolerance, 'y');
    }

    function expectBackwardClose(shape: RmsNormShape, dY: Float32Array, y: Float32Array, rstd: Float32Array, dX: Float32Array): void {
      const expected = rmsNormBackwardReference(shape, dY, y, rstd);
      const magnitude = backwardMagnitude(shape, dY, y, rstd);
      expectClose(dX, expected, { abs: 1e-6, rel: 8, reductionLength: normLength(shape), magnitude }, 'dX');
    }

    const CASES = RMS_NORM_VARIANTS.flatMap((variant) => SHAPES.map((shape) => ({ name: `${variant} ${describeShape(shape)}`, variant, shape })));

    test.each(CASES)('forward $name', async ({ shape, variant }) => {
      const x = randomArray(rmsNormSizes(shape).x, rmsNormSizes(shape).x * 3 + 1, 3);
      expectForwardClose(shape, x, await forward(shape, variant, x));
    });

    test.each(CASES)('backward $name', async ({ shape, variant }) => {
      const sizes = rmsNormSizes(shape);
      const reference = rmsNormForwardReference(shape, randomArray(sizes.x, sizes.x * 5 + 2, 3));
      const y = Float32Array.from(reference.y);
      const rstd = Float32Array.from(reference.rstd);
      const dY = randomArray(sizes.x, sizes.x * 7 + 3);
      expectBackwardClose(shape, dY, y, rstd, await backward(shape, variant, dY, y, rstd));
    });

    // Vector 1 is all zeros and vector 2 contains a NaN. The others are random.
    const EDGE_SHAPES: RmsNormShape[] = [
      { axis: 'last', rows: 4, hidden: 3 },
      { axis: 'last', rows: 4, hidden: 512 },
      { axis: 'middle', batch: 2, length: 97, channels: 3 },
    ];

    const EDGE_CASES = RMS_NORM_VARIANTS.flatMap((variant) => EDGE_SHAPES.map((shape) => ({ name: `${variant} ${describeShape(shape)}`, variant, shape })));

    test.each(EDGE_CASES)('zero and NaN vectors $name', async ({ shape, variant }) => {
      const sizes = rmsNormSizes(shape);
      const x = randomArray(sizes.x, 41, 2);
      for (const i of vectorIndices(shape, 1)) x[i] = 0;
      x[vectorIndices(shape, 2)[1]] = Number.NaN;

      const { y, rstd } = await forward(shape, variant, x);
      expectForwardClose(shape, x, { y, rstd });
      expect(rstd[1], 'rstd of the zero vector').toBeCloseTo(1 / Math.sqrt(RMS_NORM_EPS), 1);
      for (const i of vectorIndices(shape, 1)) expect(y[i], `y[${i}] of the zero vector`).toBe(0);
      for (const i of vectorIndices(shape, 2)) expect(y[i], `y[${i}] of the NaN vector`).toBeNaN();
      const nanCount = y.filter(Number.isNaN).length;
      expect(nanCount, 'NaN stays in its vector').toBe(vectorIndices(shape, 2).length);

      const dY = randomArray(sizes.x, 42);
      const dX = await backward(shape, variant, dY, y, rstd);
      expectBackwardClose(shape, dY, y, rstd, dX);
      expect(dX.filter(Number.isNaN).length, 'NaN gradient stays in its vector').toBe(nanCount);
    });

    test('short rstd names the operand', async () => {
      const shape: RmsNormShape = { axis: 'middle', batch: 2, length: 3, channels: 8 };
      const x = new Float32Array(48);
      const run = runtime.run({ op: 'rmsnorm.backward', params: { shape }, inputs: { dY: x, y: x, rstd: new Float32Array(12) } });
      await expect(run).rejects.toThrow(/rmsnorm backward 'rmsnorm.backward': operand rstd needs 16 32-bit values/);
    });
  });
}
