// Training metrics: the per-slot values a step leaves on the device, packed into one buffer by
// copies at the end of the step, and their summary, computed on the host only when read.
import type { Gpu } from '../../gpu/gpu.js';
import { NO_BAD_STEP } from '../../kernels/halting.js';

export interface TrainMetrics {
  /** Optimizer steps taken; the metrics are those of this step. */
  step: number;
  /** AdamATan2 learning rate of the step. */
  lr: number;
  /** (lmLoss + 0.5 · qHaltLoss) / batch: the loss whose gradient the step followed. */
  loss: number;
  /** Σ over slots of the mean token cross-entropy over the slot's valid tokens. */
  lmLoss: number;
  /** Σ over slots of BCE-with-logits(q_halt, exact). */
  qHaltLoss: number;
  /** Over all slots: correct valid tokens / valid tokens. */
  tokenAccuracy: number;
  /** Fraction of slots whose valid tokens are all correct. */
  exactAccuracy: number;
  /** Fraction of slots where q_halt > 0 agrees with exact. */
  qHaltAccuracy: number;
  /** Mean supervision steps of the slots' current puzzles, this step included. */
  meanSteps: number;
  /** Slots that halted at this step (they take new samples at the next one). */
  haltedCount: number;
  /** Mean supervision steps of the slots that halted at this step; NaN when none did. */
  meanHaltSteps: number;
  /** Per-slot values, [batch] each. */
  slots: { seqLoss: Float32Array; qHaltLoss: Float32Array; exact: Float32Array; qHalt: Float32Array; steps: Uint32Array; halted: Uint32Array };
}

/** The per-slot buffers of a step, in pack order, then the one-word non-finite-loss watch. */
export interface MetricSources {
  seqLoss: GPUBuffer;
  qHaltLoss: GPUBuffer;
  correct: GPUBuffer;
  valid: GPUBuffer;
  exact: GPUBuffer;
  qHalt: GPUBuffer;
  steps: GPUBuffer;
  halted: GPUBuffer;
  firstBadStep: GPUBuffer;
}

const PER_SLOT = ['seqLoss', 'qHaltLoss', 'correct', 'valid', 'exact', 'qHalt', 'steps', 'halted'] as const;

/** Bytes of the packed metrics of `batch` slots. */
export function metricsBytes(batch: number): number {
  return (PER_SLOT.length * batch + 1) * 4;
}

/** Records the copies of every source into `pack`. */
export function encodeMetricsPack(gpu: Gpu, sources: MetricSources, pack: GPUBuffer, batch: number): void {
  PER_SLOT.forEach((name, index) => gpu.copy(sources[name], 0, pack, index * batch * 4, batch * 4));
  gpu.copy(sources.firstBadStep, 0, pack, PER_SLOT.length * batch * 4, 4);
}

/**
 * Summarises a pack read back from the device. Throws when a loss of any step so far was NaN
 * or ±∞, naming the first such step.
 */
export function summarizeMetrics(bytes: ArrayBuffer, batch: number, step: number, lr: number): TrainMetrics {
  const section = (index: number) => ({ floats: new Float32Array(bytes, index * batch * 4, batch), words: new Uint32Array(bytes, index * batch * 4, batch) });
  const [seqLoss, qHaltLoss, correct, valid, exact, qHalt, steps, halted] = PER_SLOT.map((_, index) => section(index));
  const firstBadStep = new Uint32Array(bytes, PER_SLOT.length * batch * 4, 1)[0];

  const lmLoss = sum(seqLoss.floats);
  const haltLoss = sum(qHaltLoss.floats);
  const loss = (lmLoss + 0.5 * haltLoss) / batch;
  if (firstBadStep !== NO_BAD_STEP || !Number.isFinite(loss)) {
    const first = firstBadStep !== NO_BAD_STEP ? firstBadStep : step;
    throw new Error(
      `training loss is not finite (NaN or infinite) at step ${first}; metrics were read after step ${step}. ` +
        'Lower the learning rate, check the inputs, or reload the last checkpoint',
    );
  }

  const haltedSteps = Array.from(steps.words).filter((_, b) => halted.words[b] !== 0);
  const agreements = Array.from(qHalt.floats).filter((q, b) => (q > 0 ? 1 : 0) === exact.floats[b]).length;
  return {
    step,
    lr,
    loss,
    lmLoss,
    qHaltLoss: haltLoss,
    tokenAccuracy: sum(correct.words) / Math.max(1, sum(valid.words)),
    exactAccuracy: sum(exact.floats) / batch,
    qHaltAccuracy: agreements / batch,
    meanSteps: sum(steps.words) / batch,
    haltedCount: haltedSteps.length,
    meanHaltSteps: haltedSteps.length > 0 ? sum(haltedSteps) / haltedSteps.length : NaN,
    slots: {
      seqLoss: seqLoss.floats.slice(),
      qHaltLoss: qHaltLoss.floats.slice(),
      exact: exact.floats.slice(),
      qHalt: qHalt.floats.slice(),
      steps: steps.words.slice(),
      halted: halted.words.slice(),
    },
  };
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}
