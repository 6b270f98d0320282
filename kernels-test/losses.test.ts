import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CROSS_ENTROPY_KINDS,
  IGNORE_LABEL,
  bceWithLogitsReference,
  crossEntropyReference,
  sequenceAccuracyReference,
  type CrossEntropyConfig,
  type CrossEntropyKind,
  type TokenShape,
} from '../src/kernels/losses.js';
import { F32_EPS, expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

// [batch, seq, vocab]: vocab rows of 1 to 3 entries, sequences straddling the 64-invocation
// workgroup (63, 64, 65, 129), and the TRM shapes (81 Sudoku tokens with vocab 11, 900 Maze and
// ARC tokens with vocab 6 and 12).
const TOKEN_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [2, 1, 2],
  [2, 3, 3],
  [3, 63, 5],
  [2, 64, 6],
  [2, 65, 12],
  [4, 81, 11],
  [3, 129, 7],
  [2, 900, 6],
  [3, 900, 12],
];

/** Output buffers start from this value, so an element the kernel skips shows up. */
const UNWRITTEN = 7;

function randomLabels(tokens: number, vocab: number, seed: number): Int32Array {
  const draws = randomArray(tokens, seed);
  return Int32Array.from(draws, (u) => (u < -0.7 ? IGNORE_LABEL : Math.min(vocab - 1, Math.floor(((u + 1) / 2) * vocab))));
}

function shapeName([batch, seq, vocab]: [number, number, number]): string {
  return `${batch}x${seq}x${vocab}`;
}

/** dLogits divided by lossScale / max(1, valid) of its sequence: slope · (p − onehot), within [−1, 1]. */
function perTokenGradient(config: CrossEntropyConfig, labels: Int32Array, dLogits: ArrayLike<number>): Float64Array {
  const { batch, seq, vocab } = config;
  const out = new Float64Array(dLogits.length);
  for (let b = 0; b < batch; b++) {
    let valid = 0;
    for (let t = 0; t < seq; t++) if (labels[b * seq + t] !== IGNORE_LABEL) valid++;
    const scale = config.lossScale / Math.max(1, valid);
    for (let i = b * seq * vocab; i < (b + 1) * seq * vocab; i++) out[i] = dLogits[i] / scale;
  }
  return out;
}

async function runCrossEntropy(runtime: KernelRuntime, config: CrossEntropyConfig, logits: Float32Array, labels: Int32Array) {
  const inputs = {
    logits,
    labels,
    seqLoss: new Float32Array(config.batch).fill(UNWRITTEN),
    dLogits: new Float32Array(logits.length).fill(UNWRITTEN),
  };
  const outputs = await runtime.run({ op: 'crossEntropy', params: { ...config }, inputs });
  return { seqLoss: outputs.seqLoss as Float32Array, dLogits: outputs.dLogits as Float32Array };
}

/**
 * Compares with the float64 reference. A token loss is the difference of two logs of scores
 * that are accurate to a few ulp, and WGSL only promises 2⁻²¹ absolute accuracy for log near 1.
 * The sequence loss sums up to seq token losses. A gradient element is a probability accurate
 * to a few ulp, times a slope of at most 1.
 */
function expectMatchesReference(config: CrossEntropyConfig, logits: Float32Array, labels: Int32Array, actual: { seqLoss: Float32Array; dLogits: Float32Array }): void {
  const expected = crossEntropyReference(config, logits, labels);
  const lossMagnitude = expected.seqLoss.map((loss) => Math.abs(loss) + 1);
  expectClose(actual.seqLoss, expected.seqLoss, { abs: 2e-6, rel: 8, reductionLength: config.seq * config.vocab, magnitude: lossMagnitude }, 'seqLoss');

  const gradientTolerance = { abs: 4 * F32_EPS * Math.sqrt(config.vocab), rel: 8, reductionLength: config.vocab };
  expectClose(perTokenGradient(config, labels, actual.dLogits), perTokenGradient(config, labels, expected.dLogits), gradientTolerance, 'dLogits / (lossScale / valid)');
}

function tokenRowsAreFinite(dLogits: ArrayLike<number>, vocab: number, tokens: number[]): boolean {
  return tokens.every((token) => Array.from({ length: vocab }, (_, j) => dLogits[token * vocab + j]).every(Number.isFinite));
}

