// The TRM-MLP forward pass and training loss written with TensorFlow.js ops, as a TF.js user
// would write them from the PyTorch reference. It covers the input encoding, net(hidden,
// injection) of post-norm blocks (token-mixing SwiGLU over the sequence axis, then channel
// SwiGLU), one recursion, the output heads and the loss. TF.js's autodiff supplies the
// backward pass.
import type * as tfjs from '@tensorflow/tfjs';
import { IGNORE_LABEL } from '../src/kernels/losses.js';
import type { TrmConfig, TrmSizes } from '../src/model/config.js';
import { blockTensorName, LM_HEAD, Q_HEAD_BIAS, Q_HEAD_WEIGHT, TOKEN_EMBEDDING, type BlockTensor } from '../src/model/parameters.js';
import type { Tf } from './tfjs.js';

type Tensor = tfjs.Tensor;

/** The model's tensors: the dense parameters by state_dict name, and the constants. */
export interface PeerModel {
  tf: Tf;
  config: TrmConfig;
  sizes: TrmSizes;
  weights: Map<string, tfjs.Variable>;
  /** [numPuzzleIds, hidden]: fixed, because the peer leaves out the SignSGD update. */
  puzzleTable: Tensor;
}

/** The slots' inputs of one supervision step: tokens and labels [batch, seq], puzzle ids [batch], all int32. */
export interface PeerInputs {
  tokens: Tensor;
  labels: Tensor;
  puzzleIds: Tensor;
}

export interface PeerCarry {
  /** [batch, length, hidden] each. */
  y: Tensor;
  z: Tensor;
}

function weight(model: PeerModel, name: string): tfjs.Variable {
  const variable = model.weights.get(name);
  if (!variable) throw new Error(`the TF.js peer has no weight named '${name}'`);
  return variable;
}

function blockWeight(model: PeerModel, block: number, tensor: BlockTensor): tfjs.Variable {
  return weight(model, blockTensorName(block, tensor));
}

/**
 * x [batch, length, hidden]: the puzzle-table row in prefix slot 0, zeros in the other prefix
 * slots, then the token embeddings of the grid, all scaled by sqrt(hidden).
 */
export function inputEncoding(model: PeerModel, inputs: PeerInputs): Tensor {
  const { tf, config } = model;
  const batch = inputs.puzzleIds.shape[0];
  const puzzle = tf.reshape(tf.gather(model.puzzleTable, inputs.puzzleIds), [batch, 1, config.hidden]);
  const padding = tf.zeros([batch, config.puzzleEmbSlots - 1, config.hidden]);
  const tokens = tf.gather(weight(model, TOKEN_EMBEDDING), inputs.tokens);
  return tf.mul(tf.concat([puzzle, padding, tokens], 1), Math.sqrt(config.hidden));
}

/** RMSNorm without gain over the last axis. */
function rmsNorm(model: PeerModel, x: Tensor): Tensor {
  const { tf } = model;
  return tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), model.config.rmsEps)));
}

/** down(silu(gate) ⊙ up) with gate|up = gateUp(rows), for rows [n, in] and torch-layout weights [out, in]. */
function swigluMlp(model: PeerModel, rows: Tensor, gateUp: Tensor, down: Tensor): Tensor {
  const { tf } = model;
  const [gate, up] = tf.split(tf.matMul(rows, gateUp, false, true), 2, 1);
  const hidden = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
  return tf.matMul(hidden, down, false, true);
}

/** RMSNorm(rows + SwiGLU(rows)) over the last axis of rows [n, width]. */
function residualMlp(model: PeerModel, rows: Tensor, gateUp: Tensor, down: Tensor): Tensor {
  return rmsNorm(model, model.tf.add(rows, swigluMlp(model, rows, gateUp, down)));
}

/** Applies one post-norm block to h [batch, length, hidden]: token mixing on the transpose [batch, hidden, length], then channel mixing. */
function block(model: PeerModel, index: number, h: Tensor): Tensor {
  const { tf, config, sizes } = model;
  const [batch, length, hidden] = [h.shape[0], sizes.totalSeqLen, config.hidden];

  const channelsFirst = tf.reshape(tf.transpose(h, [0, 2, 1]), [batch * hidden, length]);
  const tokenMixed = residualMlp(model, channelsFirst, blockWeight(model, index, 'mlp_t.gate_up_proj.weight'), blockWeight(model, index, 'mlp_t.down_proj.weight'));
  const tokensFirst = tf.reshape(tf.transpose(tf.reshape(tokenMixed, [batch, hidden, length]), [0, 2, 1]), [batch * length, hidden]);

  const channelMixed = residualMlp(model, tokensFirst, blockWeight(model, index, 'mlp.gate_up_proj.weight'), blockWeight(model, index, 'mlp.down_proj.weight'));
  return tf.reshape(channelMixed, [batch, length, hidden]);
}

