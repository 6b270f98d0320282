// The float64 loss references against hand-computed values and central finite differences.
// Pure CPU: no runtime is opened.
import { describe, expect, test } from 'vitest';
import {
  CROSS_ENTROPY_KINDS,
  IGNORE_LABEL,
  argmaxReference,
  bceWithLogitsReference,
  crossEntropyReference,
  sequenceAccuracyReference,
  stablemaxScore,
  tokenCrossEntropyReference,
  type CrossEntropyConfig,
} from '../src/kernels/losses.js';
import { randomArray } from './compare.js';

/** Central difference of f at x along each coordinate, in float64. */
function numericalGradient(f: (x: Float64Array) => number, x: Float64Array, step: number): Float64Array {
  const gradient = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i];
    x[i] = saved + step;
    const plus = f(x);
    x[i] = saved - step;
    const minus = f(x);
    x[i] = saved;
    gradient[i] = (plus - minus) / (2 * step);
  }
  return gradient;
}

function expectGradientClose(analytic: ArrayLike<number>, numeric: ArrayLike<number>, tolerance: number): void {
  expect(analytic.length).toBe(numeric.length);
  for (let i = 0; i < numeric.length; i++) {
    expect(Math.abs(analytic[i] - numeric[i]), `element ${i}: analytic ${analytic[i]}, numeric ${numeric[i]}`).toBeLessThanOrEqual(tolerance * (1 + Math.abs(numeric[i])));
  }
}

function randomLabels(tokens: number, vocab: number, seed: number): Int32Array {
  const draws = randomArray(tokens, seed);
  return Int32Array.from(draws, (u) => (u < -0.7 ? IGNORE_LABEL : Math.floor(((u + 1) / 2) * vocab)));
}

function totalLoss(config: CrossEntropyConfig, logits: ArrayLike<number>, labels: Int32Array): number {
  return config.lossScale * crossEntropyReference(config, logits, labels).seqLoss.reduce((sum, loss) => sum + loss, 0);
}

describe('stable-max score', () => {
  test('matches v + 1 and 1 / (1 - v)', () => {
    expect(stablemaxScore(0)).toBe(1);
    expect(stablemaxScore(2)).toBe(3);
    expect(stablemaxScore(-1)).toBe(0.5);
    expect(stablemaxScore(-3)).toBe(0.25);
    expect(stablemaxScore(-Infinity)).toBe(0);
  });
});

