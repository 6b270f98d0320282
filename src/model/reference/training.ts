// Float64 reference of TRM training and evaluation: continuous batching over persistent
// slots, halting with exploration, AdamATan2, sparse SignSGD, EMA, and the evaluation loop.
import type { TrmConfig } from '../config.js';
import { Rng } from '../init.js';
import type { ReferenceContext } from './context.js';
import { trmLoss, type TrmLoss } from './losses.js';
import {
  broadcastRows,
  initialCarry,
  supervisionStepBackward,
  supervisionStepForward,
  type Carry,
  type ModelInputs,
  type ReferenceParameters,
  type SupervisionStep,
} from './model.js';

export interface TrainingBatch extends ModelInputs {
  /** [batch, seqLen]: target token ids, or IGNORE_LABEL. */
  labels: Int32Array;
}

export interface StepGradients {
  step: SupervisionStep;
  loss: TrmLoss;
  /** [layout.length]: gradient of loss.loss for the dense parameters. */
  grads: Float64Array;
  /** [batch, hidden]: gradient of each sample's puzzle-embedding row. */
  dPuzzleEmb: Float64Array;
}

/** Runs the forward, loss and backward of one supervision step from `carry`. */
export function lossAndGradients(context: ReferenceContext, params: ReferenceParameters, carry: Carry, batch: TrainingBatch): StepGradients {
  const { config, layout } = context;
  const step = supervisionStepForward(context, params, carry, batch);
  const shape = { batch: step.batch, seqLen: config.seqLen, vocab: config.vocab };
  const loss = trmLoss(step.logits, step.qHalt, batch.labels, shape, config.lossType);

  const grads = new Float64Array(layout.length);
  const dPuzzleEmb = supervisionStepBackward(context, params, step, loss.dLogits, loss.dQHalt, grads);
  return { step, loss, grads, dPuzzleEmb };
}

/**
 * Returns the learning rate of a linear warmup, then constant. `step` counts from 1, so the first step uses
 * baseLr/warmupSteps. The authors' code decays by cosine toward lr·lr_min_ratio, and its
 * default ratio 1 makes that phase constant.
 */
export function learningRate(baseLr: number, step: number, warmupSteps: number): number {
  return step < warmupSteps ? (baseLr * step) / warmupSteps : baseLr;
}

/**
 * Applies AdamATan2 at optimizer step t (from 1) to params, grads, m and v, all [length]:
 * p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * p ← p − lr·atan2(m/(1 − β1^t), sqrt(v/(1 − β2^t))). There is no epsilon, and each step
 * moves a parameter by at most lr·π/2.
 */
export function adamAtan2Update(
  params: Float64Array,
  grads: Float64Array,
  m: Float64Array,
  v: Float64Array,
  t: number,
  lr: number,
  config: Pick<TrmConfig, 'beta1' | 'beta2' | 'weightDecay'>,
): void {
  const { beta1, beta2, weightDecay } = config;
  const biasCorrection1 = 1 - beta1 ** t;
  const biasCorrection2 = 1 - beta2 ** t;
  for (let i = 0; i < params.length; i++) {
    const g = grads[i];
    params[i] *= 1 - lr * weightDecay;
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    params[i] -= lr * Math.atan2(m[i] / biasCorrection1, Math.sqrt(v[i] / biasCorrection2));
  }
}

/**
 * Applies sparse SignSGD to the puzzle-embedding table [numIds, hidden]: the gradients of samples
 * with the same id are summed, then each id in the batch gets row ← row·(1 − lr·wd) −
 * lr·sign(sum). Rows of ids absent from the batch are unchanged.
 */
export function signSgdUpdate(
  table: Float64Array,
  puzzleIds: Int32Array,
  dPuzzleEmb: Float64Array,
  hidden: number,
  lr: number,
  weightDecay: number,
): void {
  const sums = new Map<number, Float64Array>();
  puzzleIds.forEach((id, b) => {
    const sum = sums.get(id) ?? new Float64Array(hidden);
    for (let d = 0; d < hidden; d++) {
      sum[d] += dPuzzleEmb[b * hidden + d];
    }
    sums.set(id, sum);
  });

  for (const [id, sum] of sums) {
    for (let d = 0; d < hidden; d++) {
      const index = id * hidden + d;
      table[index] = table[index] * (1 - lr * weightDecay) - lr * Math.sign(sum[d]);
    }
  }
}

