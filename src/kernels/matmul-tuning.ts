// The tuning pass that picks the fastest matmul variant for a plan on the current adapter, and
// the table of those choices, which a resumed training run pins so that it rounds as before.
import { log } from '../log.js';
import type { Gpu } from '../gpu/gpu.js';
import { MATMUL_VARIANTS, Matmul, defaultMatmulVariant, matmulSizes, matmulVariantSupports, matmulVariantUnavailable, type MatmulPlan, type MatmulVariant } from './matmul.js';

export interface TuningResult {
  variant: MatmulVariant;
  /** Median seconds per product of every variant tried; empty for a pinned or default choice. */
  seconds: Partial<Record<MatmulVariant, number>>;
}

const TIMED_RUNS = 3;

// One table per device: the choice depends on the adapter, and a device is one adapter.
const tables = new WeakMap<Gpu, Map<string, Promise<TuningResult>>>();
let tuningEnabled = true;

/** Turns the tuning pass off (then shapes without a choice get defaultMatmulVariant), e.g. for short tests. */
export function setMatmulTuning(enabled: boolean): void {
  tuningEnabled = enabled;
}

/** Variants by tuning key: the choices a run made, as stored in its checkpoints. */
export type MatmulChoices = Record<string, MatmulVariant>;

/**
 * Returns the variant for a plan: a choice made or pinned earlier on this device, otherwise the
 * fastest one, timed on first use (or defaultMatmulVariant while tuning is off). The choice is
 * kept, so every later product of the same shape on this device uses the same variant.
 */
export async function tunedMatmulVariant(gpu: Gpu, plan: MatmulPlan): Promise<MatmulVariant> {
  const table = deviceTable(gpu);
  const key = tuningKey(plan);
  let result = table.get(key);
  if (!result) {
    result = tuningEnabled ? tunePlan(gpu, plan) : Promise.resolve({ variant: defaultMatmulVariant(gpu, plan), seconds: {} });
    table.set(key, result);
  }
  return (await result).variant;
}

/**
 * Makes later products on `gpu` use the given variants for their shapes instead of timing
 * them. Pin before the first product of each shape: a choice made earlier is replaced, but the
 * ops created with it keep their variant. A variant this device cannot run is not pinned, so
 * its shape is tuned again and a log line names it. A run resumed on another adapter may then round
 * differently from the run that wrote the checkpoint.
 */
export function pinMatmulVariants(gpu: Gpu, choices: MatmulChoices): void {
  const table = deviceTable(gpu);
  for (const [key, variant] of Object.entries(choices)) {
    if (!MATMUL_VARIANTS.includes(variant)) throw new Error(`pinned matmul variant for ${key} is '${variant}', expected one of ${MATMUL_VARIANTS.join(', ')}`);
    const unavailable = matmulVariantUnavailable(variant, gpu.adapter);
    if (unavailable) {
      log(1, `matmul ${key}: not pinning '${variant}' because ${unavailable}; choosing again`);
      continue;
    }
    table.set(key, Promise.resolve({ variant, seconds: {} }));
  }
}

/** Returns the variant of every shape used on a device so far, pinned ones included. */
export async function matmulChoices(gpu: Gpu): Promise<MatmulChoices> {
  const table = await matmulTuningTable(gpu);
  return Object.fromEntries([...table].map(([key, result]) => [key, result.variant]));
}

function deviceTable(gpu: Gpu): Map<string, Promise<TuningResult>> {
  let table = tables.get(gpu);
  if (!table) {
    table = new Map();
    tables.set(gpu, table);
  }
  return table;
}

/** Returns the choices made so far on a device, by plan, for logs and benchmarks. */
export async function matmulTuningTable(gpu: Gpu): Promise<Map<string, TuningResult>> {
  const table = tables.get(gpu) ?? new Map<string, Promise<TuningResult>>();
  const entries = await Promise.all([...table].map(async ([key, result]) => [key, await result] as const));
  return new Map(entries);
}

async function tunePlan(gpu: Gpu, plan: MatmulPlan): Promise<TuningResult> {
  const sizes = matmulSizes(plan);
  const a = gpu.createBuffer('tuning.a', sizes.a * 4);
  const b = gpu.createBuffer('tuning.b', sizes.b * 4);
  const c = gpu.createBuffer('tuning.c', sizes.c * 4);
  const seconds: Partial<Record<MatmulVariant, number>> = {};

  try {
    for (const variant of candidateVariants(gpu, plan)) {
      const matmul = await Matmul.create(gpu, `tuning ${variant}`, plan, { a, b, c }, variant);
      seconds[variant] = await timeRuns(gpu, matmul);
      matmul.destroy();
    }
  } finally {
    for (const buffer of [a, b, c]) gpu.destroyBuffer(buffer);
  }

  const [variant] = Object.entries(seconds).sort((x, y) => x[1] - y[1])[0] as [MatmulVariant, number];
  log(2, `matmul tuning ${tuningKey(plan)}: ${variant} (${Object.entries(seconds).map(([v, t]) => `${v} ${(t * 1e3).toFixed(2)} ms`).join(', ')})`);
  return { variant, seconds };
}

/**
 * Variants worth timing for a plan. On CPU-backed adapters the shared-memory variant is left
 * out: on SwiftShader 5.0.0 (Chromium 156) it measured 7–31× slower than the register ones
 * at every TRM shape (npm run bench), so timing it only delays the first training step.
 */
function candidateVariants(gpu: Gpu, plan: MatmulPlan): MatmulVariant[] {
  const eligible = MATMUL_VARIANTS.filter((variant) => matmulVariantSupports(variant, plan) && matmulVariantUnavailable(variant, gpu.adapter) === null);
  return gpu.isSoftware ? eligible.filter((variant) => variant !== 'tiled') : eligible;
}

async function timeRuns(gpu: Gpu, matmul: Matmul): Promise<number> {
  matmul.encode();
  await gpu.sync('matmul tuning');
  const samples: number[] = [];
  for (let run = 0; run < TIMED_RUNS; run++) {
    const started = performance.now();
    matmul.encode();
    await gpu.sync('matmul tuning');
    samples.push((performance.now() - started) / 1000);
  }
  return samples.sort((x, y) => x - y)[Math.floor(samples.length / 2)];
}

// The offsets are part of the key because they decide which variants support a plan.
function tuningKey(plan: MatmulPlan): string {
  const a = `a(${plan.aStrideM},${plan.aStrideK},${plan.aStrideBatch})+${plan.aOffset}`;
  const b = `b(${plan.bStrideK},${plan.bStrideN},${plan.bStrideBatch})+${plan.bOffset}`;
  return `${plan.M}x${plan.N}x${plan.K}x${plan.batch} ${a} ${b}`;
}