describe('token cross-entropy reference', () => {
  test('stable-max hand-computed token', () => {
    const { loss, dLogits } = tokenCrossEntropyReference('stablemax', [0, 1, -1], 1);
    // s = [1, 2, 0.5], Σ s = 3.5, slopes 1 / (1 + |l|) = [1, 0.5, 0.5].
    expect(loss).toBeCloseTo(Math.log(3.5 / 2), 14);
    expect(dLogits[0]).toBeCloseTo(1 / 3.5, 14);
    expect(dLogits[1]).toBeCloseTo(0.5 * (2 / 3.5 - 1), 14);
    expect(dLogits[2]).toBeCloseTo(0.5 * (0.5 / 3.5), 14);
  });

  test('softmax matches log-softmax', () => {
    const logits = [0.3, -1.2, 2.5, 0];
    const logTotal = Math.log(logits.reduce((sum, l) => sum + Math.exp(l), 0));
    const { loss, dLogits } = tokenCrossEntropyReference('softmax', logits, 2);
    expect(loss).toBeCloseTo(logTotal - 2.5, 14);
    for (let j = 0; j < logits.length; j++) expect(dLogits[j]).toBeCloseTo(Math.exp(logits[j] - logTotal) - (j === 2 ? 1 : 0), 14);
  });

  test('softmax of ±1e4 stays finite', () => {
    const { loss, dLogits } = tokenCrossEntropyReference('softmax', [1e4, -1e4, 1e4], 1);
    expect(loss).toBeCloseTo(2e4 + Math.log(2), 10);
    expect(Array.from(dLogits)).toEqual([0.5, -1, 0.5]);
  });

  test.each(CROSS_ENTROPY_KINDS)('%s: every logit -inf is uniform', (kind) => {
    const { loss, dLogits } = tokenCrossEntropyReference(kind, [-Infinity, -Infinity, -Infinity, -Infinity], 3);
    expect(loss).toBeCloseTo(Math.log(4), 14);
    const expected = kind === 'stablemax' ? [0, 0, 0, 0] : [0.25, 0.25, 0.25, -0.75];
    for (let j = 0; j < 4; j++) expect(dLogits[j]).toBeCloseTo(expected[j], 14);
  });

  test.each(CROSS_ENTROPY_KINDS)('%s: -inf definition is the equal-logits limit', (kind) => {
    const atInfinity = tokenCrossEntropyReference(kind, [-Infinity, -Infinity, -Infinity], 0);
    const far = tokenCrossEntropyReference(kind, [-1e12, -1e12, -1e12], 0);
    expect(far.loss).toBeCloseTo(atInfinity.loss, 10);
    for (let j = 0; j < 3; j++) expect(far.dLogits[j]).toBeCloseTo(atInfinity.dLogits[j], 10);
  });

  test.each(CROSS_ENTROPY_KINDS)('%s: every logit -1e30 is uniform', (kind) => {
    const { loss } = tokenCrossEntropyReference(kind, new Array(11).fill(-1e30), 4);
    expect(loss).toBeCloseTo(Math.log(11), 12);
  });

  test.each(CROSS_ENTROPY_KINDS)('%s: -inf logit has probability zero', (kind) => {
    const { loss, dLogits } = tokenCrossEntropyReference(kind, [1, -Infinity, 0.5], 0);
    const reference = tokenCrossEntropyReference(kind, [1, 0.5], 0);
    expect(loss).toBeCloseTo(reference.loss, 14);
    expect(dLogits[1]).toBe(0);
    expect(dLogits[2]).toBeCloseTo(reference.dLogits[1], 14);
  });

  test.each(CROSS_ENTROPY_KINDS)('%s: label on a -inf logit costs +inf', (kind) => {
    const { loss, dLogits } = tokenCrossEntropyReference(kind, [1, -Infinity, 0.5], 1);
    expect(loss).toBe(Infinity);
    for (const value of dLogits) expect(Number.isFinite(value)).toBe(true);
  });

  test.each(CROSS_ENTROPY_KINDS)('%s: NaN, +inf and bad labels give NaN', (kind) => {
    for (const [logits, label] of [[[0, NaN, 1], 0], [[0, Infinity, 1], 0], [[0, 2, 1], 3], [[0, 2, 1], -1]] as [number[], number][]) {
      const { loss, dLogits } = tokenCrossEntropyReference(kind, logits, label);
      expect(loss, `logits ${logits}, label ${label}`).toBeNaN();
      for (const value of dLogits) expect(value).toBeNaN();
    }
  });
});

