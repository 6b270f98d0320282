import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ATTENTION_VARIANTS,
  attentionBackwardReference,
  attentionForwardReference,
  attentionScale,
  attentionSizes,
  headRows,
  outIndex,
  qkvIndex,
  type AttentionShape,
} from '../src/kernels/attention.js';
import { expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

interface Case {
  name: string;
  shape: AttentionShape;
  /** Scale of the uniform random q and k entries. A scale of 180 puts scores near ±1e4. */
  qkScale?: number;
  /** Sets every q to zero, so that all scores of a row are equal. */
  zeroQueries?: boolean;
  /** Puts a NaN into q of batch 0, position 2, head 1. */
  nanQuery?: boolean;
}

// Sequence lengths straddle the tiled variant's 16-row key tiles and 64-row blocks, and cover
// the TRM lengths: 97 (16 prefix slots + 81 Sudoku cells) and 916 (16 + a 30×30 grid).
const CASES: Case[] = [
  { name: 'seq 1', shape: { batch: 1, seq: 1, heads: 1, headDim: 64 } },
  { name: 'seq 2', shape: { batch: 2, seq: 2, heads: 1, headDim: 64 } },
  { name: 'seq 3', shape: { batch: 1, seq: 3, heads: 2, headDim: 64 } },
  { name: 'seq 16 headDim 8', shape: { batch: 3, seq: 16, heads: 2, headDim: 8 } },
  { name: 'seq 17', shape: { batch: 2, seq: 17, heads: 8, headDim: 64 } },
  { name: 'seq 63 headDim 8', shape: { batch: 1, seq: 63, heads: 3, headDim: 8 } },
  { name: 'seq 64', shape: { batch: 1, seq: 64, heads: 2, headDim: 64 } },
  { name: 'seq 65', shape: { batch: 1, seq: 65, heads: 3, headDim: 64 } },
  { name: 'seq 97', shape: { batch: 2, seq: 97, heads: 8, headDim: 64 } },
  { name: 'seq 916', shape: { batch: 1, seq: 916, heads: 2, headDim: 64 } },
  { name: 'equal scores', shape: { batch: 1, seq: 33, heads: 2, headDim: 64 }, zeroQueries: true },
  { name: 'scores near ±1e4', shape: { batch: 1, seq: 97, heads: 2, headDim: 64 }, qkScale: 180 },
];

interface Expected {
  qkv: Float32Array;
  dOut: Float32Array;
  out: Float64Array;
  logsumexp: Float64Array;
  dqkv: Float64Array;
  scales: ErrorScales;
}

/** Inputs and float64 results of a case, computed once and shared by runtimes and variants. */
const expectedCache = new Map<string, Expected>();

function expectedFor(testCase: Case): Expected {
  const cached = expectedCache.get(testCase.name);
  if (cached) return cached;

  const { shape } = testCase;
  const sizes = attentionSizes(shape);
  const seed = shape.seq * 7919 + shape.heads * 31 + shape.headDim;
  const qkv = randomArray(sizes.qkv, seed);
  const qkScale = testCase.qkScale ?? 1;
  forEachQueryKeyChannel(shape, (index, section) => {
    qkv[index] = section === 0 && testCase.zeroQueries ? 0 : qkv[index] * qkScale;
  });
  if (testCase.nanQuery) qkv[qkvIndex(shape, 0, 0, 2, 1, 5)] = Number.NaN;
  const dOut = randomArray(sizes.out, seed + 1);

  const forward = attentionForwardReference(shape, qkv);
  const dqkv = attentionBackwardReference(shape, qkv, dOut);
  const expected = { qkv, dOut, ...forward, dqkv, scales: errorScales(shape, qkv, dOut, forward) };
  expectedCache.set(testCase.name, expected);
  return expected;
}

function forEachQueryKeyChannel(shape: AttentionShape, visit: (index: number, section: number) => void): void {
  for (let batch = 0; batch < shape.batch; batch++) {
    for (let position = 0; position < shape.seq; position++) {
      for (const section of [0, 1]) {
        for (let head = 0; head < shape.heads; head++) {
          for (let d = 0; d < shape.headDim; d++) visit(qkvIndex(shape, section, batch, position, head, d), section);
        }
      }
    }
  }
}

interface ErrorScales {
  out: Float64Array;
  logsumexp: Float64Array;
  dqkv: Float64Array;
}

/**
 * Computes first-order f32 error scales of every output, in units of the f32 unit roundoff
 * before expectClose's sqrt(reductionLength) factor. A score s_ij = scale·q_i·k_j carries an
 * error of about a_ij = scale·Σ|q_i k_j|. The forward output depends only on score differences,
 * so out_i gets Σ_j P_ij·(|v_j| + a_ij·|v_j − o_i|). The backward pass recomputes
 * P = exp(s − lse) from a rounded lse, so P_ij carries e_ij = P_ij·(a_ij + |lse_i| + 1). That
 * error flows through dV = Pᵀ·dO, dS = P ⊙ (dP − D), dQ = scale·dS·K and dK = scale·dSᵀ·Q.
 */
function errorScales(shape: AttentionShape, qkv: ArrayLike<number>, dOut: ArrayLike<number>, forward: { out: Float64Array; logsumexp: Float64Array }): ErrorScales {
  const { seq, heads, headDim } = shape;
  const scale = attentionScale(headDim);
  const sizes = attentionSizes(shape);
  const scales = { out: new Float64Array(sizes.out), logsumexp: new Float64Array(sizes.logsumexp), dqkv: new Float64Array(sizes.qkv) };

  for (let batch = 0; batch < shape.batch; batch++) {
    for (let head = 0; head < heads; head++) {
      const [q, k, v] = [0, 1, 2].map((section) => headRows(shape, qkv, batch, head, section));
      const dO = headRows(shape, dOut, batch, head);
      const o = headRows(shape, forward.out, batch, head);
      const outScale = new Float64Array(seq * headDim);
      const gradScales = [0, 1, 2].map(() => new Float64Array(seq * headDim));

      for (let i = 0; i < seq; i++) {
        const lseIndex = (batch * heads + head) * seq + i;
        const lse = forward.logsumexp[lseIndex];
        let delta = 0;
        let deltaScale = 0;
        for (let d = 0; d < headDim; d++) {
          delta += dO[i * headDim + d] * o[i * headDim + d];
          deltaScale += 2 * Math.abs(dO[i * headDim + d] * o[i * headDim + d]);
        }

        let lseScale = Math.abs(lse) + 1;
        for (let j = 0; j < seq; j++) {
          let qk = 0;
          let scoreScale = 0;
          let dp = 0;
          let dpScale = 0;
          for (let d = 0; d < headDim; d++) {
            qk += q[i * headDim + d] * k[j * headDim + d];
            scoreScale += scale * Math.abs(q[i * headDim + d] * k[j * headDim + d]);
            dp += dO[i * headDim + d] * v[j * headDim + d];
            dpScale += Math.abs(dO[i * headDim + d] * v[j * headDim + d]);
          }
          const probability = Math.exp(scale * qk - lse);
          const probabilityScale = probability * (scoreScale + Math.abs(lse) + 1);
          const scoreGradScale = probabilityScale * Math.abs(dp - delta) + probability * (dpScale + deltaScale);
          lseScale += probability * scoreScale;

          for (let d = 0; d < headDim; d++) {
            const value = v[j * headDim + d];
            outScale[i * headDim + d] += probability * (Math.abs(value) + scoreScale * Math.abs(value - o[i * headDim + d]));
            gradScales[0][i * headDim + d] += scale * scoreGradScale * Math.abs(k[j * headDim + d]);
            gradScales[1][j * headDim + d] += scale * scoreGradScale * Math.abs(q[i * headDim + d]);
            gradScales[2][j * headDim + d] += (probability + probabilityScale) * Math.abs(dO[i * headDim + d]);
          }
        }
        scales.logsumexp[lseIndex] = lseScale;
      }

      for (let position = 0; position < seq; position++) {
        const rows = (from: Float64Array) => from.subarray(position * headDim, (position + 1) * headDim);
        scales.out.set(rows(outScale), outIndex(shape, batch, position, head, 0));
        for (let section = 0; section < 3; section++) scales.dqkv.set(rows(gradScales[section]), qkvIndex(shape, section, batch, position, head, 0));
      }
    }
  }
  return scales;
}

function tolerance(shape: AttentionShape, magnitude: Float64Array) {
  return { abs: 1e-6, rel: 4, reductionLength: Math.max(shape.seq, shape.headDim), magnitude };
}

const NAN_CASE: Case = { name: 'NaN in q', shape: { batch: 2, seq: 9, heads: 2, headDim: 64 }, nanQuery: true };

for (const runtimeName of selectedRuntimes()) {
  describe(`attention on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    async function runForward(shape: AttentionShape, variant: string, qkv: Float32Array) {
      const outputs = await runtime.run({ op: 'attentionForward', params: { shape, variant }, inputs: { qkv } });
      return { out: outputs.out as Float32Array, logsumexp: outputs.logsumexp as Float32Array };
    }

    async function runBackward(shape: AttentionShape, variant: string, inputs: { qkv: Float32Array; out: Float32Array; logsumexp: Float32Array; dOut: Float32Array }) {
      const outputs = await runtime.run({ op: 'attentionBackward', params: { shape, variant }, inputs });
      return outputs.dqkv as Float32Array;
    }

    test('headDim 6 rejected by name', async () => {
      const shape = { batch: 1, seq: 2, heads: 1, headDim: 6 };
      const run = runForward(shape, 'registers', new Float32Array(attentionSizes(shape).qkv));
      await expect(run).rejects.toThrow(/attention 'attention\.forward\.registers': headDim must be a multiple of 4 and at most 64, got 6/);
    });

    test('short qkv buffer rejected by name', async () => {
      const shape = { batch: 2, seq: 5, heads: 2, headDim: 8 };
      const run = runForward(shape, 'tiled', new Float32Array(attentionSizes(shape).qkv - 4));
      await expect(run).rejects.toThrow(/attention 'attention\.forward\.tiled': operand qkv needs 480 32-bit values/);
    });

    for (const variant of ATTENTION_VARIANTS) {
      test.each(CASES)(`${variant}: forward, $name`, async (testCase) => {
        const { shape } = testCase;
        const expected = expectedFor(testCase);

        const actual = await runForward(shape, variant, expected.qkv);

        expectClose(actual.out, expected.out, tolerance(shape, expected.scales.out), `${variant} out`);
        expectClose(actual.logsumexp, expected.logsumexp, tolerance(shape, expected.scales.logsumexp), `${variant} logsumexp`);
      });

      test.each(CASES)(`${variant}: backward, $name`, async (testCase) => {
        const { shape } = testCase;
        const expected = expectedFor(testCase);
        const saved = { out: Float32Array.from(expected.out), logsumexp: Float32Array.from(expected.logsumexp) };

        const dqkv = await runBackward(shape, variant, { qkv: expected.qkv, ...saved, dOut: expected.dOut });

        expectClose(dqkv, expected.dqkv, tolerance(shape, expected.scales.dqkv), `${variant} dqkv`);
      });

      test(`${variant}: backward from device forward, seq 97`, async () => {
        const testCase = CASES.find((c) => c.name === 'seq 97')!;
        const { shape } = testCase;
        const expected = expectedFor(testCase);

        const saved = await runForward(shape, variant, expected.qkv);
        const dqkv = await runBackward(shape, variant, { qkv: expected.qkv, ...saved, dOut: expected.dOut });

        expectClose(dqkv, expected.dqkv, tolerance(shape, expected.scales.dqkv), `${variant} dqkv`);
      });

      test(`${variant}: NaN in q reaches its row`, async () => {
        const { shape } = NAN_CASE;
        const expected = expectedFor(NAN_CASE);

        const actual = await runForward(shape, variant, expected.qkv);
        const dqkv = await runBackward(shape, variant, { qkv: expected.qkv, out: actual.out, logsumexp: actual.logsumexp, dOut: expected.dOut });

        expect(actual.out[outIndex(shape, 0, 2, 1, 0)], 'out of the NaN row').toBeNaN();
        expect(actual.logsumexp[(0 * shape.heads + 1) * shape.seq + 2], 'logsumexp of the NaN row').toBeNaN();
        expect(Number.isFinite(actual.out[outIndex(shape, 0, 2, 0, 0)]), 'out of the same token, other head').toBe(true);
        expect(Number.isFinite(actual.out[outIndex(shape, 0, 3, 1, 0)]), 'out of the next row, same head').toBe(true);
        expectClose(actual.out, expected.out, tolerance(shape, expected.scales.out), `${variant} out`);
        expectClose(actual.logsumexp, expected.logsumexp, tolerance(shape, expected.scales.logsumexp), `${variant} logsumexp`);
        expectClose(dqkv, expected.dqkv, tolerance(shape, expected.scales.dqkv), `${variant} dqkv`);
      });
    }
  });
}
