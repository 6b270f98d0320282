// Losses and accuracy of the output and halting heads: float64 references and the WebGPU ops.
// Token cross-entropy and the halting head's binary cross-entropy write their per-row losses and
// their logits' gradients in one dispatch; see shaders/losses.wgsl for the edge definitions.
import { wgslSources } from '../generated/wgsl.js';
import { ShapeError } from '../gpu/errors.js';
import { requireElements } from '../gpu/bindings.js';
import { Gpu, type StorageBinding } from '../gpu/gpu.js';

/** Label of a token that takes no part in loss or accuracy. */
export const IGNORE_LABEL = -100;

/** Stable-max (the loss the reference TRM code uses for every task) or softmax cross-entropy. */
export type CrossEntropyKind = 'stablemax' | 'softmax';
export const CROSS_ENTROPY_KINDS: readonly CrossEntropyKind[] = ['stablemax', 'softmax'];

/** Logits [batch, seq, vocab] and labels [batch, seq], both contiguous. */
export interface TokenShape {
  batch: number;
  seq: number;
  vocab: number;
}

/**
 * Per-sequence losses and the gradient of lossScale · Σ_b seqLoss[b]: lossScale = 1/batch
 * makes the total the batch mean.
 */
export interface CrossEntropyConfig extends TokenShape {
  kind: CrossEntropyKind;
  lossScale: number;
}

export interface BceConfig {
  batch: number;
  lossScale: number;
}

// ---------------------------------------------------------------------------------------
// Float64 references.

/** s(v) of stable-max as the reference stablemax_cross_entropy: v + 1 for v ≥ 0, 1 / (1 − v + 1e-30) below. */
export function stablemaxScore(v: number): number {
  return v >= 0 ? v + 1 : 1 / (1 - v + 1e-30);
}

/**
 * Loss −log p_label of one token and its gradient with respect to the token's logits.
 * Stable-max: p_j = s(l_j) / Σ s, and as s'(v) / s(v) = 1 / (1 + |v|) on both branches
 * (s' = 1 above zero, 1 / (1 − v)² below), dLoss/dl_j = (p_j − [j = label]) / (1 + |l_j|).
 * Softmax: dLoss/dl_j = p_j − [j = label].
 */
export function tokenCrossEntropyReference(kind: CrossEntropyKind, logits: ArrayLike<number>, label: number): { loss: number; dLogits: Float64Array } {
  const vocab = logits.length;
  const values = Array.from(logits);
  const dLogits = new Float64Array(vocab);

  const poisoned = !(Number.isInteger(label) && label >= 0 && label < vocab) || values.some((l) => Number.isNaN(l) || l === Infinity);
  if (poisoned) return { loss: NaN, dLogits: dLogits.fill(NaN) };

  // Every logit −∞ is taken as the limit of equal logits going to −∞.
  const allNegativeInfinity = values.every((l) => l === -Infinity);
  const logProbabilities = allNegativeInfinity ? values.map(() => -Math.log(vocab)) : logProbabilitiesOf(kind, values);
  for (let j = 0; j < vocab; j++) {
    const slope = kind === 'softmax' ? 1 : 1 / (1 + Math.abs(values[j]));
    dLogits[j] = slope * (Math.exp(logProbabilities[j]) - (j === label ? 1 : 0));
  }
  return { loss: -logProbabilities[label], dLogits };
}

/** log p_j, for stable-max as log(s_j / Σ s) like the reference, for softmax as (l_j − max) − log Σ exp(l − max). */
function logProbabilitiesOf(kind: CrossEntropyKind, logits: number[]): number[] {
  if (kind === 'stablemax') {
    const scores = logits.map(stablemaxScore);
    const total = scores.reduce((sum, score) => sum + score, 0);
    return scores.map((score) => Math.log(score / total));
  }
  const max = Math.max(...logits);
  const logTotal = Math.log(logits.reduce((sum, l) => sum + Math.exp(l - max), 0));
  return logits.map((l) => l - max - logTotal);
}

/**
 * Per-sequence loss Σ_valid tokenLoss / max(1, valid) and dLogits of lossScale · Σ seqLoss.
 * Ignored tokens contribute neither loss nor gradient.
 */
export function crossEntropyReference(config: CrossEntropyConfig, logits: ArrayLike<number>, labels: ArrayLike<number>): { seqLoss: Float64Array; dLogits: Float64Array } {
  const { batch, seq, vocab } = config;
  const seqLoss = new Float64Array(batch);
  const dLogits = new Float64Array(batch * seq * vocab);

  for (let b = 0; b < batch; b++) {
    let valid = 0;
    for (let t = 0; t < seq; t++) if (labels[b * seq + t] !== IGNORE_LABEL) valid++;
    const divisor = Math.max(1, valid);

    let lossSum = 0;
    for (let t = 0; t < seq; t++) {
      const token = b * seq + t;
      if (labels[token] === IGNORE_LABEL) continue;
      const { loss, dLogits: dRow } = tokenCrossEntropyReference(config.kind, tokenRow(logits, token, vocab), labels[token]);
      lossSum += loss;
      for (let j = 0; j < vocab; j++) dLogits[token * vocab + j] = (config.lossScale / divisor) * dRow[j];
    }
    seqLoss[b] = lossSum / divisor;
  }
  return { seqLoss, dLogits };
}