/** Sequences of 5 tokens over vocab 11, each built around one edge case. */
function edgeCaseBatch(): { config: Omit<CrossEntropyConfig, 'kind'>; logits: Float32Array; labels: Int32Array } {
  const seq = 5;
  const vocab = 11;
  const batch = 9;
  const logits = randomArray(batch * seq * vocab, 2024, 3);
  const labels = randomLabels(batch * seq, vocab, 2025);
  const row = (sequence: number, t: number) => logits.subarray((sequence * seq + t) * vocab, (sequence * seq + t + 1) * vocab);
  const setLabel = (sequence: number, t: number, label: number) => (labels[sequence * seq + t] = label);

  // 0: one token each of all −∞, all −1e30, −∞ beside finite logits, all zero, ±1e4.
  row(0, 0).fill(-Infinity);
  row(0, 1).fill(-1e30);
  row(0, 2).set([-Infinity, 1.5, -Infinity, -0.5], 0);
  row(0, 3).fill(0);
  row(0, 4).forEach((_, j, values) => (values[j] = j % 2 === 0 ? 1e4 : -1e4));
  for (let t = 0; t < seq; t++) setLabel(0, t, t === 2 ? 1 : (3 * t + 1) % vocab);
  // 1: every label ignored, one of the ignored tokens NaN.
  for (let t = 0; t < seq; t++) setLabel(1, t, IGNORE_LABEL);
  row(1, 2)[4] = NaN;
  // 2: a NaN logit in a valid token.
  setLabel(2, 3, 6);
  row(2, 3)[9] = NaN;
  // 3: the label on a −∞ logit.
  setLabel(3, 1, 2);
  row(3, 1)[2] = -Infinity;
  // 4: a label outside [0, vocab).
  setLabel(4, 0, vocab);
  // 5: a +∞ logit.
  setLabel(5, 4, 0);
  row(5, 4)[7] = Infinity;
  // 6: every logit ±1e4; 7: every logit −1e30.
  for (let t = 0; t < seq; t++) row(6, t).forEach((_, j, values) => (values[j] = (j + t) % 3 === 0 ? 1e4 : -1e4));
  for (let t = 0; t < seq; t++) row(7, t).fill(-1e30);
  // 8: a label whose stable-max probability (about 1e-40) is below the f32 normal range.
  setLabel(8, 2, 1);
  row(8, 2).set([1e20, -1e20], 0);

  return { config: { batch, seq, vocab, lossScale: 1 / batch }, logits, labels };
}

