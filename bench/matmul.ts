// The matmul cases: the engine's tuning pass picks a variant for each TRM product, and the
// benchmark times the pick. Every variant's time is the tuning pass's own measurement.
import type { Gpu } from '../src/gpu/gpu.js';
import { Matmul, defaultMatmulVariant, matmulSizes, type MatmulPlan } from '../src/kernels/matmul.js';
import { matmulTuningTable, tunedMatmulVariant, type TuningResult } from '../src/kernels/matmul-tuning.js';
import { randomBuffer } from './data.js';
import type { MatmulShape } from './shapes.js';
import { timeEncoded, type Timing, type TimingPolicy } from './timing.js';

export interface MatmulMeasurement {
  timing: Timing;
  localPeak: number;
  flops: number;
  variant: string;
  /**
   * 'ran': the tuning pass timed every variant now; 'shared': an earlier case with the same
   * sizes and strides had it pick; 'skipped': the engine's default variant (--quick).
   */
  tuning: MatmulTuning;
  /** Median seconds per product of every variant, as the tuning pass measured them ('ran' only). */
  variantSeconds: Record<string, number>;
  /** Wall-clock seconds the tuning pass took ('ran' only). */
  tuningSeconds: number;
}

export type MatmulTuning = 'ran' | 'shared' | 'skipped';

// Tuning results by plan, for plans that an earlier case (in this page or process) had tuned.
const tunedPlans = new WeakMap<Gpu, Map<string, TuningResult>>();

export function matmulFlops(plan: MatmulPlan): number {
  return 2 * plan.M * plan.N * plan.K * plan.batch;
}

/** Tunes (unless tuneIt is false) and times one product; probePeak runs between the tuning pass and the timing. */
export async function measureMatmul(gpu: Gpu, { name, plan }: MatmulShape, policy: TimingPolicy, tuneIt: boolean, probePeak: () => Promise<number>): Promise<MatmulMeasurement> {
  const started = performance.now();
  const tuning = tuneIt ? await tune(gpu, plan) : { result: { variant: defaultMatmulVariant(gpu, plan), seconds: {} }, status: 'skipped' as const };
  const tuningSeconds = tuning.status === 'ran' ? (performance.now() - started) / 1000 : 0;

  const sizes = matmulSizes(plan);
  const buffers = { a: randomBuffer(gpu, `${name}.a`, sizes.a), b: randomBuffer(gpu, `${name}.b`, sizes.b), c: randomBuffer(gpu, `${name}.c`, sizes.c) };
  const matmul = await Matmul.create(gpu, `bench ${name}`, plan, buffers, tuning.result.variant);
  try {
    const localPeak = await probePeak();
    const timing = await timeEncoded(gpu, () => matmul.encode(), policy);
    const variantSeconds = Object.fromEntries(Object.entries(tuning.result.seconds).map(([variant, seconds]) => [variant, seconds ?? NaN]));
    return { timing, localPeak, flops: matmulFlops(plan), variant: tuning.result.variant, tuning: tuning.status, variantSeconds, tuningSeconds };
  } finally {
    matmul.destroy();
    for (const buffer of Object.values(buffers)) gpu.destroyBuffer(buffer);
  }
}

/**
 * Runs the engine's tuning pass for a plan and returns its result, and whether it ran now. A
 * plan whose tuning key an earlier plan shared gets the pick without the per-variant times.
 */
async function tune(gpu: Gpu, plan: MatmulPlan): Promise<{ result: TuningResult; status: MatmulTuning }> {
  const memo = tunedPlans.get(gpu) ?? new Map<string, TuningResult>();
  tunedPlans.set(gpu, memo);
  const key = JSON.stringify(plan);
  const known = memo.get(key);
  if (known) return { result: known, status: 'shared' };

  const before = new Set((await matmulTuningTable(gpu)).keys());
  const variant = await tunedMatmulVariant(gpu, plan);
  const added = [...(await matmulTuningTable(gpu))].filter(([tableKey]) => !before.has(tableKey));
  const result = added.length === 1 ? added[0][1] : { variant, seconds: {} };
  memo.set(key, result);
  return { result, status: added.length === 1 ? 'ran' : 'shared' };
}