/** net(hidden, injection): the blocks applied in order to hidden + injection. */
function net(model: PeerModel, hidden: Tensor, injection: Tensor): Tensor {
  let h = model.tf.add(hidden, injection);
  for (let index = 0; index < model.config.blocks; index++) h = block(model, index, h);
  return h;
}

/** Runs one recursion: n times z ← net(z, y + x), then y ← net(y, z). */
export function recursion(model: PeerModel, carry: PeerCarry, x: Tensor): PeerCarry {
  const injection = model.tf.add(carry.y, x);
  let z = carry.z;
  for (let step = 0; step < model.config.latentSteps; step++) z = net(model, z, injection);
  return { y: net(model, carry.y, z), z };
}

export interface PeerHeads {
  /** [batch·seq, vocab] */
  logits: Tensor;
  /** [batch] */
  qHalt: Tensor;
}

/** lm_head on the grid rows of y (the prefix rows dropped) and q_halt = q_head(y[:, 0])[0]. */
export function outputHeads(model: PeerModel, y: Tensor): PeerHeads {
  const { tf, config } = model;
  const batch = y.shape[0];
  const grid = tf.reshape(tf.slice(y, [0, config.puzzleEmbSlots, 0], [batch, config.seqLen, config.hidden]), [batch * config.seqLen, config.hidden]);
  const logits = tf.matMul(grid, weight(model, LM_HEAD), false, true);

  const first = tf.reshape(tf.slice(y, [0, 0, 0], [batch, 1, config.hidden]), [batch, config.hidden]);
  const q = tf.add(tf.matMul(first, weight(model, Q_HEAD_WEIGHT), false, true), weight(model, Q_HEAD_BIAS));
  return { logits, qHalt: tf.reshape(tf.slice(q, [0, 0], [batch, 1]), [batch]) };
}

/**
 * log(s(l) / Σ s(l)) with s(v) = v + 1 for v ≥ 0 and 1/(1 − v) below. Each branch gets an
 * input clamped to its own side, so that the branch tf.where discards has a finite gradient.
 */
function stablemaxLogProbs(tf: Tf, logits: Tensor): Tensor {
  const positive = tf.add(tf.relu(logits), 1);
  const negative = tf.reciprocal(tf.sub(1, tf.minimum(logits, 0)));
  const s = tf.where(tf.greaterEqual(logits, 0), positive, negative);
  return tf.sub(tf.log(s), tf.log(tf.sum(s, -1, true)));
}

/**
 * Computes the halting target [batch]: 1 where every valid token's argmax equals its label.
 * The tape records it as one op with a zero gradient, because TF.js 4.22 has no gradient
 * function for equal and would throw on reaching it.
 */
function haltingTarget(tf: Tf, logits: Tensor, labels: Tensor, valid: Tensor): Tensor {
  const target = tf.customGrad((input) => {
    const predicted = tf.reshape(tf.argMax(input as Tensor, -1), labels.shape);
    const correct = tf.cast(tf.equal(predicted, labels), 'float32');
    const value = tf.min(tf.maximum(correct, tf.sub(1, valid)), 1);
    return { value, gradFunc: () => tf.zerosLike(input as Tensor) };
  });
  return target(logits);
}

/** BCE-with-logits per element: max(q, 0) − q·target + log(1 + e^(−|q|)). */
function bceWithLogits(tf: Tf, q: Tensor, target: Tensor): Tensor {
  return tf.add(tf.sub(tf.relu(q), tf.mul(q, target)), tf.log1p(tf.exp(tf.neg(tf.abs(q)))));
}

/**
 * Computes the training loss (Σ per-sequence mean token loss + 0.5 · Σ halting BCE) / batch, with
 * labels [batch, seq] holding token ids or IGNORE_LABEL.
 */
export function trainingLoss(model: PeerModel, heads: PeerHeads, labels: Tensor): Tensor {
  const { tf, config } = model;
  const batch = labels.shape[0];
  const validMask = tf.notEqual(labels, IGNORE_LABEL);
  const valid = tf.cast(validMask, 'float32');
  const oneHot = tf.oneHot(tf.reshape(tf.where(validMask, labels, tf.zerosLike(labels)), [-1]), config.vocab);

  const logProbs = config.lossType === 'stablemax' ? stablemaxLogProbs(tf, heads.logits) : tf.logSoftmax(heads.logits);
  const tokenLoss = tf.reshape(tf.neg(tf.sum(tf.mul(logProbs, oneHot), -1)), [batch, config.seqLen]);
  const seqLoss = tf.div(tf.sum(tf.mul(tokenLoss, valid), 1), tf.maximum(tf.sum(valid, 1), 1));

  const target = haltingTarget(tf, heads.logits, labels, valid);
  const haltLoss = bceWithLogits(tf, heads.qHalt, target);
  return tf.div(tf.add(tf.sum(seqLoss), tf.mul(tf.sum(haltLoss), 0.5)), batch);
}
