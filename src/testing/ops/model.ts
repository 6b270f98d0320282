// Op handlers for the GPU model: the kernels written for it, one supervision step with its
// gradients, and a short training run with evaluation, so the model tests run the same code in
// Node and in Chromium. The model ops take params.matmulTuning: false turns the matmul tuning
// pass off in the runtime that runs the op (a page's modules do not share the test process's
// setting), so every run picks the same matmul variants.
import type { BoundOp } from '../../autograd/arena.js';
import type { Gpu, StorageBinding } from '../../gpu/gpu.js';
import { BatchSum } from '../../kernels/batch-sum.js';
import { AdvanceHalting, FillCarry, ResetSlots } from '../../kernels/halting.js';
import { ArgmaxRows, GatherRows, QHaltForward, QHaltInputGrad, QHaltWeightGrad, ScatterRows } from '../../kernels/heads.js';
import { setMatmulTuning } from '../../kernels/matmul-tuning.js';
import type { TrmConfig } from '../../model/config.js';
import type { TrmParameters } from '../../model/init.js';
import { TrmGpuModel } from '../../model/gpu/model.js';
import { TrmTrainer } from '../../model/gpu/trainer.js';
import type { TypedData } from '../wire.js';
import { withInputBuffers, type OpHandler, type OpOutputs } from './common.js';

type KernelFactory = (gpu: Gpu, name: string, shape: never, buffers: Record<string, StorageBinding>) => Promise<BoundOp & { setStep?(step: number): void }>;

const MODEL_KERNELS: Record<string, KernelFactory> = {
  gatherRows: GatherRows.create,
  scatterRows: ScatterRows.create,
  qHaltForward: QHaltForward.create,
  qHaltWeightGrad: QHaltWeightGrad.create,
  qHaltInputGrad: QHaltInputGrad.create,
  argmaxRows: ArgmaxRows.create,
  batchSum: BatchSum.create,
  resetSlots: ResetSlots.create,
  fillCarry: FillCarry.create,
  advanceHalting: AdvanceHalting.create,
} as unknown as Record<string, KernelFactory>;

