// The state that the GPU model's layers share in one forward (and backward) pass: the device,
// the config and its sizes, the tape, the batch size, and the parameters of one weight buffer.
import type { Arena } from '../../autograd/arena.js';
import type { Tape } from '../../autograd/tape.js';
import type { Gpu } from '../../gpu/gpu.js';
import type { BufferRange } from '../../gpu/bindings.js';
import type { TrmConfig, TrmSizes } from '../config.js';
import { Q_HEAD_BIAS, Q_HEAD_WEIGHT, tensorSlot, type DenseLayout } from '../parameters.js';

/** One dense tensor of the flat layout. */
export interface Parameter {
  /** state_dict name, also the name of the kernels that read it. */
  name: string;
  /** Row-major; linear weights are [out_features, in_features]. */
  shape: readonly number[];
  /** The values: a range of the flat weights buffer. */
  data: BufferRange;
  /** The same range of the flat grads buffer, which backward passes add into; null when the weights are not trained. */
  grad: BufferRange | null;
}

/**
 * The halting head's binding: from q_head.weight[0, 0] through q_head.bias[0], so one
 * binding contains the weight row and the bias that q_halt needs.
 */
export interface HaltingHead {
  data: BufferRange;
  grad: BufferRange | null;
  /** Element offset of q_head.bias[0] inside the binding. */
  biasOffset: number;
}

export interface ModelContext {
  gpu: Gpu;
  config: TrmConfig;
  sizes: TrmSizes;
  layout: DenseLayout;
  tape: Tape;
  arena: Arena;
  /** Samples in this pass. */
  batch: number;
  /** [numPuzzleIds, hidden]: the puzzle-embedding table, trained by SignSGD outside the tape. */
  puzzleTable: GPUBuffer;
  /** f32 [totalSeqLen, headDim/2, 2] cos and sin for the att variant; null for mlp. */
  ropeTable: GPUBuffer | null;
  parameter(name: string): Parameter;
  haltingHead: HaltingHead;
}

/** Views of the dense tensors in `weights` and, when training, in `grads` (both [layout.length]). */
export function parameterViews(layout: DenseLayout, weights: GPUBuffer, grads: GPUBuffer | null): Pick<ModelContext, 'parameter' | 'haltingHead'> {
  const range = (buffer: GPUBuffer, offset: number, elements: number): BufferRange => ({ buffer, offset: offset * 4, size: elements * 4 });

  const parameter = (name: string): Parameter => {
    const slot = tensorSlot(layout, name);
    return { name, shape: slot.shape, data: range(weights, slot.offset, slot.size), grad: grads && range(grads, slot.offset, slot.size) };
  };

  const weight = tensorSlot(layout, Q_HEAD_WEIGHT);
  const bias = tensorSlot(layout, Q_HEAD_BIAS);
  const biasOffset = bias.offset - weight.offset;
  if (biasOffset < weight.size) throw new Error(`the dense layout places ${Q_HEAD_BIAS} before the end of ${Q_HEAD_WEIGHT}; the halting head expects it after`);
  const haltingHead = {
    data: range(weights, weight.offset, biasOffset + 1),
    grad: grads && range(grads, weight.offset, biasOffset + 1),
    biasOffset,
  };
  return { parameter, haltingHead };
}
