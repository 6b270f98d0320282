// The peer of TrmTrainer.trainStep: one optimizer step of the TRM-MLP written with TensorFlow.js
// (bench/tfjs-trm.ts), timed the way bench/trainer.ts times ours. In each step, halted slots
// take the new batch and restart from H_init, L_init. Then T − 1 recursions run outside the
// gradient tape and the last one inside tf.variableGrads. AdamATan2 written with TF.js ops,
// the EMA of the weights and the halting update follow.
import type * as tfjs from '@tensorflow/tfjs';
import { learningRateAt } from '../src/kernels/optimizer.js';
import { trmConfig, trmSizes, type TrmConfig, type TrmConfigName } from '../src/model/config.js';
import { initializeParameters, Rng } from '../src/model/init.js';
import { denseLayout, tensorView } from '../src/model/parameters.js';
import { flushPeer, type PeerInfo, type Tf } from './tfjs.js';
import { inputEncoding, outputHeads, recursion, trainingLoss, type PeerCarry, type PeerInputs, type PeerModel } from './tfjs-trm.js';
import { timeRepeats, type Timing } from './timing.js';
import { randomBatch, type TrainerSpec } from './trainer.js';

type Tensor = tfjs.Tensor;

export interface PeerTrainerResult {
  preset: TrmConfigName;
  batch: number;
  backend: PeerInfo['name'] | null;
  /** Wall clock per training step: steps back to back, one wait per repeat. Null when it failed. */
  step: Timing | null;
  /** The loss of the warm-up step, then of the last step of every repeat. */
  losses: number[];
  /** The differences between the peer's step and ours. */
  note: string;
  error?: string;
}

export const PEER_STEP_NOTE = 'no SignSGD on the puzzle embedding, no halting exploration draws, no metrics; AdamATan2 and EMA per tensor with TF.js ops (ours: one fused kernel each over the flat buffer)';

/** The per-slot state that one step reads and the next step gets. */
interface PeerSlots extends PeerInputs, PeerCarry {
  /** int32 [batch]: supervision steps taken on the slot's puzzle. */
  steps: Tensor;
  /** bool [batch] */
  halted: Tensor;
}

interface PeerTrainer {
  model: PeerModel;
  /** Adam moments and EMA shadow, by state_dict name like model.weights. */
  m: Map<string, tfjs.Variable>;
  v: Map<string, tfjs.Variable>;
  shadow: Map<string, tfjs.Variable>;
  /** [hidden] each: the initial y and z. */
  hInit: Tensor;
  lInit: Tensor;
  slots: PeerSlots;
  step: number;
}

function createPeerTrainer(tf: Tf, config: TrmConfig, seed: number): PeerTrainer {
  if (config.variant !== 'mlp') throw new Error(`the TF.js training step peer covers the mlp variant only, not '${config.variant}'`);
  const initial = initializeParameters(config, seed);
  const layout = denseLayout(config);
  const tensors = layout.tensors.map(({ name, shape }) => ({ name, shape: [...shape], values: tensorView(layout, initial.dense, name) }));
  // tf.tidy disposes the initial value tensors and keeps the variables, which share their data.
  const variables = (make: (values: Float32Array, shape: number[]) => Tensor, trainable: boolean) =>
    new Map(tensors.map(({ name, shape, values }) => [name, tf.tidy(() => tf.variable(make(values, shape), trainable))]));

  const model: PeerModel = {
    tf,
    config,
    sizes: trmSizes(config),
    weights: variables((values, shape) => tf.tensor(values, shape), true),
    puzzleTable: tf.tensor(initial.puzzleEmb, [config.numPuzzleIds, config.hidden]),
  };
  return {
    model,
    m: variables((_, shape) => tf.zeros(shape), false),
    v: variables((_, shape) => tf.zeros(shape), false),
    shadow: variables((values, shape) => tf.tensor(values, shape), false),
    hInit: tf.tensor(initial.hInit),
    lInit: tf.tensor(initial.lInit),
    slots: initialSlots(tf, config),
    step: 0,
  };
}

/** Creates slots that are all halted, so that the first step takes the whole batch. */
function initialSlots(tf: Tf, config: TrmConfig): PeerSlots {
  const { batch, seqLen, hidden } = config;
  const carry = [batch, trmSizes(config).totalSeqLen, hidden];
  return {
    y: tf.zeros(carry),
    z: tf.zeros(carry),
    tokens: tf.zeros([batch, seqLen], 'int32'),
    labels: tf.zeros([batch, seqLen], 'int32'),
    puzzleIds: tf.zeros([batch], 'int32'),
    steps: tf.zeros([batch], 'int32'),
    halted: tf.ones([batch], 'bool'),
  };
}

