import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  MATMUL_VARIANTS,
  linearForwardPlan,
  linearInputGradPlan,
  linearWeightGradPlan,
  matmulReference,
  matmulSizes,
  matmulVariantSupports,
  matmulVariantUnavailable,
  type MatmulPlan,
  type MatmulVariant,
} from '../src/kernels/matmul.js';
import type { AdapterSummary } from '../src/gpu/gpu.js';
import { expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

interface Case {
  name: string;
  plan: MatmulPlan;
}

// Sizes straddle every variant's tile (64 for the shared-memory tile, 4 and 8 for the
// register blocks, 16 rows by 32 columns for the quad blocks): 1, tile−1, tile, tile+1, odd
// sizes, and the TRM shapes (97 tokens, vocab 11, hidden 512, SwiGLU inner 1536).
const LINEAR_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 5, 4],
  [2, 3, 5],
  [3, 4, 7],
  [4, 4, 4],
  [5, 63, 3],
  [63, 64, 65],
  [64, 65, 16],
  [65, 1, 63],
  [97, 11, 64],
  [97, 3, 1536],
  [130, 66, 97],
  [67, 65, 32],
  [17, 33, 9],
  [33, 31, 2],
];

function tokenMixingPlan(batch: number, rows: number, length: number, channels: number): MatmulPlan {
  // Out[b] = W[rows, L] · H[b] with H[b] stored [L, channels]: acts along the sequence axis
  // for every channel, with W shared by the batch.
  return {
    M: rows, N: channels, K: length, batch,
    aStrideM: length, aStrideK: 1, aStrideBatch: 0,
    bStrideK: channels, bStrideN: 1, bStrideBatch: length * channels,
    accumulate: false, alpha: 1, aOffset: 0, bOffset: 0,
  };
}

const CASES: Case[] = [
  ...LINEAR_SHAPES.map(([M, N, K]) => ({ name: `forward ${M}x${N}x${K}`, plan: linearForwardPlan(M, N, K) })),
  ...LINEAR_SHAPES.map(([M, N, K]) => ({ name: `input grad ${M}x${N}x${K}`, plan: linearInputGradPlan(M, N, K) })),
  ...LINEAR_SHAPES.map(([M, N, K]) => ({ name: `weight grad ${M}x${N}x${K}`, plan: linearWeightGradPlan(M, N, K) })),
  { name: 'token mixing 3x(66x97)x5', plan: tokenMixingPlan(3, 66, 97, 5) },
  { name: 'token mixing 2x(97x65)x64', plan: tokenMixingPlan(2, 97, 65, 64) },
  { name: 'scaled by alpha', plan: { ...linearForwardPlan(17, 9, 33), alpha: -0.125 } },
  // Heads read y past its prefix slots: A starts `prefix` rows into each sequence.
  { name: 'rows after a prefix', plan: { ...linearForwardPlan(9, 11, 16), batch: 3, aStrideBatch: 12 * 16, aOffset: 3 * 16 } },
  { name: 'odd offsets', plan: { ...linearInputGradPlan(7, 5, 9), aOffset: 3, bOffset: 5 } },
];

function inputsFor(plan: MatmulPlan, seed: number) {
  const sizes = matmulSizes(plan);
  return {
    a: randomArray(sizes.a, seed),
    b: randomArray(sizes.b, seed + 1),
    c: randomArray(sizes.c, seed + 2),
  };
}

function absolute(values: Float32Array): Float32Array {
  return values.map(Math.abs);
}

describe('matmul variant availability', () => {
  const swiftShader: AdapterSummary = {
    runtime: 'node', vendor: 'google', architecture: 'swiftshader', device: '', description: '',
    isFallbackAdapter: true, kind: 'software', features: ['subgroups'], subgroupMinSize: 4, subgroupMaxSize: 4,
  };

  test('quad runs on SwiftShader', () => {
    expect(matmulVariantUnavailable('quad_16x32', swiftShader)).toBeNull();
  });

  test('quad needs the subgroups feature', () => {
    expect(matmulVariantUnavailable('quad_16x32', { ...swiftShader, features: [] })).toMatch(/no subgroups feature/);
  });

  test('quad runs only on SwiftShader', () => {
    const gpu = { ...swiftShader, vendor: 'nvidia', architecture: 'hopper', kind: 'gpu' as const, isFallbackAdapter: false, subgroupMinSize: 32, subgroupMaxSize: 32 };
    expect(matmulVariantUnavailable('quad_16x32', gpu)).toMatch(/only on SwiftShader, and this adapter is 'nvidia hopper'/);
    const lavapipe = { ...swiftShader, vendor: 'mesa', architecture: 'llvmpipe' };
    expect(matmulVariantUnavailable('quad_16x32', lavapipe)).toMatch(/only on SwiftShader/);
  });

  test('quad needs subgroups of exactly 4', () => {
    expect(matmulVariantUnavailable('quad_16x32', { ...swiftShader, subgroupMinSize: 4, subgroupMaxSize: 8 })).toMatch(/subgroup size is 4-8/);
    expect(matmulVariantUnavailable('quad_16x32', { ...swiftShader, subgroupMinSize: 0, subgroupMaxSize: 0 })).toMatch(/subgroup size is not reported/);
  });

  test('other variants run everywhere', () => {
    for (const variant of MATMUL_VARIANTS.filter((v) => v !== 'quad_16x32')) {
      expect(matmulVariantUnavailable(variant, { ...swiftShader, features: [], kind: 'gpu' }), variant).toBeNull();
    }
  });
});

