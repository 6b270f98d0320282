import { BceWithLogits, CrossEntropy, SequenceAccuracy, type BceConfig, type CrossEntropyConfig, type TokenShape } from '../../kernels/losses.js';
import { readInt32, withInputBuffers, type OpHandler } from './common.js';

export const lossesOps: Record<string, OpHandler> = {
  /** inputs logits, labels (i32), seqLoss and dLogits (initial contents); params CrossEntropyConfig; outputs seqLoss, dLogits. */
  crossEntropy: (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ logits, labels, seqLoss, dLogits }) => {
      const config = request.params as unknown as CrossEntropyConfig;
      const crossEntropy = await CrossEntropy.create(gpu, `cross-entropy.${config.kind}`, config, { logits, labels, seqLoss, dLogits });
      crossEntropy.encode();
      const outputs = {
        seqLoss: await gpu.readFloat32(seqLoss, config.batch),
        dLogits: await gpu.readFloat32(dLogits, config.batch * config.seq * config.vocab),
      };
      crossEntropy.destroy();
      return outputs;
    }),

  /** inputs logits, targets, loss and dLogits (initial contents); params BceConfig; outputs loss, dLogits. */
  bceWithLogits: (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ logits, targets, loss, dLogits }) => {
      const config = request.params as unknown as BceConfig;
      const bce = await BceWithLogits.create(gpu, 'bce-with-logits', config, { logits, targets, loss, dLogits });
      bce.encode();
      const outputs = { loss: await gpu.readFloat32(loss, config.batch), dLogits: await gpu.readFloat32(dLogits, config.batch) };
      bce.destroy();
      return outputs;
    }),

  /** inputs logits, labels (i32), correct and valid (u32) and exact (initial contents); params TokenShape; outputs correct, valid, exact. */
  sequenceAccuracy: (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ logits, labels, correct, valid, exact }) => {
      const shape = request.params as unknown as TokenShape;
      const accuracy = await SequenceAccuracy.create(gpu, 'sequence-accuracy', shape, { logits, labels, correct, valid, exact });
      accuracy.encode();
      const outputs = {
        correct: new Uint32Array((await readInt32(gpu, correct, shape.batch)).buffer),
        valid: new Uint32Array((await readInt32(gpu, valid, shape.batch)).buffer),
        exact: await gpu.readFloat32(exact, shape.batch),
      };
      accuracy.destroy();
      return outputs;
    }),

  /**
   * The halting loss as the model encodes it: SequenceAccuracy's exact buffer feeds BceWithLogits
   * as its targets on the device, with nothing read back in between.
   * inputs logits, labels (i32), qHaltLogits [batch]; params TokenShape and lossScale;
   * outputs exact, loss, dQHaltLogits.
   */
  haltingLoss: (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ logits, labels, qHaltLogits }) => {
      const { lossScale, ...shape } = request.params as unknown as TokenShape & { lossScale: number };
      const bytes = shape.batch * 4;
      const outputBuffers = {
        correct: gpu.createBuffer('correct', bytes),
        valid: gpu.createBuffer('valid', bytes),
        exact: gpu.createBuffer('exact', bytes),
        loss: gpu.createBuffer('loss', bytes),
        dQHaltLogits: gpu.createBuffer('dQHaltLogits', bytes),
      };
      const { correct, valid, exact, loss, dQHaltLogits } = outputBuffers;
      try {
        const accuracy = await SequenceAccuracy.create(gpu, 'halting.accuracy', shape, { logits, labels, correct, valid, exact });
        const bce = await BceWithLogits.create(gpu, 'halting.bce', { batch: shape.batch, lossScale }, { logits: qHaltLogits, targets: exact, loss, dLogits: dQHaltLogits });
        accuracy.encode();
        bce.encode();
        const outputs = {
          exact: await gpu.readFloat32(exact, shape.batch),
          loss: await gpu.readFloat32(loss, shape.batch),
          dQHaltLogits: await gpu.readFloat32(dQHaltLogits, shape.batch),
        };
        accuracy.destroy();
        bce.destroy();
        return outputs;
      } finally {
        for (const buffer of Object.values(outputBuffers)) gpu.destroyBuffer(buffer);
      }
    }),
};