/** Updates the EMA: shadow ← (1 − rate)·params + rate·shadow, both [length]. */
export function emaUpdate(shadow: Float64Array, params: Float64Array, rate: number): void {
  for (let i = 0; i < shadow.length; i++) {
    shadow[i] = (1 - rate) * params[i] + rate * shadow[i];
  }
}

/** The per-slot state that persists across optimizer steps. */
export interface SlotState {
  carry: Carry;
  /** [batch]: supervision steps the slot's current puzzle has had. */
  steps: Int32Array;
  /** [batch]: 1 where the slot takes a new puzzle at the next step. */
  halted: Uint8Array;
  /** The puzzle each slot works on. */
  data: TrainingBatch;
}

/** Creates slots that are all halted, so the first step loads the whole first batch. */
export function initialSlots(context: ReferenceContext, params: ReferenceParameters, batch: number): SlotState {
  const { seqLen } = context.config;
  return {
    carry: initialCarry(context, params, batch),
    steps: new Int32Array(batch),
    halted: new Uint8Array(batch).fill(1),
    data: { inputs: new Int32Array(batch * seqLen), labels: new Int32Array(batch * seqLen), puzzleIds: new Int32Array(batch) },
  };
}

/**
 * Restarts each halted slot: y, z ← H_init, L_init, steps ← 0, and the slot takes sample b
 * of the new batch. Other slots keep their puzzle, and the new batch's sample at their
 * index is dropped.
 */
export function resetHaltedSlots(context: ReferenceContext, params: ReferenceParameters, slots: SlotState, batch: TrainingBatch): void {
  const { seqLen, hidden } = context.config;
  const sampleSize = context.sizes.totalSeqLen * hidden;
  const yInit = broadcastRows(params.hInit, context.sizes.totalSeqLen);
  const zInit = broadcastRows(params.lInit, context.sizes.totalSeqLen);

  for (let b = 0; b < slots.steps.length; b++) {
    if (!slots.halted[b]) {
      continue;
    }
    slots.carry.y.set(yInit, b * sampleSize);
    slots.carry.z.set(zInit, b * sampleSize);
    slots.steps[b] = 0;
    slots.data.inputs.set(batch.inputs.subarray(b * seqLen, (b + 1) * seqLen), b * seqLen);
    slots.data.labels.set(batch.labels.subarray(b * seqLen, (b + 1) * seqLen), b * seqLen);
    slots.data.puzzleIds[b] = batch.puzzleIds[b];
  }
}

/**
 * Draws the exploration minimum step counts of one step, [batch]: with probability `prob` a minimum step count
 * uniform in {2, …, maxSteps}, else 0. Like the authors' code, it draws all `batch` Bernoulli
 * uniforms first, then `batch` step counts.
 */
export function sampleMinHaltSteps(rng: Rng, batch: number, prob: number, maxSteps: number): Int32Array {
  const explore = Array.from({ length: batch }, () => rng.uniform() < prob);
  const counts = Array.from({ length: batch }, () => rng.integer(2, maxSteps + 1));
  return Int32Array.from(counts, (count, b) => (explore[b] ? count : 0));
}

/**
 * Advances the halting state after a training step: steps += 1, then halted = steps ≥ maxSteps, or (when maxSteps > 1)
 * qHalt > 0 provided steps ≥ the slot's minimum from exploration. All arrays are [batch];
 * minHaltSteps null means no exploration.
 */
export function advanceHalting(
  steps: Int32Array,
  halted: Uint8Array,
  qHalt: Float64Array,
  maxSteps: number,
  minHaltSteps: Int32Array | null,
): void {
  for (let b = 0; b < steps.length; b++) {
    steps[b] += 1;
    let halt = steps[b] >= maxSteps;
    if (maxSteps > 1) {
      halt = halt || qHalt[b] > 0;
      halt = halt && steps[b] >= (minHaltSteps ? minHaltSteps[b] : 0);
    }
    halted[b] = halt ? 1 : 0;
  }
}

export interface TrainState {
  /** Updated in place by every step. */
  params: ReferenceParameters;
  /** AdamATan2 first and second moments, [layout.length]. */
  adamM: Float64Array;
  adamV: Float64Array;
  /** EMA of params.dense, [layout.length]; starts at the initial parameters. */
  ema: Float64Array;
  /** Optimizer steps taken. */
  step: number;
  slots: SlotState;
  /** Source of the exploration draws; null switches exploration off. */
  explorationRng: Rng | null;
}

