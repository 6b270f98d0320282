// Float64 reference of one TRM supervision step: input encoding, T recursions of n latent
// updates and one answer update, the output heads, and the backward of the final recursion.
import type { TrmParameters } from '../init.js';
import { netBackward, netForward, type BlockCache } from './block.js';
import { modelWeights, type BlockWeights, type ModelWeights, type ReferenceContext } from './context.js';
import { add, linearBackward, linearForward } from './layers.js';

/** The model's state in float64. */
export interface ReferenceParameters {
  /** Dense trained parameters in the flat layout: [layout.length]. */
  dense: Float64Array;
  /** [numPuzzleIds, hidden] */
  puzzleEmb: Float64Array;
  /** [hidden]: initial y of every position. */
  hInit: Float64Array;
  /** [hidden]: initial z of every position. */
  lInit: Float64Array;
}

/** Float64 copies of float32 parameters. */
export function toReferenceParameters(params: TrmParameters): ReferenceParameters {
  return {
    dense: Float64Array.from(params.dense),
    puzzleEmb: Float64Array.from(params.puzzleEmb),
    hInit: Float64Array.from(params.hInit),
    lInit: Float64Array.from(params.lInit),
  };
}

export interface ModelInputs {
  /** [batch, seqLen] token ids in [0, vocab). */
  inputs: Int32Array;
  /** [batch] ids in [0, numPuzzleIds). */
  puzzleIds: Int32Array;
}

/** The recurrent state carried between supervision steps. */
export interface Carry {
  /** [batch, totalSeqLen, hidden]: the answer state (z_H). */
  y: Float64Array;
  /** [batch, totalSeqLen, hidden]: the latent state (z_L). */
  z: Float64Array;
}

export function broadcastRows(row: Float64Array, count: number): Float64Array {
  const out = new Float64Array(count * row.length);
  for (let i = 0; i < count; i++) {
    out.set(row, i * row.length);
  }
  return out;
}

/** y = H_init and z = L_init at every position of every sample. */
export function initialCarry(context: ReferenceContext, params: ReferenceParameters, batch: number): Carry {
  const positions = batch * context.sizes.totalSeqLen;
  return { y: broadcastRows(params.hInit, positions), z: broadcastRows(params.lInit, positions) };
}

/** Checks id ranges and array lengths; returns the batch size. */
function checkInputs(context: ReferenceContext, inputs: ModelInputs): number {
  const { config } = context;
  const batch = inputs.puzzleIds.length;
  if (inputs.inputs.length !== batch * config.seqLen) {
    throw new Error(`inputs has ${inputs.inputs.length} tokens, expected batch·seqLen = ${batch}·${config.seqLen}`);
  }
  const badToken = inputs.inputs.findIndex((token) => token < 0 || token >= config.vocab);
  if (badToken >= 0) {
    throw new Error(`inputs[${badToken}] is ${inputs.inputs[badToken]}, expected a token id in [0, ${config.vocab})`);
  }
  const badId = inputs.puzzleIds.findIndex((id) => id < 0 || id >= config.numPuzzleIds);
  if (badId >= 0) {
    throw new Error(`puzzleIds[${badId}] is ${inputs.puzzleIds[badId]}, expected an id in [0, ${config.numPuzzleIds})`);
  }
  return batch;
}

/**
 * Encodes x [batch, totalSeqLen, hidden]: prefix slot 0 contains the sample's puzzle embedding, slots
 * 1 … puzzleEmbSlots − 1 are zero, then the token embeddings of the grid; all × sqrt(hidden).
 */
export function encodeInputs(context: ReferenceContext, params: ReferenceParameters, weights: ModelWeights, inputs: ModelInputs): Float64Array {
  const { config, sizes } = context;
  const hidden = config.hidden;
  const batch = checkInputs(context, inputs);
  const scale = Math.sqrt(hidden);

  const x = new Float64Array(batch * sizes.totalSeqLen * hidden);
  for (let b = 0; b < batch; b++) {
    const sample = b * sizes.totalSeqLen * hidden;
    const puzzleRow = inputs.puzzleIds[b] * hidden;
    for (let d = 0; d < hidden; d++) {
      x[sample + d] = scale * params.puzzleEmb[puzzleRow + d];
    }

    for (let t = 0; t < config.seqLen; t++) {
      const tokenRow = inputs.inputs[b * config.seqLen + t] * hidden;
      const position = sample + (config.puzzleEmbSlots + t) * hidden;
      for (let d = 0; d < hidden; d++) {
        x[position + d] = scale * weights.tokenEmbedding[tokenRow + d];
      }
    }
  }
  return x;
}

/**
 * Adds the token-embedding gradient into dTokenEmbedding [vocab, hidden] and returns the
 * gradient of each sample's puzzle-embedding row, [batch, hidden], for dX [batch, totalSeqLen, hidden].
 */
