// The whole TRM training step and evaluation through the GPU trainer (src/model/gpu/trainer.ts):
// steps per second, puzzles per second, dispatches and submits per step, and device memory.
import type { Gpu } from '../src/gpu/gpu.js';
import { trmConfig, type TrmConfig, type TrmConfigName } from '../src/model/config.js';
import { Rng } from '../src/model/init.js';
import type { TrainingBatch } from '../src/model/gpu/inputs.js';
import { TrmTrainer } from '../src/model/gpu/trainer.js';
import { timeRepeats, type Timing, type TimingPolicy } from './timing.js';

export interface TrainerSpec {
  preset: TrmConfigName;
  batch: number;
  policy: TimingPolicy;
  /** Also time evaluate(), all maxSupervisionSteps supervision steps on one batch. */
  evaluate: boolean;
}

export interface TrainerResult {
  preset: TrmConfigName;
  batch: number;
  /** Wall clock per training step: steps recorded back to back, one wait per repeat. */
  step: Timing | null;
  stepsPerSecond: number;
  puzzlesPerSecond: number;
  dispatchesPerStep: number;
  submitsPerStep: number;
  /** gpu.allocatedBytes before the trainer was created, and the most seen while it ran. */
  allocatedBytes: { before: number; peak: number };
  /** Wall clock of one evaluate() call, readback included; null when not asked for. */
  evaluation: Timing | null;
  supervisionSteps: number;
  error?: string;
}

export async function measureTrainer(gpu: Gpu, spec: TrainerSpec): Promise<TrainerResult> {
  const config = trmConfig(spec.preset, { batch: spec.batch });
  const before = gpu.allocatedBytes;
  const empty = { preset: spec.preset, batch: spec.batch, step: null, stepsPerSecond: NaN, puzzlesPerSecond: NaN, dispatchesPerStep: NaN, submitsPerStep: NaN, evaluation: null, supervisionSteps: config.maxSupervisionSteps };
  let peak = before;
  let trainer: TrmTrainer | null = null;
  try {
    trainer = await TrmTrainer.create(gpu, config, { seed: 0 });
    const counted = countedSteps(gpu, trainer, config, () => (peak = Math.max(peak, gpu.allocatedBytes)));
    const step = await timeRepeats(counted.warmUp, counted.repeat, spec.policy);
    const evaluation = spec.evaluate ? await timeEvaluation(trainer, config, spec.policy) : null;
    peak = Math.max(peak, gpu.allocatedBytes);
    const perStep = counted.perStep();
    return { ...empty, step, stepsPerSecond: 1 / step.seconds, puzzlesPerSecond: spec.batch / step.seconds, ...perStep, allocatedBytes: { before, peak }, evaluation };
  } catch (error) {
    return { ...empty, allocatedBytes: { before, peak }, error: String((error as Error)?.message ?? error) };
  } finally {
    trainer?.dispose();
  }
}

/**
 * Training steps for timeRepeats, counting the dispatches and submits of the timed ones (the
 * warm-up step also compiles pipelines and runs the matmul tuning pass, which submits its own).
 */
function countedSteps(gpu: Gpu, trainer: TrmTrainer, config: TrmConfig, sample: () => void) {
  const rng = new Rng(1);
  const batches = [randomBatch(config, rng), randomBatch(config, rng)];
  const counts = { steps: 0, dispatches: 0, submits: 0 };
  const run = async (count: number, counted: boolean) => {
    const [dispatches, submits] = [gpu.dispatchCount, gpu.submitCount];
    const started = performance.now();
    for (let i = 0; i < count; i++) await trainer.trainStep(batches[i % batches.length]);
    await gpu.sync('bench training steps');
    const seconds = (performance.now() - started) / 1000;
    sample();
    if (counted) {
      counts.steps += count;
      counts.dispatches += gpu.dispatchCount - dispatches;
      counts.submits += gpu.submitCount - submits;
    }
    return seconds;
  };
  return {
    warmUp: () => run(1, false),
    repeat: async (count: number) => ({ wallSeconds: await run(count, true), gpuSeconds: null }),
    perStep: () => ({ dispatchesPerStep: counts.dispatches / counts.steps, submitsPerStep: counts.submits / counts.steps }),
  };
}

async function timeEvaluation(trainer: TrmTrainer, config: TrmConfig, policy: TimingPolicy): Promise<Timing> {
  const { inputs, puzzleIds } = randomBatch(config, new Rng(2));
  const evaluate = async (count: number) => {
    const started = performance.now();
    for (let i = 0; i < count; i++) await trainer.evaluate({ inputs, puzzleIds });
    return (performance.now() - started) / 1000;
  };
  return timeRepeats(() => evaluate(1), async (count) => ({ wallSeconds: await evaluate(count), gpuSeconds: null }), { ...policy, maxRepeats: Math.min(policy.maxRepeats, 3) });
}

/** Draws a batch of random token ids, labels and puzzle ids. The TF.js step draws the same batches. */
export function randomBatch(config: TrmConfig, rng: Rng): TrainingBatch {
  const tokens = config.batch * config.seqLen;
  const draw = () => Int32Array.from({ length: tokens }, () => rng.nextUint32() % config.vocab);
  return { inputs: draw(), labels: draw(), puzzleIds: Int32Array.from({ length: config.batch }, () => rng.nextUint32() % config.numPuzzleIds) };
}