for (const runtimeName of selectedRuntimes()) {
  describe(`matmul on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    // A variant that this adapter cannot run is skipped with the reason (see matmulVariantUnavailable).
    function skipUnavailable(variant: MatmulVariant, skip: (condition: boolean, note: string) => void): void {
      const reason = matmulVariantUnavailable(variant, runtime.adapter);
      skip(reason !== null, `${variant} is not available: ${reason}`);
    }

    test('adapter is described', () => {
      expect(runtime.adapter.runtime).toBe(runtimeName === 'node' ? 'node' : 'browser');
      expect(`${runtime.adapter.vendor}${runtime.adapter.description}`.length).toBeGreaterThan(0);
    });

    for (const variant of MATMUL_VARIANTS) {
      const eligible = CASES.filter(({ plan }) => matmulVariantSupports(variant, plan));

      test(`${variant}: runs on at least 5 cases`, () => {
        expect(eligible.length).toBeGreaterThanOrEqual(5);
      });

      test.for(eligible)(`${variant}: $name`, async ({ plan }, { skip }) => {
        skipUnavailable(variant, skip);
        const inputs = inputsFor(plan, plan.M * 7919 + plan.N * 31 + plan.K);
        const outputs = await runtime.run({ op: 'matmul', params: { plan, variant }, inputs });

        const expected = matmulReference(plan, inputs.a, inputs.b, inputs.c);
        const magnitude = matmulReference({ ...plan, alpha: Math.abs(plan.alpha) }, absolute(inputs.a), absolute(inputs.b), absolute(inputs.c));
        expectClose(outputs.c, expected, { abs: 1e-6, rel: 8, reductionLength: plan.K, magnitude }, `${variant} C`);
      });
    }

    test('tuning pass picks an eligible variant', async () => {
      const plan = linearInputGradPlan(33, 12, 20);
      const inputs = inputsFor(plan, 11);
      const outputs = await runtime.run({ op: 'matmul', params: { plan, variant: 'auto' }, inputs });

      const chosen = MATMUL_VARIANTS[outputs.variant[0]];
      expect(chosen).toBeDefined();
      expect(matmulVariantSupports(chosen, plan)).toBe(true);
      const expected = matmulReference(plan, inputs.a, inputs.b, inputs.c);
      expectClose(outputs.c, expected, { abs: 1e-5, rel: 8, reductionLength: plan.K }, `auto (${chosen}) C`);
    });

    test.for(MATMUL_VARIANTS)('%s: NaN in A reaches its row only', async (variant, { skip }) => {
      skipUnavailable(variant, skip);
      // Both plans read row m of A from a[m·16 …]; the forward one suits the nt4 variant,
      // the input-gradient one the bn4 variant. Rows 2 and 5 are loaded by different lanes
      // of a quad in the quad variant.
      const forward = linearForwardPlan(9, 8, 16);
      const plan = matmulVariantSupports(variant, forward) ? forward : linearInputGradPlan(9, 16, 8);
      const nanRows = [2, 5];
      const inputs = inputsFor(plan, 5);
      for (const row of nanRows) inputs.a[row * 16 + 4] = Number.NaN;
      const outputs = await runtime.run({ op: 'matmul', params: { plan, variant }, inputs });

      for (const row of nanRows) {
        for (let n = 0; n < plan.N; n++) expect(outputs.c[row * plan.N + n], `row ${row} column ${n}`).toBeNaN();
      }
      for (let m = 0; m < plan.M; m++) {
        if (nanRows.includes(m)) continue;
        for (let n = 0; n < plan.N; n++) expect(Number.isFinite(outputs.c[m * plan.N + n]), `row ${m} column ${n}`).toBe(true);
      }
    });
  });
}