/**
 * Binary cross-entropy with logits per row, max(x, 0) − x·t + log(1 + exp(−|x|)), and the
 * gradient lossScale · (sigmoid(x) − t) of lossScale · Σ loss.
 */
export function bceWithLogitsReference(logits: ArrayLike<number>, targets: ArrayLike<number>, lossScale: number): { loss: Float64Array; dLogits: Float64Array } {
  const loss = new Float64Array(logits.length);
  const dLogits = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    const t = targets[i];
    loss[i] = Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
    const sigmoid = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    dLogits[i] = lossScale * (sigmoid - t);
  }
  return { loss, dLogits };
}

function tokenRow(logits: ArrayLike<number>, token: number, vocab: number): number[] {
  return Array.from({ length: vocab }, (_, j) => logits[token * vocab + j]);
}

/** First index of the maximal value, with NaN above everything, as torch.argmax. */
export function argmaxReference(values: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < values.length; j++) {
    if (Number.isNaN(values[best])) break;
    if (Number.isNaN(values[j]) || values[j] > values[best]) best = j;
  }
  return best;
}

/**
 * Per sequence: valid tokens whose argmax equals the label, valid tokens, and exact = 1 when
 * the two counts are equal (so a sequence without valid tokens is exact, as the reference loss head).
 */
export function sequenceAccuracyReference(shape: TokenShape, logits: ArrayLike<number>, labels: ArrayLike<number>): { correct: Uint32Array; valid: Uint32Array; exact: Float32Array } {
  const { batch, seq, vocab } = shape;
  const correct = new Uint32Array(batch);
  const valid = new Uint32Array(batch);
  const exact = new Float32Array(batch);

  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seq; t++) {
      const token = b * seq + t;
      if (labels[token] === IGNORE_LABEL) continue;
      valid[b]++;
      if (argmaxReference(tokenRow(logits, token, vocab)) === labels[token]) correct[b]++;
    }
    exact[b] = correct[b] === valid[b] ? 1 : 0;
  }
  return { correct, valid, exact };
}

// ---------------------------------------------------------------------------------------
// WebGPU ops. Each is bound to its buffers once, so encode() allocates nothing.

/** One pipeline with its uniforms and bind group, dispatched over a fixed workgroup count. */
interface BoundDispatch {
  gpu: Gpu;
  name: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  params: GPUBuffer;
  workgroups: number;
}

/** Uploads the uniforms and binds them after the storage buffers, as the last binding. */
function bindDispatch(gpu: Gpu, name: string, pipeline: GPUComputePipeline, storage: StorageBinding[], uniform: { words: number[]; types: string }, workgroups: number): BoundDispatch {
  const params = gpu.createUniform(`${name}.params`, uniform.words, uniform.types);
  const bindGroup = gpu.bindGroup(name, pipeline, [...storage, params]);
  return { gpu, name, pipeline, bindGroup, params, workgroups };
}

/** Base of the ops below: encode() records the bound dispatch, destroy() frees its uniforms. */
class BoundKernel {
  protected constructor(private readonly bound: BoundDispatch) {}

  get name(): string {
    return this.bound.name;
  }

  encode(): void {
    const { gpu, name, pipeline, bindGroup, workgroups } = this.bound;
    gpu.dispatch(name, pipeline, bindGroup, workgroups);
  }

  destroy(): void {
    this.bound.gpu.destroyBuffer(this.bound.params);
  }
}

/**
 * Stable-max or softmax cross-entropy over [batch, seq, vocab] logits, forward and backward in
 * one dispatch. Writes seqLoss [batch] and overwrites dLogits [batch, seq, vocab] (ignored
 * tokens get zeros); reads labels [batch, seq] as i32.
 */
export class CrossEntropy extends BoundKernel {
  private constructor(
    bound: BoundDispatch,
    readonly config: CrossEntropyConfig,
  ) {
    super(bound);
  }

