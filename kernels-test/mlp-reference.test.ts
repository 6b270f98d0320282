// Checks the float64 backward references of SwiGLU and RMSNorm against central finite
// differences of their forward references. CPU only: no runtime is opened.
import { describe, expect, test } from 'vitest';
import { RMS_NORM_EPS, rmsNormBackwardReference, rmsNormForwardReference, rmsNormSizes, type RmsNormShape } from '../src/kernels/rmsnorm.js';
import { sigmoid, silu, siluDerivative, swigluBackwardReference, swigluForwardReference, swigluSizes, type SwigluShape } from '../src/kernels/swiglu.js';
import { randomArray } from './compare.js';

const STEP = 1e-5;

/** Σ weights ⊙ f(x), the scalar whose gradient the backward reference computes for dOut = weights. */
function weightedSum(weights: ArrayLike<number>, out: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < out.length; i++) total += weights[i] * out[i];
  return total;
}

/** Central differences of loss at x, one input element at a time. */
function numericGradient(x: Float64Array, loss: (x: Float64Array) => number, step = STEP): Float64Array {
  const gradient = new Float64Array(x.length);
  for (let j = 0; j < x.length; j++) {
    const saved = x[j];
    x[j] = saved + step;
    const up = loss(x);
    x[j] = saved - step;
    const down = loss(x);
    x[j] = saved;
    gradient[j] = (up - down) / (2 * step);
  }
  return gradient;
}

function expectGradientsClose(analytic: ArrayLike<number>, numeric: ArrayLike<number>, label: string): void {
  expect(analytic.length, `${label}: length`).toBe(numeric.length);
  for (let j = 0; j < numeric.length; j++) {
    const allowed = 1e-6 * (1 + Math.abs(numeric[j]));
    expect(Math.abs(analytic[j] - numeric[j]), `${label}[${j}]: analytic ${analytic[j]}, numeric ${numeric[j]}`).toBeLessThanOrEqual(allowed);
  }
}

describe('sigmoid and silu references', () => {
  test('exact and finite at ±1000', () => {
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoid(-1000)).toBe(0);
    expect(silu(1000)).toBe(1000);
    expect(Math.abs(silu(-1000))).toBe(0);
    expect(siluDerivative(1000)).toBe(1);
    expect(Math.abs(siluDerivative(-1000))).toBe(0);
  });

  test('NaN propagates', () => {
    expect(sigmoid(Number.NaN)).toBeNaN();
    expect(silu(Number.NaN)).toBeNaN();
    expect(siluDerivative(Number.NaN)).toBeNaN();
  });

  test('silu derivative matches differences', () => {
    const points = Float64Array.from([-30, -8, -1.5, -0.25, 0, 0.25, 1.5, 8, 30]);
    const numeric = points.map((x) => (silu(x + STEP) - silu(x - STEP)) / (2 * STEP));
    expectGradientsClose(points.map(siluDerivative), numeric, "silu'");
  });
});

const SWIGLU_SHAPES: SwigluShape[] = [
  { axis: 'last', rows: 1, inner: 1 },
  { axis: 'last', rows: 3, inner: 5 },
  { axis: 'middle', batch: 1, inner: 2, channels: 3 },
  { axis: 'middle', batch: 2, inner: 3, channels: 4 },
];

describe('swiglu backward reference', () => {
  test.each(SWIGLU_SHAPES)('matches differences: %o', (shape) => {
    const sizes = swigluSizes(shape);
    const gateUp = Float64Array.from(randomArray(sizes.gateUp, 11, 4));
    const dHidden = Float64Array.from(randomArray(sizes.hidden, 12));

    const analytic = swigluBackwardReference(shape, gateUp, dHidden);
    const numeric = numericGradient(gateUp, (input) => weightedSum(dHidden, swigluForwardReference(shape, input)));
    expectGradientsClose(analytic, numeric, 'dGateUp');
  });
});

const RMS_NORM_SHAPES: RmsNormShape[] = [
  { axis: 'last', rows: 1, hidden: 1 },
  { axis: 'last', rows: 2, hidden: 2 },
  { axis: 'last', rows: 3, hidden: 3 },
  { axis: 'last', rows: 2, hidden: 17 },
  { axis: 'middle', batch: 1, length: 1, channels: 1 },
  { axis: 'middle', batch: 2, length: 3, channels: 2 },
  { axis: 'middle', batch: 2, length: 7, channels: 3 },
];

describe('rmsnorm backward reference', () => {
  test.each(RMS_NORM_SHAPES)('matches differences: %o', (shape) => {
    const sizes = rmsNormSizes(shape);
    const x = Float64Array.from(randomArray(sizes.x, 21, 2));
    const dY = Float64Array.from(randomArray(sizes.x, 22));

    const { y, rstd } = rmsNormForwardReference(shape, x);
    const analytic = rmsNormBackwardReference(shape, dY, y, rstd);
    const numeric = numericGradient(x, (input) => weightedSum(dY, rmsNormForwardReference(shape, input).y));
    expectGradientsClose(analytic, numeric, 'dX');
  });

  test('zero vector: y = 0, dX = dY / sqrt(eps)', () => {
    const shape: RmsNormShape = { axis: 'last', rows: 1, hidden: 4 };
    const x = new Float64Array(4);
    const dY = Float64Array.from([0.5, -1, 2, 0.25]);

    const { y, rstd } = rmsNormForwardReference(shape, x);
    expect(Array.from(y)).toEqual([0, 0, 0, 0]);
    expect(rstd[0]).toBeCloseTo(1 / Math.sqrt(RMS_NORM_EPS), 9);

    // Near x = 0 the curvature scale is sqrt(eps) ≈ 3e-3, so the step must be far smaller.
    const analytic = rmsNormBackwardReference(shape, dY, y, rstd);
    const numeric = numericGradient(x, (input) => weightedSum(dY, rmsNormForwardReference(shape, input).y), 1e-8);
    expectGradientsClose(analytic, numeric, 'dX');
  });
});