export function encodeInputsBackward(context: ReferenceContext, dX: Float64Array, inputs: ModelInputs, dTokenEmbedding: Float64Array): Float64Array {
  const { config, sizes } = context;
  const hidden = config.hidden;
  const batch = inputs.puzzleIds.length;
  const scale = Math.sqrt(hidden);

  const dPuzzleEmb = new Float64Array(batch * hidden);
  for (let b = 0; b < batch; b++) {
    const sample = b * sizes.totalSeqLen * hidden;
    for (let d = 0; d < hidden; d++) {
      dPuzzleEmb[b * hidden + d] = scale * dX[sample + d];
    }

    for (let t = 0; t < config.seqLen; t++) {
      const tokenRow = inputs.inputs[b * config.seqLen + t] * hidden;
      const position = sample + (config.puzzleEmbSlots + t) * hidden;
      for (let d = 0; d < hidden; d++) {
        dTokenEmbedding[tokenRow + d] += scale * dX[position + d];
      }
    }
  }
  return dPuzzleEmb;
}

export interface RecursionCache {
  /** One entry per latent update z ← net(z, y + x). */
  latent: BlockCache[][];
  /** The answer update y ← net(y, z). */
  answer: BlockCache[];
}

/** Runs one recursion: n times z ← net(z, y + x), then y ← net(y, z). x and the carry are [batch, totalSeqLen, hidden]. */
export function recursionForward(
  context: ReferenceContext,
  blocks: BlockWeights[],
  carry: Carry,
  x: Float64Array,
  batch: number,
): { carry: Carry; cache: RecursionCache } {
  const injection = add(carry.y, x);
  const latent: BlockCache[][] = [];
  let z = carry.z;
  for (let step = 0; step < context.config.latentSteps; step++) {
    const net = netForward(context, blocks, z, injection, batch);
    latent.push(net.caches);
    z = net.out;
  }

  const answer = netForward(context, blocks, carry.y, z, batch);
  return { carry: { y: answer.out, z }, cache: { latent, answer: answer.caches } };
}

/**
 * Backward of one recursion whose starting carry is a constant: adds the weight gradients
 * into `grads` and returns dX [batch, totalSeqLen, hidden] for dY, the gradient of the new y.
 */
export function recursionBackward(
  context: ReferenceContext,
  blocks: BlockWeights[],
  grads: BlockWeights[],
  cache: RecursionCache,
  dY: Float64Array,
  batch: number,
): Float64Array {
  // The answer update's input is y + z; y is the constant carry, so only z passes gradient.
  let dZ = netBackward(context, blocks, grads, cache.answer, dY, batch);

  const dX = new Float64Array(dY.length);
  for (let step = cache.latent.length - 1; step >= 0; step--) {
    const dInput = netBackward(context, blocks, grads, cache.latent[step], dZ, batch);
    for (let i = 0; i < dX.length; i++) {
      dX[i] += dInput[i];
    }
    dZ = dInput;
  }
  return dX;
}

export interface HeadsOutput {
  /** [batch, seqLen, vocab]: lm_head of y at the grid positions. */
  logits: Float64Array;
  /** [batch]: q_head(y[:, 0])[0], halting is predicted when it is positive. */
  qHalt: Float64Array;
  /** [batch]: q_head(y[:, 0])[1], computed but unused by training and halting. */
  qContinue: Float64Array;
}

/** Gathers rows [first, first + count) of every sample of x [batch, rowsPerSample, width]. */
function sliceRows(x: Float64Array, batch: number, rowsPerSample: number, width: number, first: number, count: number): Float64Array {
  const out = new Float64Array(batch * count * width);
  for (let b = 0; b < batch; b++) {
    const start = (b * rowsPerSample + first) * width;
    out.set(x.subarray(start, start + count * width), b * count * width);
  }
  return out;
}

/** Adds the rows of `slice` [batch, count, width] into rows [first, first + count) of each sample of x. */
function addIntoRows(x: Float64Array, slice: Float64Array, batch: number, rowsPerSample: number, width: number, first: number, count: number): void {
  for (let b = 0; b < batch; b++) {
    const start = (b * rowsPerSample + first) * width;
    for (let i = 0; i < count * width; i++) {
      x[start + i] += slice[b * count * width + i];
    }
  }
}

/** Applies lm_head to the grid positions and q_head to position 0 of y [batch, totalSeqLen, hidden]. */
export function outputHeadsForward(context: ReferenceContext, weights: ModelWeights, y: Float64Array, batch: number): HeadsOutput {
  const { config, sizes } = context;
  const hidden = config.hidden;

  const grid = sliceRows(y, batch, sizes.totalSeqLen, hidden, config.puzzleEmbSlots, config.seqLen);
  const logits = linearForward(grid, weights.lmHead, batch * config.seqLen, hidden, config.vocab);

  const first = sliceRows(y, batch, sizes.totalSeqLen, hidden, 0, 1);
  const q = linearForward(first, weights.qHeadWeight, batch, hidden, 2);
  const qHalt = new Float64Array(batch);
  const qContinue = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    qHalt[b] = q[2 * b] + weights.qHeadBias[0];
    qContinue[b] = q[2 * b + 1] + weights.qHeadBias[1];
  }
  return { logits, qHalt, qContinue };
}