/** Copies `params`; explorationSeed null switches halting exploration off. */
export function createTrainState(context: ReferenceContext, params: ReferenceParameters, explorationSeed: number | null): TrainState {
  const copy: ReferenceParameters = {
    dense: params.dense.slice(),
    puzzleEmb: params.puzzleEmb.slice(),
    hInit: params.hInit.slice(),
    lInit: params.lInit.slice(),
  };
  return {
    params: copy,
    adamM: new Float64Array(context.layout.length),
    adamV: new Float64Array(context.layout.length),
    ema: copy.dense.slice(),
    step: 0,
    slots: initialSlots(context, copy, context.config.batch),
    explorationRng: explorationSeed === null ? null : new Rng(explorationSeed),
  };
}

export interface TrainStepResult {
  /** The differentiated loss, (lmLoss + 0.5·qHaltLoss) / batch. */
  loss: number;
  lmLoss: number;
  qHaltLoss: number;
  /** Learning rates used by AdamATan2 and by SignSGD. */
  lr: number;
  puzzleEmbLr: number;
  /** [batch] */
  qHalt: Float64Array;
  /** [batch] */
  seqCorrect: Uint8Array;
  /** [batch]: copies of the slot state after the step. */
  steps: Int32Array;
  halted: Uint8Array;
}

/** Runs one optimizer step on a batch of config.batch samples. */
export function trainStep(context: ReferenceContext, state: TrainState, batch: TrainingBatch): TrainStepResult {
  const { config } = context;
  if (batch.puzzleIds.length !== config.batch) {
    throw new Error(`training batch has ${batch.puzzleIds.length} samples, expected config.batch = ${config.batch}`);
  }
  const { params, slots } = state;

  state.step += 1;
  resetHaltedSlots(context, params, slots, batch);

  const { step, loss, grads, dPuzzleEmb } = lossAndGradients(context, params, slots.carry, slots.data);

  const lr = learningRate(config.lr, state.step, config.warmupSteps);
  const puzzleEmbLr = learningRate(config.puzzleEmbLr, state.step, config.warmupSteps);
  adamAtan2Update(params.dense, grads, state.adamM, state.adamV, state.step, lr, config);
  signSgdUpdate(params.puzzleEmb, slots.data.puzzleIds, dPuzzleEmb, config.hidden, puzzleEmbLr, config.puzzleEmbWeightDecay);
  emaUpdate(state.ema, params.dense, config.emaRate);

  slots.carry = step.carry;
  const rng = state.explorationRng;
  const minHaltSteps = rng && config.maxSupervisionSteps > 1
    ? sampleMinHaltSteps(rng, config.batch, config.haltExplorationProb, config.maxSupervisionSteps)
    : null;
  advanceHalting(slots.steps, slots.halted, step.qHalt, config.maxSupervisionSteps, minHaltSteps);

  return {
    loss: loss.loss,
    lmLoss: loss.lmLoss,
    qHaltLoss: loss.qHaltLoss,
    lr,
    puzzleEmbLr,
    qHalt: step.qHalt,
    seqCorrect: loss.seqCorrect,
    steps: slots.steps.slice(),
    halted: slots.halted.slice(),
  };
}

export interface Evaluation {
  /** [batch, seqLen, vocab]: logits of the last supervision step. */
  logits: Float64Array;
  /** [maxSupervisionSteps, batch]: q_halt logit after each step. */
  qHalt: Float64Array;
}

/**
 * Runs maxSupervisionSteps supervision steps from H_init/L_init without early halting, as
 * the authors' code evaluates. Pass the EMA weights in `params.dense` to match it.
 */
export function evaluate(context: ReferenceContext, params: ReferenceParameters, inputs: ModelInputs): Evaluation {
  const batch = inputs.puzzleIds.length;
  const steps = context.config.maxSupervisionSteps;
  const qHalt = new Float64Array(steps * batch);

  let carry = initialCarry(context, params, batch);
  let logits: Float64Array = new Float64Array(0);
  for (let s = 0; s < steps; s++) {
    const step = supervisionStepForward(context, params, carry, inputs);
    qHalt.set(step.qHalt, s * batch);
    logits = step.logits;
    carry = step.carry;
  }
  return { logits, qHalt };
}