describe('cross-entropy reference gradients', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [2, 5, 4],
    [3, 4, 11],
  ];

  for (const kind of CROSS_ENTROPY_KINDS) {
    test.each(shapes)(`${kind}: finite differences %ix%ix%i`, (batch, seq, vocab) => {
      const config: CrossEntropyConfig = { kind, batch, seq, vocab, lossScale: 0.75 / batch };
      const logits = Float64Array.from(randomArray(batch * seq * vocab, batch * 100 + vocab, 4));
      const labels = randomLabels(batch * seq, vocab, vocab);

      const { dLogits } = crossEntropyReference(config, logits, labels);
      const numeric = numericalGradient((x) => totalLoss(config, x, labels), logits, 1e-6);
      expectGradientClose(dLogits, numeric, 1e-7);
    });

    test(`${kind}: finite differences at large logits`, () => {
      const config: CrossEntropyConfig = { kind, batch: 2, seq: 3, vocab: 6, lossScale: 1 };
      const logits = Float64Array.from(randomArray(36, 91, 40));
      const labels = Int32Array.from([0, 5, 2, 1, IGNORE_LABEL, 3]);

      const { dLogits } = crossEntropyReference(config, logits, labels);
      const numeric = numericalGradient((x) => totalLoss(config, x, labels), logits, 1e-5);
      expectGradientClose(dLogits, numeric, 1e-7);
    });
  }

  test('ignored tokens have no loss and no gradient', () => {
    const config: CrossEntropyConfig = { kind: 'stablemax', batch: 2, seq: 3, vocab: 4, lossScale: 1 };
    const logits = randomArray(24, 3, 2);
    logits[1] = NaN;
    const labels = Int32Array.from([IGNORE_LABEL, IGNORE_LABEL, IGNORE_LABEL, IGNORE_LABEL, 2, 1]);

    const { seqLoss, dLogits } = crossEntropyReference(config, logits, labels);
    expect(seqLoss[0]).toBe(0);
    for (let i = 0; i < 16; i++) expect(dLogits[i], `dLogits[${i}]`).toBe(0);
    expect(Number.isFinite(seqLoss[1])).toBe(true);
  });

  test('sequence loss is the mean over valid tokens', () => {
    const config: CrossEntropyConfig = { kind: 'softmax', batch: 1, seq: 3, vocab: 2, lossScale: 1 };
    const logits = [0, 0, 0, Math.log(3), 5, 5];
    const labels = [0, 1, IGNORE_LABEL];

    const { seqLoss } = crossEntropyReference(config, logits, labels);
    expect(seqLoss[0]).toBeCloseTo((Math.log(2) + Math.log(4 / 3)) / 2, 14);
  });
});

describe('binary cross-entropy reference', () => {
  test('finite differences', () => {
    const logits = Float64Array.from(randomArray(40, 17, 12));
    const targets = Float64Array.from(randomArray(40, 18), (u) => (u > 0 ? 1 : 0));
    const lossScale = 0.3;
    const total = (x: Float64Array) => lossScale * bceWithLogitsReference(x, targets, lossScale).loss.reduce((sum, loss) => sum + loss, 0);

    const { dLogits } = bceWithLogitsReference(logits, targets, lossScale);
    expectGradientClose(dLogits, numericalGradient(total, logits, 1e-6), 1e-7);
  });

  test('exact at ±1000', () => {
    const { loss, dLogits } = bceWithLogitsReference([1000, 1000, -1000, -1000], [0, 1, 0, 1], 0.5);
    expect(Array.from(loss)).toEqual([1000, 0, 0, 1000]);
    expect(Array.from(dLogits)).toEqual([0.5, 0, 0, -0.5]);
  });

  test('log 2 at zero', () => {
    const { loss, dLogits } = bceWithLogitsReference([0], [1], 1);
    expect(loss[0]).toBeCloseTo(Math.log(2), 15);
    expect(dLogits[0]).toBe(-0.5);
  });
});

describe('accuracy reference', () => {
  test('argmax takes the first maximum', () => {
    expect(argmaxReference([1, 3, 3, 2])).toBe(1);
    expect(argmaxReference([-Infinity, -Infinity])).toBe(0);
    expect(argmaxReference([5])).toBe(0);
  });

  test('argmax treats NaN as the maximum', () => {
    expect(argmaxReference([1, NaN, 3, NaN])).toBe(1);
    expect(argmaxReference([NaN, 9])).toBe(0);
  });

  test('sequence without valid tokens is exact', () => {
    const logits = [0, 1, 1, 0, 0, 1, 1, 0];
    const labels = [IGNORE_LABEL, IGNORE_LABEL, 1, 1];
    const { correct, valid, exact } = sequenceAccuracyReference({ batch: 2, seq: 2, vocab: 2 }, logits, labels);
    expect(Array.from(valid)).toEqual([0, 2]);
    expect(Array.from(correct)).toEqual([0, 1]);
    expect(Array.from(exact)).toEqual([1, 0]);
  });
});
