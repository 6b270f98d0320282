// Float64 reference of the TRM training loss: per-sequence mean token cross-entropy
// (stable-max or softmax) plus half the halting BCE, and its gradient.
import type { TrmLossType } from '../config.js';

/** Label of tokens that take no part in the loss. */
export const IGNORE_LABEL = -100;

export interface LossShape {
  batch: number;
  seqLen: number;
  vocab: number;
}

export interface TrmLoss {
  /** (lmLoss + 0.5·qHaltLoss) / batch: dLogits and dQHalt are the gradient of this value. */
  loss: number;
  /** Σ over samples of the mean token loss over the sample's valid tokens (at least 1 in the divisor). */
  lmLoss: number;
  /** Σ over samples of BCE-with-logits(qHalt, seqCorrect). */
  qHaltLoss: number;
  /** [batch]: 1 where every valid token's argmax equals its label (also when none is valid). */
  seqCorrect: Uint8Array;
  /** Valid tokens whose argmax equals the label, over the whole batch. */
  correctTokens: number;
  validTokens: number;
  /** [batch, seqLen, vocab] */
  dLogits: Float64Array;
  /** [batch] */
  dQHalt: Float64Array;
}

/** s(v) = v + 1 for v ≥ 0 and 1/(1 − v + 1e-30) below: positive, increasing, linear growth. */
function stablemaxS(v: number): number {
  return v >= 0 ? v + 1 : 1 / (1 - v + 1e-30);
}

function stablemaxSlope(v: number): number {
  return v >= 0 ? 1 : stablemaxS(v) ** 2;
}

/**
 * −log(s(l_label) / Σ s(l_j)) for one row of logits [vocab]; writes scale times its gradient
 * into dRow [vocab].
 */
function stablemaxCrossEntropy(logits: Float64Array, label: number, dRow: Float64Array, scale: number): number {
  let sum = 0;
  for (let j = 0; j < logits.length; j++) {
    sum += stablemaxS(logits[j]);
  }
  const sLabel = stablemaxS(logits[label]);

  for (let j = 0; j < logits.length; j++) {
    dRow[j] = (scale * stablemaxSlope(logits[j])) / sum;
  }
  dRow[label] -= (scale * stablemaxSlope(logits[label])) / sLabel;
  return -Math.log(sLabel / sum);
}

/** −log softmax(logits)[label] for one row [vocab]; writes scale times its gradient into dRow. */
function softmaxCrossEntropy(logits: Float64Array, label: number, dRow: Float64Array, scale: number): number {
  const max = logits.reduce((a, b) => Math.max(a, b), -Infinity);
  let sum = 0;
  for (let j = 0; j < logits.length; j++) {
    sum += Math.exp(logits[j] - max);
  }

  for (let j = 0; j < logits.length; j++) {
    dRow[j] = (scale * Math.exp(logits[j] - max)) / sum;
  }
  dRow[label] -= scale;
  return Math.log(sum) + max - logits[label];
}

/** First index of the maximum, as torch.argmax returns. */
function argmax(row: Float64Array): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) {
    if (row[j] > row[best]) {
      best = j;
    }
  }
  return best;
}

/** BCE-with-logits, computed as max(q, 0) − q·target + log(1 + e^(−|q|)). */
function bceWithLogits(q: number, target: number): number {
  return Math.max(q, 0) - q * target + Math.log1p(Math.exp(-Math.abs(q)));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Computes the training loss and its gradient for logits [batch, seqLen, vocab], qHalt
 * [batch] and labels [batch, seqLen] (IGNORE_LABEL or a token id).
 */
export function trmLoss(logits: Float64Array, qHalt: Float64Array, labels: Int32Array, shape: LossShape, lossType: TrmLossType): TrmLoss {
  const { batch, seqLen, vocab } = shape;
  if (labels.length !== batch * seqLen) {
    throw new Error(`labels has ${labels.length} entries, expected batch·seqLen = ${batch}·${seqLen}`);
  }
  const tokenLoss = lossType === 'stablemax' ? stablemaxCrossEntropy : softmaxCrossEntropy;

  const dLogits = new Float64Array(batch * seqLen * vocab);
  const dQHalt = new Float64Array(batch);
  const seqCorrect = new Uint8Array(batch);
  let lmLoss = 0;
  let qHaltLoss = 0;
  let correctTokens = 0;
  let validTokens = 0;

  for (let b = 0; b < batch; b++) {
    const sampleLabels = labels.subarray(b * seqLen, (b + 1) * seqLen);
    const valid = sampleLabels.reduce((count, label) => count + (label === IGNORE_LABEL ? 0 : 1), 0);
    const divisor = Math.max(valid, 1);

    let sampleLoss = 0;
    let sampleCorrect = 0;
    for (let t = 0; t < seqLen; t++) {
      const label = sampleLabels[t];
      if (label === IGNORE_LABEL) {
        continue;
      }
      if (!Number.isInteger(label) || label < 0 || label >= vocab) {
        throw new Error(`labels[${b * seqLen + t}] is ${label}, expected ${IGNORE_LABEL} or a token id in [0, ${vocab})`);
      }
      const row = (b * seqLen + t) * vocab;
      const rowLogits = logits.subarray(row, row + vocab);
      sampleLoss += tokenLoss(rowLogits, label, dLogits.subarray(row, row + vocab), 1 / (divisor * batch));
      sampleCorrect += argmax(rowLogits) === label ? 1 : 0;
    }

    seqCorrect[b] = sampleCorrect === valid ? 1 : 0;
    lmLoss += sampleLoss / divisor;
    qHaltLoss += bceWithLogits(qHalt[b], seqCorrect[b]);
    dQHalt[b] = (0.5 * (sigmoid(qHalt[b]) - seqCorrect[b])) / batch;
    correctTokens += sampleCorrect;
    validTokens += valid;
  }

  return {
    loss: (lmLoss + 0.5 * qHaltLoss) / batch,
    lmLoss,
    qHaltLoss,
    seqCorrect,
    correctTokens,
    validTokens,
    dLogits,
    dQHalt,
  };
}
