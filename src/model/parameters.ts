// The model's tensors, named as in the PyTorch state_dict of the authors' TRM code
// (SamsungSAILMontreal/TinyRecursiveModels) after the `model.inner.` prefix, and the flat
// layout of the dense trained parameters in one buffer.
import { trmSizes, type TrmConfig } from './config.js';

/** The optimizer that updates a tensor. 'none' marks buffers that stay fixed after initialisation. */
export type ParameterOptimizer = 'adam-atan2' | 'sign-sgd' | 'none';

/** Initial values of a tensor: a truncated normal (±2 std, rescaled to the exact std) or a constant. */
export type ParameterInit =
  | { kind: 'trunc-normal'; std: number }
  | { kind: 'constant'; value: number };

export interface TensorSpec {
  name: string;
  /** Row-major; linear weights are [out_features, in_features] as in PyTorch. */
  shape: readonly number[];
  size: number;
  optimizer: ParameterOptimizer;
  init: ParameterInit;
}

/** A dense tensor placed in the flat parameter buffer. */
export interface TensorSlot extends TensorSpec {
  /** Element offset into the flat buffer, a multiple of PARAMETER_ALIGNMENT. */
  offset: number;
}

/**
 * The dense trained parameters (everything AdamATan2 updates) in one flat buffer. Tensors
 * follow each other in TensorSpec order, each starting at a multiple of PARAMETER_ALIGNMENT.
 * The gaps and the tail up to `length` are zero. Their gradient is zero too, so an optimizer
 * that runs over the whole buffer keeps them at zero.
 */
export interface DenseLayout {
  tensors: readonly TensorSlot[];
  byName: ReadonlyMap<string, TensorSlot>;
  /** Buffer length in elements, a multiple of PARAMETER_ALIGNMENT. */
  length: number;
  /** Number of parameters, without the padding. */
  count: number;
}

/** 64 float32 elements = 256 bytes, WebGPU's default minStorageBufferOffsetAlignment. */
export const PARAMETER_ALIGNMENT = 64;

export const TOKEN_EMBEDDING = 'embed_tokens.embedding_weight';
export const LM_HEAD = 'lm_head.weight';
export const Q_HEAD_WEIGHT = 'q_head.weight';
export const Q_HEAD_BIAS = 'q_head.bias';
export const PUZZLE_EMBEDDING = 'puzzle_emb.weights';
export const H_INIT = 'H_init';
export const L_INIT = 'L_init';

export type BlockTensor =
  | 'self_attn.qkv_proj.weight'
  | 'self_attn.o_proj.weight'
  | 'mlp_t.gate_up_proj.weight'
  | 'mlp_t.down_proj.weight'
  | 'mlp.gate_up_proj.weight'
  | 'mlp.down_proj.weight';

export function blockTensorName(block: number, tensor: BlockTensor): string {
  return `L_level.layers.${block}.${tensor}`;
}

function product(shape: readonly number[]): number {
  return shape.reduce((total, dim) => total * dim, 1);
}

function linearWeight(name: string, outFeatures: number, inFeatures: number): TensorSpec {
  const shape = [outFeatures, inFeatures];
  return { name, shape, size: product(shape), optimizer: 'adam-atan2', init: { kind: 'trunc-normal', std: 1 / Math.sqrt(inFeatures) } };
}

function tensor(name: string, shape: number[], optimizer: ParameterOptimizer, init: ParameterInit): TensorSpec {
  return { name, shape, size: product(shape), optimizer, init };
}

function blockSpecs(config: TrmConfig, block: number): TensorSpec[] {
  const { hidden } = config;
  const { totalSeqLen, inner, tokenInner } = trmSizes(config);
  const name = (tensorName: BlockTensor) => blockTensorName(block, tensorName);

  // The gate_up rows contain the gate first, then up. The qkv rows contain q, then k, then v.
  const mixer = config.variant === 'mlp'
    ? [
        linearWeight(name('mlp_t.gate_up_proj.weight'), 2 * tokenInner, totalSeqLen),
        linearWeight(name('mlp_t.down_proj.weight'), totalSeqLen, tokenInner),
      ]
    : [
        linearWeight(name('self_attn.qkv_proj.weight'), 3 * hidden, hidden),
        linearWeight(name('self_attn.o_proj.weight'), hidden, hidden),
      ];

  return [
    ...mixer,
    linearWeight(name('mlp.gate_up_proj.weight'), 2 * inner, hidden),
    linearWeight(name('mlp.down_proj.weight'), hidden, inner),
  ];
}

/**
 * Lists every tensor of the model: the dense parameters in module order (embedding, heads,
 * blocks), then the buffers (puzzle-embedding table, H_init, L_init).
 */
export function tensorSpecs(config: TrmConfig): TensorSpec[] {
  const { hidden, vocab } = config;
  const embeddingStd = 1 / Math.sqrt(hidden);

  const dense = [
    tensor(TOKEN_EMBEDDING, [vocab, hidden], 'adam-atan2', { kind: 'trunc-normal', std: embeddingStd }),
    linearWeight(LM_HEAD, vocab, hidden),
    // Weight 0 and bias −5 make the initial halting probability sigmoid(−5) ≈ 0.0067.
    tensor(Q_HEAD_WEIGHT, [2, hidden], 'adam-atan2', { kind: 'constant', value: 0 }),
    tensor(Q_HEAD_BIAS, [2], 'adam-atan2', { kind: 'constant', value: -5 }),
  ];
  for (let block = 0; block < config.blocks; block++) {
    dense.push(...blockSpecs(config, block));
  }

  const buffers = [
    tensor(PUZZLE_EMBEDDING, [config.numPuzzleIds, hidden], 'sign-sgd', { kind: 'constant', value: 0 }),
    tensor(H_INIT, [hidden], 'none', { kind: 'trunc-normal', std: 1 }),
    tensor(L_INIT, [hidden], 'none', { kind: 'trunc-normal', std: 1 }),
  ];
  return [...dense, ...buffers];
}

function alignUp(value: number): number {
  return Math.ceil(value / PARAMETER_ALIGNMENT) * PARAMETER_ALIGNMENT;
}

export function denseLayout(config: TrmConfig): DenseLayout {
  const tensors: TensorSlot[] = [];
  let offset = 0;
  let count = 0;
  for (const spec of tensorSpecs(config)) {
    if (spec.optimizer !== 'adam-atan2') {
      continue;
    }
    tensors.push({ ...spec, offset });
    offset = alignUp(offset + spec.size);
    count += spec.size;
  }

  return {
    tensors,
    byName: new Map(tensors.map((slot) => [slot.name, slot])),
    length: offset,
    count,
  };
}

/** Looks up a dense tensor by its state_dict name. */
export function tensorSlot(layout: DenseLayout, name: string): TensorSlot {
  const slot = layout.byName.get(name);
  if (!slot) {
    throw new Error(`no dense tensor named '${name}'; the layout has ${layout.tensors.map((t) => t.name).join(', ')}`);
  }
  return slot;
}

/** Returns one tensor as a view into the flat buffer `flat` [layout.length]. */
export function tensorView<T extends Float32Array | Float64Array>(layout: DenseLayout, flat: T, name: string): T {
  if (flat.length !== layout.length) {
    throw new Error(`flat parameter buffer has ${flat.length} elements, expected ${layout.length}`);
  }
  const slot = tensorSlot(layout, name);
  return flat.subarray(slot.offset, slot.offset + slot.size) as T;
}