/**
 * Adds the head gradients into `grads` and returns dY [batch, totalSeqLen, hidden], for
 * dLogits [batch, seqLen, vocab] and dQHalt [batch] (q_continue has no loss).
 */
export function outputHeadsBackward(
  context: ReferenceContext,
  weights: ModelWeights,
  grads: ModelWeights,
  y: Float64Array,
  dLogits: Float64Array,
  dQHalt: Float64Array,
  batch: number,
): Float64Array {
  const { config, sizes } = context;
  const hidden = config.hidden;
  const dY = new Float64Array(y.length);

  const grid = sliceRows(y, batch, sizes.totalSeqLen, hidden, config.puzzleEmbSlots, config.seqLen);
  const dGrid = linearBackward(dLogits, grid, weights.lmHead, grads.lmHead, batch * config.seqLen, hidden, config.vocab);
  addIntoRows(dY, dGrid, batch, sizes.totalSeqLen, hidden, config.puzzleEmbSlots, config.seqLen);

  const first = sliceRows(y, batch, sizes.totalSeqLen, hidden, 0, 1);
  const dQ = new Float64Array(2 * batch);
  for (let b = 0; b < batch; b++) {
    dQ[2 * b] = dQHalt[b];
    grads.qHeadBias[0] += dQHalt[b];
  }
  const dFirst = linearBackward(dQ, first, weights.qHeadWeight, grads.qHeadWeight, batch, hidden, 2);
  addIntoRows(dY, dFirst, batch, sizes.totalSeqLen, hidden, 0, 1);
  return dY;
}

/** Runs the first T − 1 recursions, whose result enters the final recursion as a constant. */
function recursionsWithoutGradient(
  context: ReferenceContext,
  blocks: BlockWeights[],
  carry: Carry,
  x: Float64Array,
  batch: number,
): Carry {
  let state = carry;
  for (let recursion = 0; recursion < context.config.recursions - 1; recursion++) {
    state = recursionForward(context, blocks, state, x, batch).carry;
  }
  return state;
}

/**
 * Returns the carry that the final recursion of a supervision step starts from. A config
 * with recursions = 1 run from this carry gives the same loss and gradient as the full step.
 */
export function carryBeforeFinalRecursion(context: ReferenceContext, params: ReferenceParameters, carry: Carry, inputs: ModelInputs): Carry {
  const weights = modelWeights(context, params.dense);
  const x = encodeInputs(context, params, weights, inputs);
  return recursionsWithoutGradient(context, weights.blocks, carry, x, inputs.puzzleIds.length);
}

export interface SupervisionStep extends HeadsOutput {
  batch: number;
  inputs: ModelInputs;
  /** The carry after the step; the next step treats it as a constant. */
  carry: Carry;
  /** The final recursion, the only one that is differentiated. */
  finalRecursion: RecursionCache;
}

/**
 * Runs one supervision step from `carry`: T − 1 recursions without gradient, then the final
 * recursion, whose activations are kept for supervisionStepBackward.
 */
export function supervisionStepForward(context: ReferenceContext, params: ReferenceParameters, carry: Carry, inputs: ModelInputs): SupervisionStep {
  const weights = modelWeights(context, params.dense);
  const x = encodeInputs(context, params, weights, inputs);
  const batch = inputs.puzzleIds.length;

  const state = recursionsWithoutGradient(context, weights.blocks, carry, x, batch);
  const final = recursionForward(context, weights.blocks, state, x, batch);

  const heads = outputHeadsForward(context, weights, final.carry.y, batch);
  return { ...heads, batch, inputs, carry: final.carry, finalRecursion: final.cache };
}

/**
 * Backward of the final recursion and the heads for dLogits [batch, seqLen, vocab] and
 * dQHalt [batch]: adds the dense gradients into `grads` [layout.length] and returns the
 * gradient of each sample's puzzle-embedding row, [batch, hidden].
 */
export function supervisionStepBackward(
  context: ReferenceContext,
  params: ReferenceParameters,
  step: SupervisionStep,
  dLogits: Float64Array,
  dQHalt: Float64Array,
  grads: Float64Array,
): Float64Array {
  const weights = modelWeights(context, params.dense);
  const gradViews = modelWeights(context, grads);

  const dY = outputHeadsBackward(context, weights, gradViews, step.carry.y, dLogits, dQHalt, step.batch);
  const dX = recursionBackward(context, weights.blocks, gradViews.blocks, step.finalRecursion, dY, step.batch);
  return encodeInputsBackward(context, dX, step.inputs, gradViews.tokenEmbedding);
}
