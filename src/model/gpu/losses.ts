// The training loss on the device: per-sequence mean token cross-entropy (stable-max or
// softmax) plus half the halting BCE against "every valid token correct", both divided by the
// batch size, with the per-slot values kept for metrics.
import type { Tensor } from '../../autograd/tape.js';
import type { BufferRange } from '../../gpu/bindings.js';
import { BceWithLogits, CrossEntropy, SequenceAccuracy } from '../../kernels/losses.js';
import type { ModelContext } from './context.js';

/** Per-slot loss outputs, [batch] each, and the labels [batch, seq] (i32) they are computed from. */
export interface LossBuffers {
  labels: BufferRange;
  /** Σ_valid token loss / max(1, valid tokens). */
  seqLoss: BufferRange;
  /** BCE-with-logits of q_halt against exact. */
  qHaltLoss: BufferRange;
  /** u32 counts of correct and of valid tokens. */
  correct: BufferRange;
  valid: BufferRange;
  /** f32 1 where every valid token's argmax equals its label: the halting target. */
  exact: BufferRange;
}

/**
 * Encodes accuracy and both losses and returns the gradient seeds of
 * (Σ seqLoss + 0.5 · Σ qHaltLoss) / batch for tape.backward().
 */
export async function trainingLoss(m: ModelContext, logits: Tensor, qHalt: Tensor, buffers: LossBuffers): Promise<[Tensor, Tensor][]> {
  const { batch, config } = m;
  const tokens = { batch, seq: config.seqLen, vocab: config.vocab };

  const accuracyBuffers = { logits: logits.data, labels: buffers.labels, correct: buffers.correct, valid: buffers.valid, exact: buffers.exact };
  const accuracy = await m.arena.op('accuracy', tokens, Object.values(accuracyBuffers), () => SequenceAccuracy.create(m.gpu, 'accuracy', tokens, accuracyBuffers));
  accuracy.encode();

  const dLogits = m.tape.gradFor(logits);
  const ceConfig = { ...tokens, kind: config.lossType, lossScale: 1 / batch };
  const ceBuffers = { logits: logits.data, labels: buffers.labels, seqLoss: buffers.seqLoss, dLogits: dLogits.data };
  const crossEntropy = await m.arena.op('token loss', ceConfig, Object.values(ceBuffers), () => CrossEntropy.create(m.gpu, 'token loss', ceConfig, ceBuffers));
  crossEntropy.encode();

  const dQHalt = m.tape.gradFor(qHalt);
  const bceConfig = { batch, lossScale: 0.5 / batch };
  const bceBuffers = { logits: qHalt.data, targets: buffers.exact, loss: buffers.qHaltLoss, dLogits: dQHalt.data };
  const bce = await m.arena.op('halting loss', bceConfig, Object.values(bceBuffers), () => BceWithLogits.create(m.gpu, 'halting loss', bceConfig, bceBuffers));
  bce.encode();

  return [
    [logits, dLogits],
    [qHalt, dQHalt],
  ];
}
