// GFLOP/s of every matmul variant at the TRM shapes, with the fraction of the FMA peak.
import type { Gpu } from '../src/gpu/gpu.js';
import { MATMUL_VARIANTS, Matmul, linearForwardPlan, linearInputGradPlan, linearWeightGradPlan, matmulSizes, matmulVariantSupports, type MatmulPlan } from '../src/kernels/matmul.js';
import { timeEncoded, type TimingOptions } from './timing.js';

export interface MatmulShape {
  name: string;
  plan: MatmulPlan;
}

export interface MatmulResult {
  shape: string;
  variant: string;
  M: number;
  N: number;
  K: number;
  batch: number;
  seconds: number;
  gflops: number;
}

/** The products of one TRM training step at a batch of `batch` puzzles of 97 tokens. */
export function trmMatmulShapes(batch: number, hidden = 512, inner = 1536, tokens = 97, tokenInner = 512, vocab = 11): MatmulShape[] {
  const rows = batch * tokens;
  const tokenMixing = (M: number, N: number, K: number): MatmulPlan => ({
    M, N, K, batch,
    aStrideM: K, aStrideK: 1, aStrideBatch: 0,
    bStrideK: N, bStrideN: 1, bStrideBatch: K * N,
    accumulate: false, alpha: 1, aOffset: 0, bOffset: 0,
  });
  return [
    { name: 'mlp gate_up forward', plan: linearForwardPlan(rows, 2 * inner, hidden) },
    { name: 'mlp down forward', plan: linearForwardPlan(rows, hidden, inner) },
    { name: 'mlp down input grad', plan: linearInputGradPlan(rows, hidden, inner) },
    { name: 'mlp down weight grad', plan: linearWeightGradPlan(rows, hidden, inner) },
    { name: 'mlp gate_up weight grad', plan: linearWeightGradPlan(rows, 2 * inner, hidden) },
    { name: 'attn qkv forward', plan: linearForwardPlan(rows, 3 * hidden, hidden) },
    { name: 'token mix gate_up forward', plan: tokenMixing(2 * tokenInner, hidden, tokens) },
    { name: 'token mix down forward', plan: tokenMixing(tokens, hidden, tokenInner) },
    { name: 'lm_head forward', plan: linearForwardPlan(batch * 81, vocab, hidden) },
  ];
}

export async function benchMatmul(gpu: Gpu, shapes: MatmulShape[], timing: TimingOptions): Promise<MatmulResult[]> {
  const results: MatmulResult[] = [];
  for (const { name, plan } of shapes) {
    const sizes = matmulSizes(plan);
    const a = gpu.createBuffer(`${name}.a`, sizes.a * 4);
    const b = gpu.createBuffer(`${name}.b`, sizes.b * 4);
    const c = gpu.createBuffer(`${name}.c`, sizes.c * 4);
    for (const variant of MATMUL_VARIANTS.filter((v) => matmulVariantSupports(v, plan))) {
      const matmul = await Matmul.create(gpu, `bench ${name}`, plan, { a, b, c }, variant);
      const seconds = await timeEncoded(gpu, () => matmul.encode(), timing);
      const flops = 2 * plan.M * plan.N * plan.K * plan.batch;
      results.push({ shape: name, variant, M: plan.M, N: plan.N, K: plan.K, batch: plan.batch, seconds, gflops: flops / seconds / 1e9 });
      matmul.destroy();
    }
    for (const buffer of [a, b, c]) gpu.destroyBuffer(buffer);
  }
  return results;
}