  static async create(
    gpu: Gpu,
    name: string,
    config: CrossEntropyConfig,
    buffers: { logits: StorageBinding; labels: StorageBinding; seqLoss: StorageBinding; dLogits: StorageBinding },
  ): Promise<CrossEntropy> {
    const op = `cross-entropy '${name}'`;
    validateTokenShape(op, config);
    validateLossScale(op, config.lossScale);
    const tokens = config.batch * config.seq;
    requireElements(op, 'logits', buffers.logits, tokens * config.vocab);
    requireElements(op, 'labels', buffers.labels, tokens);
    requireElements(op, 'seqLoss', buffers.seqLoss, config.batch);
    requireElements(op, 'dLogits', buffers.dLogits, tokens * config.vocab);

    const constants = { STABLEMAX: config.kind === 'stablemax' ? 1 : 0 };
    const pipeline = await gpu.pipeline(`losses.cross-entropy.${config.kind}`, wgslSources.losses, 'cross_entropy', constants);
    const storage = [buffers.logits, buffers.labels, buffers.seqLoss, buffers.dLogits];
    const uniform = { words: [config.batch, config.seq, config.vocab, config.lossScale], types: 'uuuf' };
    return new CrossEntropy(bindDispatch(gpu, name, pipeline, storage, uniform, config.batch), config);
  }
}

/**
 * Binary cross-entropy with logits for the halting head: logits [batch] and targets [batch]
 * (f32 0 or 1, e.g. SequenceAccuracy's exact) in, per-row loss [batch] and dLogits [batch]
 * of lossScale · Σ loss out.
 */
export class BceWithLogits extends BoundKernel {
  private constructor(
    bound: BoundDispatch,
    readonly config: BceConfig,
  ) {
    super(bound);
  }

  static async create(
    gpu: Gpu,
    name: string,
    config: BceConfig,
    buffers: { logits: StorageBinding; targets: StorageBinding; loss: StorageBinding; dLogits: StorageBinding },
  ): Promise<BceWithLogits> {
    const op = `bce-with-logits '${name}'`;
    validatePositiveInteger(op, 'batch', config.batch);
    validateLossScale(op, config.lossScale);
    for (const operand of ['logits', 'targets', 'loss', 'dLogits'] as const) requireElements(op, operand, buffers[operand], config.batch);

    const pipeline = await gpu.pipeline('losses.bce-with-logits', wgslSources.losses, 'bce_with_logits');
    const storage = [buffers.logits, buffers.targets, buffers.loss, buffers.dLogits];
    const uniform = { words: [config.batch, 1, 1, config.lossScale], types: 'uuuf' };
    return new BceWithLogits(bindDispatch(gpu, name, pipeline, storage, uniform, Math.ceil(config.batch / WORKGROUP)), config);
  }
}

/**
 * Argmax accuracy per sequence: correct [batch] u32, valid [batch] u32 and exact [batch] f32
 * (1 when every valid token is correct, also when there is none). Argmax ties go to the first
 * index and NaN counts as the maximum, as torch.argmax.
 */
export class SequenceAccuracy extends BoundKernel {
  private constructor(
    bound: BoundDispatch,
    readonly shape: TokenShape,
  ) {
    super(bound);
  }

  static async create(
    gpu: Gpu,
    name: string,
    shape: TokenShape,
    buffers: { logits: StorageBinding; labels: StorageBinding; correct: StorageBinding; valid: StorageBinding; exact: StorageBinding },
  ): Promise<SequenceAccuracy> {
    const op = `sequence-accuracy '${name}'`;
    validateTokenShape(op, shape);
    const tokens = shape.batch * shape.seq;
    requireElements(op, 'logits', buffers.logits, tokens * shape.vocab);
    requireElements(op, 'labels', buffers.labels, tokens);
    for (const operand of ['correct', 'valid', 'exact'] as const) requireElements(op, operand, buffers[operand], shape.batch);

    const pipeline = await gpu.pipeline('metrics.sequence-accuracy', wgslSources.metrics, 'sequence_accuracy');
    const storage = [buffers.logits, buffers.labels, buffers.correct, buffers.valid, buffers.exact];
    const uniform = { words: [shape.batch, shape.seq, shape.vocab], types: 'uuu' };
    return new SequenceAccuracy(bindDispatch(gpu, name, pipeline, storage, uniform, shape.batch), shape);
  }
}

/** Invocations per workgroup in losses.wgsl and metrics.wgsl. */
const WORKGROUP = 64;

function validatePositiveInteger(op: string, key: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new ShapeError(`${op}: ${key} must be a positive integer, got ${value}`);
}

function validateTokenShape(op: string, shape: TokenShape): void {
  for (const key of ['batch', 'seq', 'vocab'] as const) validatePositiveInteger(op, key, shape[key]);
  const elements = shape.batch * shape.seq * shape.vocab;
  if (elements >= 2 ** 32) throw new ShapeError(`${op}: logits [${shape.batch}, ${shape.seq}, ${shape.vocab}] span ${elements} elements, beyond 32-bit indexing; split the batch`);
}

function validateLossScale(op: string, lossScale: number): void {
  if (!Number.isFinite(lossScale)) throw new RangeError(`${op}: lossScale must be a finite number, got ${lossScale}`);
}