for (const runtimeName of selectedRuntimes()) {
  describe(`losses on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    for (const kind of CROSS_ENTROPY_KINDS) {
      test.each(TOKEN_SHAPES.map((shape) => [shapeName(shape), shape] as const))(`${kind}: %s`, async (_, [batch, seq, vocab]) => {
        const config: CrossEntropyConfig = { kind, batch, seq, vocab, lossScale: 1 / batch };
        const logits = randomArray(batch * seq * vocab, batch * 7919 + seq * 31 + vocab, 4);
        const labels = randomLabels(batch * seq, vocab, seq + vocab);

        const actual = await runCrossEntropy(runtime, config, logits, labels);
        expectMatchesReference(config, logits, labels, actual);
      });

      test(`${kind}: logits within ±1000`, async () => {
        const config: CrossEntropyConfig = { kind, batch: 4, seq: 81, vocab: 11, lossScale: 0.25 };
        const logits = randomArray(4 * 81 * 11, 4242, 1000);
        const labels = randomLabels(4 * 81, 11, 4243);

        const actual = await runCrossEntropy(runtime, config, logits, labels);
        expectMatchesReference(config, logits, labels, actual);
      });
    }

    describe.each(CROSS_ENTROPY_KINDS)('%s edge cases', (kind: CrossEntropyKind) => {
      const { config: shape, logits, labels } = edgeCaseBatch();
      const config: CrossEntropyConfig = { kind, ...shape };
      let actual: { seqLoss: Float32Array; dLogits: Float32Array };

      beforeAll(async () => {
        actual = await runCrossEntropy(runtime, config, logits, labels);
      });

      test('match the float64 reference', () => {
        expectMatchesReference(config, logits, labels, actual);
      });

      test('-inf, -1e30 and ±1e4 rows are finite', () => {
        expect(Number.isFinite(actual.seqLoss[0]), 'sequence 0 loss').toBe(true);
        expect(tokenRowsAreFinite(actual.dLogits, config.vocab, [0, 1, 2, 3, 4]), 'sequence 0 gradient').toBe(true);
        expect(actual.seqLoss[6], 'sequence 6 loss').toBeGreaterThan(0);
        expect(Number.isFinite(actual.seqLoss[6]), 'sequence 6 loss').toBe(true);
        expect(actual.seqLoss[7], 'sequence 7 loss').toBeCloseTo(Math.log(config.vocab), 5);
        expect(Number.isFinite(actual.seqLoss[8]), 'sequence 8 loss').toBe(true);
      });

      test('all-ignored sequence has zero loss and gradient', () => {
        expect(actual.seqLoss[1]).toBe(0);
        const rows = actual.dLogits.subarray(config.seq * config.vocab, 2 * config.seq * config.vocab);
        expect(rows.every((value) => value === 0)).toBe(true);
      });

      test('NaN logit reaches its sequence only', () => {
        expect(actual.seqLoss[2]).toBeNaN();
        const nanToken = 2 * config.seq + 3;
        for (let j = 0; j < config.vocab; j++) expect(actual.dLogits[nanToken * config.vocab + j], `dLogits[${nanToken}, ${j}]`).toBeNaN();
        expect(tokenRowsAreFinite(actual.dLogits, config.vocab, [10, 11, 12, 14]), 'other tokens of sequence 2').toBe(true);
        for (const sequence of [0, 1, 6, 7, 8]) expect(Number.isFinite(actual.seqLoss[sequence]), `sequence ${sequence} loss`).toBe(true);
      });

      test('label on a -inf logit costs +inf', () => {
        expect(actual.seqLoss[3]).toBe(Infinity);
        expect(tokenRowsAreFinite(actual.dLogits, config.vocab, [15, 16, 17, 18, 19])).toBe(true);
      });

      test('bad label and +inf logit give NaN', () => {
        expect(actual.seqLoss[4], 'label outside the vocab').toBeNaN();
        expect(actual.seqLoss[5], '+inf logit').toBeNaN();
      });
    });

    test('undersized logits buffer is rejected', async () => {
      const config: CrossEntropyConfig = { kind: 'stablemax', batch: 2, seq: 9, vocab: 11, lossScale: 0.5 };
      const run = runCrossEntropy(runtime, config, new Float32Array(2 * 9 * 10), new Int32Array(18));
      await expect(run).rejects.toThrow(/cross-entropy 'cross-entropy\.stablemax': operand logits needs 198 32-bit values/);
    });

    test.each([1, 63, 64, 65, 130, 768])('bce with logits: batch %i', async (batch) => {
      const logits = randomArray(batch, batch + 5, 12);
      const targets = randomArray(batch, batch + 6).map((u) => (u > 0 ? 1 : 0));
      const lossScale = 0.5 / batch;
      const inputs = { logits, targets, loss: new Float32Array(batch).fill(UNWRITTEN), dLogits: new Float32Array(batch).fill(UNWRITTEN) };
      const outputs = await runtime.run({ op: 'bceWithLogits', params: { batch, lossScale }, inputs });

      const expected = bceWithLogitsReference(logits, targets, lossScale);
      expectClose(outputs.loss, expected.loss, { abs: 1e-6, rel: 8, reductionLength: 1 }, 'loss');
      const perRow = (values: ArrayLike<number>) => Float64Array.from(values, (value) => value / lossScale);
      expectClose(perRow(outputs.dLogits), perRow(expected.dLogits), { abs: 4 * F32_EPS, rel: 8, reductionLength: 1 }, 'dLogits / lossScale');
    });

    test('bce with logits: extreme logits', async () => {
      const logits = Float32Array.from([1000, 1000, -1000, -1000, 0, -0, 20, -20, 88, -88, 1e30, -1e30, NaN, 3]);
      const targets = Float32Array.from([0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, NaN]);
      const batch = logits.length;
      const inputs = { logits, targets, loss: new Float32Array(batch), dLogits: new Float32Array(batch) };
      const outputs = await runtime.run({ op: 'bceWithLogits', params: { batch, lossScale: 0.5 }, inputs });

      expect(Array.from(outputs.loss.subarray(0, 4))).toEqual([1000, 0, 0, 1000]);
      expect(Array.from(outputs.dLogits.subarray(0, 4))).toEqual([0.5, 0, 0, -0.5]);
      const expected = bceWithLogitsReference(logits, targets, 0.5);
      expectClose(outputs.loss, expected.loss, { abs: 1e-6, rel: 8, reductionLength: 1 }, 'loss');
      expectClose(outputs.dLogits, expected.dLogits, { abs: 2 * F32_EPS, rel: 8, reductionLength: 1 }, 'dLogits');
    });

    test.each(TOKEN_SHAPES.map((shape) => [shapeName(shape), shape] as const))('sequence accuracy: %s', async (_, [batch, seq, vocab]) => {
      // Small integer logits make ties common; the last sequence is predicted perfectly.
      const logits = randomArray(batch * seq * vocab, seq * 13 + vocab, 2.5).map(Math.round);
      const labels = randomLabels(batch * seq, vocab, batch + seq);
      const last = batch - 1;
      for (let t = 0; t < seq; t++) {
        const token = last * seq + t;
        if (labels[token] !== IGNORE_LABEL) logits[token * vocab + labels[token]] = 10;
      }
      const shape: TokenShape = { batch, seq, vocab };
      const inputs = { logits, labels, correct: new Uint32Array(batch).fill(UNWRITTEN), valid: new Uint32Array(batch).fill(UNWRITTEN), exact: new Float32Array(batch).fill(UNWRITTEN) };
      const outputs = await runtime.run({ op: 'sequenceAccuracy', params: { ...shape }, inputs });

      const expected = sequenceAccuracyReference(shape, logits, labels);
      expect(Array.from(outputs.valid), 'valid').toEqual(Array.from(expected.valid));
      expect(Array.from(outputs.correct), 'correct').toEqual(Array.from(expected.correct));
      expect(Array.from(outputs.exact), 'exact').toEqual(Array.from(expected.exact));
      expect(outputs.exact[last], 'perfect sequence').toBe(1);
    });

    test('sequence accuracy: ties, NaN, -inf and empty rows', async () => {
      // Token rows over vocab 3, one sequence of 2 tokens per case.
      const cases: [number[], number][][] = [
        [[[2, 5, 5], 1], [[-0, 0, -1], 0]],
        [[[1, NaN, 9], 1], [[NaN, NaN, 0], 0]],
        [[[-Infinity, -Infinity, -Infinity], 0], [[-Infinity, -1e30, -Infinity], 1]],
        [[[0, 0, 0], IGNORE_LABEL], [[1, 2, 3], IGNORE_LABEL]],
        [[[3, 2, 1], 2], [[1, 2, 3], 3]],
      ];
      const shape: TokenShape = { batch: cases.length, seq: 2, vocab: 3 };
      const logits = Float32Array.from(cases.flatMap((tokens) => tokens.flatMap(([row]) => row)));
      const labels = Int32Array.from(cases.flatMap((tokens) => tokens.map(([, label]) => label)));
      const inputs = { logits, labels, correct: new Uint32Array(shape.batch), valid: new Uint32Array(shape.batch), exact: new Float32Array(shape.batch) };
      const outputs = await runtime.run({ op: 'sequenceAccuracy', params: { ...shape }, inputs });

      expect(Array.from(outputs.correct), 'correct').toEqual([2, 2, 2, 0, 0]);
      expect(Array.from(outputs.valid), 'valid').toEqual([2, 2, 2, 0, 2]);
      expect(Array.from(outputs.exact), 'exact').toEqual([1, 1, 1, 1, 0]);
    });

    test.each([
      [5, 81, 11],
      [3, 900, 12],
    ])('halting loss from device-side exact: %ix%ix%i', async (batch, seq, vocab) => {
      const logits = randomArray(batch * seq * vocab, batch + seq, 3);
      const labels = randomLabels(batch * seq, vocab, vocab);
      for (const sequence of [0, batch - 1]) {
        for (let t = 0; t < seq; t++) {
          const token = sequence * seq + t;
          if (labels[token] !== IGNORE_LABEL) logits[token * vocab + labels[token]] = 8;
        }
      }
      const qHaltLogits = randomArray(batch, 77, 4);
      const lossScale = 0.5 / batch;
      const outputs = await runtime.run({ op: 'haltingLoss', params: { batch, seq, vocab, lossScale }, inputs: { logits, labels, qHaltLogits } });

      const { exact } = sequenceAccuracyReference({ batch, seq, vocab }, logits, labels);
      expect(Array.from(outputs.exact), 'exact').toEqual(Array.from(exact));
      expect(exact[0] + exact[batch - 1], 'sequences made exact').toBe(2);
      const expected = bceWithLogitsReference(qHaltLogits, exact, lossScale);
      expectClose(outputs.loss, expected.loss, { abs: 1e-6, rel: 8, reductionLength: 1 }, 'loss');
      expectClose(outputs.dQHaltLogits, expected.dLogits, { abs: 4 * F32_EPS * lossScale, rel: 8, reductionLength: 1 }, 'dQHaltLogits');
    });
  });
}