function disposePeerTrainer(trainer: PeerTrainer): void {
  const { tf } = trainer.model;
  for (const map of [trainer.model.weights, trainer.m, trainer.v, trainer.shadow]) tf.dispose([...map.values()]);
  tf.dispose([trainer.model.puzzleTable, trainer.hInit, trainer.lInit, ...Object.values(trainer.slots)]);
}

/** Halted slots take the incoming sample at their index and restart from H_init, L_init with 0 steps. */
function resetHalted(trainer: PeerTrainer, incoming: PeerInputs): PeerSlots {
  const { tf } = trainer.model;
  const { slots } = trainer;
  const select = (fresh: Tensor, current: Tensor) => tf.where(tf.reshape(slots.halted, [-1, ...fresh.shape.slice(1).map(() => 1)]), fresh, current);
  const initial = (row: Tensor) => tf.broadcastTo(row, slots.y.shape);
  return {
    y: select(initial(trainer.hInit), slots.y),
    z: select(initial(trainer.lInit), slots.z),
    tokens: select(incoming.tokens, slots.tokens),
    labels: select(incoming.labels, slots.labels),
    puzzleIds: select(incoming.puzzleIds, slots.puzzleIds),
    steps: select(tf.zerosLike(slots.steps), slots.steps),
    halted: slots.halted,
  };
}

/**
 * AdamATan2 on every dense tensor: p ← p·(1 − lr·wd), then
 * p ← p − lr·atan2(m / (1 − β1ᵗ), sqrt(v) / sqrt(1 − β2ᵗ)), with no ε.
 */
function adamAtan2(trainer: PeerTrainer, grads: tfjs.NamedTensorMap, lr: number): void {
  const { tf, config } = trainer.model;
  const { beta1, beta2, weightDecay } = config;
  const mScale = 1 / (1 - beta1 ** trainer.step);
  const vScale = 1 / Math.sqrt(1 - beta2 ** trainer.step);
  for (const [name, param] of trainer.model.weights) {
    const [m, v] = [trainer.m.get(name)!, trainer.v.get(name)!];
    const grad = grads[param.name] ?? tf.zerosLike(param);
    const mNext = tf.add(tf.mul(m, beta1), tf.mul(grad, 1 - beta1));
    const vNext = tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), 1 - beta2));
    const update = tf.atan2(tf.mul(mNext, mScale), tf.mul(tf.sqrt(vNext), vScale));
    param.assign(tf.sub(tf.mul(param, 1 - lr * weightDecay), tf.mul(update, lr)));
    m.assign(mNext);
    v.assign(vNext);
  }
}

/** shadow ← emaRate·shadow + (1 − emaRate)·param for every dense tensor. */
function updateEma(trainer: PeerTrainer): void {
  const { tf, config } = trainer.model;
  for (const [name, param] of trainer.model.weights) {
    const shadow = trainer.shadow.get(name)!;
    shadow.assign(tf.add(tf.mul(shadow, config.emaRate), tf.mul(param, 1 - config.emaRate)));
  }
}

/** Records one optimizer step on `incoming` and returns its loss, a scalar the caller disposes. Nothing is read back. */
function trainStep(trainer: PeerTrainer, incoming: PeerInputs): Tensor {
  const { model } = trainer;
  const { tf, config } = model;
  trainer.step += 1;
  const lr = learningRateAt(trainer.step, { baseLr: config.lr, warmupSteps: config.warmupSteps, totalSteps: config.warmupSteps, minRatio: 1 });

  // tf.keep takes the outputs out of the tidy scope, since tf.tidy returns only plain tensor maps.
  let output: { loss: Tensor; slots: PeerSlots } | null = null;
  tf.tidy(() => {
    const slots = resetHalted(trainer, incoming);
    const carry = noGradRecursions(model, slots);
    let final: PeerCarry & { qHalt: Tensor } | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const last = recursion(model, carry, inputEncoding(model, slots));
      const heads = outputHeads(model, last.y);
      final = { y: tf.keep(last.y), z: tf.keep(last.z), qHalt: tf.keep(heads.qHalt) };
      return trainingLoss(model, heads, slots.labels) as tfjs.Scalar;
    }, [...model.weights.values()]);
    adamAtan2(trainer, grads, lr);
    updateEma(trainer);
    output = { loss: tf.keep(value), slots: keepSlots(tf, advanceHalting(trainer, slots, final!)) };
  });

  tf.dispose(Object.values(trainer.slots));
  trainer.slots = output!.slots;
  return output!.loss;
}

