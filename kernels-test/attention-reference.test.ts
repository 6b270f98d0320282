// The float64 references that the attention and RoPE kernels are tested against, checked
// against central finite differences and against properties of the rotation.
import { describe, expect, test } from 'vitest';
import { attentionBackwardReference, attentionForwardReference, attentionSizes, qkvIndex, type AttentionShape } from '../src/kernels/attention.js';
import { ropeReference } from '../src/kernels/rope.js';
import { randomArray } from './compare.js';

const STEP = 1e-5;

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** Estimates the gradient of a scalar function at x by central differences, one coordinate at a time. */
function numericGradient(x: Float64Array, loss: (x: Float64Array) => number): Float64Array {
  const gradient = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i];
    x[i] = saved + STEP;
    const plus = loss(x);
    x[i] = saved - STEP;
    const minus = loss(x);
    x[i] = saved;
    gradient[i] = (plus - minus) / (2 * STEP);
  }
  return gradient;
}

function expectGradientsClose(analytic: Float64Array, numeric: Float64Array, label: string): void {
  expect(analytic.length, `${label}: length`).toBe(numeric.length);
  for (let i = 0; i < numeric.length; i++) {
    expect(Math.abs(analytic[i] - numeric[i]), `${label}[${i}]: analytic ${analytic[i]}, numeric ${numeric[i]}`).toBeLessThan(1e-8 + 1e-6 * Math.abs(numeric[i]));
  }
}

const ATTENTION_SHAPES: AttentionShape[] = [
  { batch: 1, seq: 1, heads: 1, headDim: 4 },
  { batch: 2, seq: 3, heads: 2, headDim: 4 },
  { batch: 1, seq: 5, heads: 1, headDim: 8 },
];

describe('attention reference', () => {
  test.each(ATTENTION_SHAPES)('backward matches finite differences: batch $batch seq $seq heads $heads headDim $headDim', (shape) => {
    const sizes = attentionSizes(shape);
    const qkv = Float64Array.from(randomArray(sizes.qkv, 11, 1.5));
    const dOut = Float64Array.from(randomArray(sizes.out, 12));

    const numeric = numericGradient(qkv, (x) => dot(dOut, attentionForwardReference(shape, x).out));

    expectGradientsClose(attentionBackwardReference(shape, qkv, dOut), numeric, 'dqkv');
  });

  test('logsumexp of equal scores is log(seq)', () => {
    const shape = { batch: 1, seq: 7, heads: 1, headDim: 4 };
    const qkv = Float64Array.from(randomArray(attentionSizes(shape).qkv, 13));
    for (let position = 0; position < shape.seq; position++) {
      for (let d = 0; d < shape.headDim; d++) qkv[qkvIndex(shape, 0, 0, position, 0, d)] = 0;
    }

    const { out, logsumexp } = attentionForwardReference(shape, qkv);

    for (const value of logsumexp) expect(value).toBeCloseTo(Math.log(shape.seq), 14);
    for (let d = 0; d < shape.headDim; d++) {
      let mean = 0;
      for (let position = 0; position < shape.seq; position++) mean += qkv[qkvIndex(shape, 2, 0, position, 0, d)] / shape.seq;
      expect(out[d], `out channel ${d}`).toBeCloseTo(mean, 14);
    }
  });
});

describe('rope reference', () => {
  const shape: AttentionShape = { batch: 2, seq: 5, heads: 2, headDim: 8 };
  const size = attentionSizes(shape).qkv;

  test('backward matches finite differences', () => {
    const qkv = Float64Array.from(randomArray(size, 21));
    const weights = Float64Array.from(randomArray(size, 22));

    const numeric = numericGradient(qkv, (x) => dot(weights, ropeReference(shape, x, 'forward')));

    expectGradientsClose(ropeReference(shape, weights, 'backward'), numeric, 'dqkv');
  });

  test('backward undoes forward', () => {
    const qkv = Float64Array.from(randomArray(size, 23));

    const roundTrip = ropeReference(shape, ropeReference(shape, qkv, 'forward'), 'backward');

    for (let i = 0; i < size; i++) expect(roundTrip[i], `element ${i}`).toBeCloseTo(qkv[i], 12);
  });

  test('position 0 and v are unchanged', () => {
    const qkv = Float64Array.from(randomArray(size, 24));

    const rotated = ropeReference(shape, qkv, 'forward');

    for (let position = 0; position < shape.seq; position++) {
      for (let d = 0; d < shape.headDim; d++) {
        const v = qkvIndex(shape, 2, 1, position, 1, d);
        expect(rotated[v], `v at position ${position} channel ${d}`).toBe(qkv[v]);
      }
    }
    for (let d = 0; d < shape.headDim; d++) {
      const q = qkvIndex(shape, 0, 1, 0, 1, d);
      expect(rotated[q], `q at position 0 channel ${d}`).toBe(qkv[q]);
    }
  });

  test('q·k depends only on the position offset', () => {
    // The same q and k vectors at every position: rotated q_m · k_n must equal q_{m+t} · k_{n+t}.
    const wide: AttentionShape = { batch: 1, seq: 12, heads: 1, headDim: 8 };
    const q = randomArray(wide.headDim, 25);
    const k = randomArray(wide.headDim, 26);
    const qkv = new Float64Array(attentionSizes(wide).qkv);
    for (let position = 0; position < wide.seq; position++) {
      for (let d = 0; d < wide.headDim; d++) {
        qkv[qkvIndex(wide, 0, 0, position, 0, d)] = q[d];
        qkv[qkvIndex(wide, 1, 0, position, 0, d)] = k[d];
      }
    }

    const rotated = ropeReference(wide, qkv, 'forward');
    const head = (section: number, position: number) => rotated.subarray(qkvIndex(wide, section, 0, position, 0, 0), qkvIndex(wide, section, 0, position, 0, wide.headDim));

    for (const [m, n] of [[3, 1], [0, 7], [5, 5]]) {
      expect(dot(head(0, m + 4), head(1, n + 4)), `q${m}·k${n}`).toBeCloseTo(dot(head(0, m), head(1, n)), 12);
    }
  });

  test('frequency i turns by base^(-2i/headDim) per position', () => {
    // Position 1, head vector e_i: q'[i] = cos(θ_i), q'[i + half] = sin(θ_i).
    const single: AttentionShape = { batch: 1, seq: 2, heads: 1, headDim: 8 };
    const half = single.headDim / 2;
    for (let i = 0; i < half; i++) {
      const qkv = new Float64Array(attentionSizes(single).qkv);
      qkv[qkvIndex(single, 0, 0, 1, 0, i)] = 1;

      const rotated = ropeReference(single, qkv, 'forward');

      const angle = 10000 ** ((-2 * i) / single.headDim);
      expect(rotated[qkvIndex(single, 0, 0, 1, 0, i)], `cos of frequency ${i}`).toBeCloseTo(Math.cos(angle), 14);
      expect(rotated[qkvIndex(single, 0, 0, 1, 0, i + half)], `sin of frequency ${i}`).toBeCloseTo(Math.sin(angle), 14);
    }
  });
});