export const modelOps: Record<string, OpHandler> = {
  /**
   * One kernel of heads.wgsl, halting.wgsl or batch-sum.wgsl.
   * - params: kernel (a key of MODEL_KERNELS), shape, step (for advanceHalting), outputs (the
   *   names of the inputs to read back after the kernel ran).
   * - inputs: every binding by the name its create() takes; outputs start as these inputs.
   */
  'model.kernel': (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async (buffers) => {
      const kernel = request.params.kernel as string;
      const create = MODEL_KERNELS[kernel];
      if (!create) throw new Error(`model.kernel: unknown kernel '${kernel}'; expected one of ${Object.keys(MODEL_KERNELS).join(', ')}`);
      const op = await create(gpu, kernel, request.params.shape as never, buffers);
      try {
        if (request.params.step !== undefined) op.setStep?.(request.params.step as number);
        op.encode();
        const outputs: OpOutputs = {};
        for (const name of request.params.outputs as string[]) {
          const input = request.inputs[name];
          const bytes = await gpu.read(buffers[name], input.byteLength);
          outputs[name] = new (input.constructor as new (buffer: ArrayBuffer) => typeof input)(bytes);
        }
        return outputs;
      } finally {
        op.destroy();
      }
    }),

  /**
   * One training supervision step from a given state.
   * - params: config.
   * - inputs: dense, puzzleEmb, hInit, lInit, the carry y and z, tokens, labels, puzzleIds (i32).
   * - outputs: logits, qHalt, seqLoss, qHaltLoss, exact, grads, dPuzzleEmb, the new carry y and
   *   z, and leakedBytes (u32): device bytes still allocated after the model is disposed.
   */
  'model.supervisionStep': async (gpu, request) => {
    applyTuning(request.params);
    const config = request.params.config as TrmConfig;
    const before = gpu.allocatedBytes;
    const model = TrmGpuModel.create(gpu, config, initialParameters(request.inputs));
    const buffers = model.createStepBuffers(request.inputs.puzzleIds.length);
    let outputs: OpOutputs;
    try {
      for (const name of ['y', 'z', 'tokens', 'labels', 'puzzleIds'] as const) gpu.upload(buffers[name], request.inputs[name]);
      await model.supervisionStep(buffers, { weights: model.params, train: true });
      outputs = await readStepOutputs(gpu, model, buffers, request.inputs.y.length);
    } finally {
      model.destroyStepBuffers(buffers);
      model.dispose();
    }
    return { ...outputs, leakedBytes: Uint32Array.of(gpu.allocatedBytes - before) };
  },

  /**
   * A training run, then an evaluation.
   * - params: config, explorationSeed (null turns exploration off), steps.
   * - inputs: the initial dense, puzzleEmb, hInit, lInit; inputs, labels, puzzleIds (i32, every
   *   step's batch concatenated); evalInputs, evalPuzzleIds.
   * - outputs: loss, lmLoss, qHaltLoss and bytes (u32 allocated after the step) [steps]; qHalt,
   *   halted, slotSteps [steps, batch]; the final ema and puzzleEmb; evalLogits, evalTokens
   *   [maxSupervisionSteps, evalBatch, seq], evalQHalt [maxSupervisionSteps, evalBatch]; and
   *   leakedBytes after dispose().
   */
  'model.train': async (gpu, request) => {
    applyTuning(request.params);
    const config = request.params.config as TrmConfig;
    const steps = request.params.steps as number;
    const explorationSeed = request.params.explorationSeed as number | null;
    const { inputs, labels, puzzleIds, evalInputs, evalPuzzleIds } = request.inputs as Record<string, Int32Array>;
    const before = gpu.allocatedBytes;
    const trainer = await TrmTrainer.create(gpu, config, { parameters: initialParameters(request.inputs), explorationSeed });

    const perStep = { loss: new Float32Array(steps), lmLoss: new Float32Array(steps), qHaltLoss: new Float32Array(steps), bytes: new Uint32Array(steps) };
    const perSlot = { qHalt: new Float32Array(steps * config.batch), halted: new Uint32Array(steps * config.batch), slotSteps: new Uint32Array(steps * config.batch) };
    let outputs: OpOutputs;
    try {
      const tokensPerBatch = config.batch * config.seqLen;
      for (let s = 0; s < steps; s++) {
        const slice = (array: Int32Array, size: number) => array.subarray(s * size, (s + 1) * size);
        await trainer.trainStep({ inputs: slice(inputs, tokensPerBatch), labels: slice(labels, tokensPerBatch), puzzleIds: slice(puzzleIds, config.batch) });
        const metrics = await trainer.readMetrics();
        perStep.loss[s] = metrics.loss;
        perStep.lmLoss[s] = metrics.lmLoss;
        perStep.qHaltLoss[s] = metrics.qHaltLoss;
        perStep.bytes[s] = gpu.allocatedBytes;
        perSlot.qHalt.set(metrics.slots.qHalt, s * config.batch);
        perSlot.halted.set(metrics.slots.halted, s * config.batch);
        perSlot.slotSteps.set(metrics.slots.steps, s * config.batch);
      }

      const evaluation = await trainer.evaluate({ inputs: evalInputs, puzzleIds: evalPuzzleIds });
      const state = await trainer.exportState();
      outputs = {
        ...perStep,
        ...perSlot,
        ema: state.ema,
        puzzleEmb: state.params.puzzleEmb,
        evalLogits: evaluation.logits,
        evalTokens: concatenate(evaluation.tokens, Int32Array),
        evalQHalt: concatenate(evaluation.qHalt, Float32Array),
      };
    } finally {
      trainer.dispose();
    }
    return { ...outputs, leakedBytes: Uint32Array.of(gpu.allocatedBytes - before) };
  },
};

function applyTuning(params: Record<string, unknown>): void {
  if (params.matmulTuning === false) setMatmulTuning(false);
}

function initialParameters(inputs: Record<string, TypedData>): TrmParameters {
  const input = (name: string) => inputs[name] as Float32Array;
  return { dense: input('dense'), puzzleEmb: input('puzzleEmb'), hInit: input('hInit'), lInit: input('lInit') };
}

async function readStepOutputs(gpu: Gpu, model: TrmGpuModel, buffers: ReturnType<TrmGpuModel['createStepBuffers']>, carry: number): Promise<OpOutputs> {
  const { config, layout } = model;
  const batch = buffers.batch;
  return {
    logits: await gpu.readFloat32(buffers.logits, batch * config.seqLen * config.vocab),
    qHalt: await gpu.readFloat32(buffers.qHalt, batch),
    seqLoss: await gpu.readFloat32(buffers.seqLoss, batch),
    qHaltLoss: await gpu.readFloat32(buffers.qHaltLoss, batch),
    exact: await gpu.readFloat32(buffers.exact, batch),
    grads: await gpu.readFloat32(model.grads, layout.length),
    dPuzzleEmb: await gpu.readFloat32(buffers.dPuzzle, batch * config.hidden),
    y: await gpu.readFloat32(buffers.y, carry),
    z: await gpu.readFloat32(buffers.z, carry),
  };
}

function concatenate<T extends Float32Array | Int32Array>(arrays: T[], Type: new (length: number) => T): T {
  const out = new Type(arrays.reduce((total, array) => total + array.length, 0));
  arrays.reduce((offset, array) => {
    out.set(array, offset);
    return offset + array.length;
  }, 0);
  return out;
}