function keepSlots(tf: Tf, slots: PeerSlots): PeerSlots {
  for (const tensor of Object.values(slots)) tf.keep(tensor);
  return slots;
}

/** Runs the first T − 1 recursions before tf.variableGrads starts its tape, so no gradient flows through them. */
function noGradRecursions(model: PeerModel, slots: PeerSlots): PeerCarry {
  const x = inputEncoding(model, slots);
  let carry: PeerCarry = { y: slots.y, z: slots.z };
  for (let r = 0; r < model.config.recursions - 1; r++) carry = recursion(model, carry, x);
  return carry;
}

/** Builds the next step's slots: the new carry, steps + 1, halted = steps ≥ max or q_halt > 0. */
function advanceHalting(trainer: PeerTrainer, slots: PeerSlots, final: PeerCarry & { qHalt: Tensor }): PeerSlots {
  const { tf, config } = trainer.model;
  const steps = tf.add(slots.steps, tf.scalar(1, 'int32'));
  const halted = tf.logicalOr(tf.greaterEqual(steps, config.maxSupervisionSteps), tf.greater(final.qHalt, 0));
  tf.dispose(final.qHalt);
  return { ...slots, y: final.y, z: final.z, steps, halted };
}

/**
 * Times the peer's training step at the spec's preset and batch, with the same policy as ours:
 * one warm-up step, then repeats of back-to-back steps with one wait each. Throws when a loss
 * is not finite, and when the losses read never change (the update did nothing).
 */
export async function measurePeerTrainer(tf: Tf, peer: PeerInfo | null, spec: TrainerSpec): Promise<PeerTrainerResult> {
  const result: PeerTrainerResult = { preset: spec.preset, batch: spec.batch, backend: peer?.name ?? null, step: null, losses: [], note: PEER_STEP_NOTE };
  const config = trmConfig(spec.preset, { batch: spec.batch });
  const rng = new Rng(1);
  const batches = [randomBatch(config, rng), randomBatch(config, rng)].map((batch) => ({
    tokens: tf.tensor(batch.inputs, [config.batch, config.seqLen], 'int32'),
    labels: tf.tensor(batch.labels, [config.batch, config.seqLen], 'int32'),
    puzzleIds: tf.tensor(batch.puzzleIds, [config.batch], 'int32'),
  }));
  let trainer: PeerTrainer | null = null;
  try {
    trainer = createPeerTrainer(tf, config, 0);
    const steps = timedSteps(tf, trainer, batches, result.losses);
    result.step = await timeRepeats(steps.warmUp, steps.repeat, spec.policy);
    checkLossesChanged(result.losses);
  } catch (error) {
    result.error = String((error as Error)?.message ?? error);
  } finally {
    if (trainer) disposePeerTrainer(trainer);
    tf.dispose(batches.flatMap((batch) => Object.values(batch)));
  }
  return result;
}

/** Training steps for timeRepeats; each run of them reads the last step's loss into `losses`. */
function timedSteps(tf: Tf, trainer: PeerTrainer, batches: PeerInputs[], losses: number[]) {
  let index = 0;
  const run = async (count: number) => {
    const started = performance.now();
    let loss: Tensor | null = null;
    for (let i = 0; i < count; i++) {
      tf.dispose(loss ?? []);
      loss = trainStep(trainer, batches[index++ % batches.length]);
    }
    const value = (await loss!.data())[0];
    await flushPeer(tf);
    const seconds = (performance.now() - started) / 1000;
    tf.dispose(loss!);
    if (!Number.isFinite(value)) throw new Error(`the TF.js peer's loss is ${value} at step ${trainer.step}, expected a finite value; its step in bench/tfjs-trm.ts is broken`);
    losses.push(value);
    return seconds;
  };
  return {
    warmUp: () => run(1),
    repeat: async (count: number) => ({ wallSeconds: await run(count), gpuSeconds: null }),
  };
}

function checkLossesChanged(losses: number[]): void {
  if (losses.length > 1 && losses.every((loss) => loss === losses[0])) {
    throw new Error(`the TF.js peer's loss stayed at ${losses[0]} over ${losses.length} reads, so its update changes nothing; check adamAtan2 in bench/tfjs-trainer.ts`);
  }
}
