// The non-matmul kernels at the TRM shapes. Each case builds one op on fresh buffers and counts
// the work of one run: FLOPs for attention, and for the bandwidth-bound kernels the bytes that
// must move at least (every input element read once, every output element written once).
import type { Gpu } from '../src/gpu/gpu.js';
import { AttentionBackward, AttentionForward, attentionSizes, type AttentionShape } from '../src/kernels/attention.js';
import { Add, Add3, Axpy, Scale, Sum } from '../src/kernels/elementwise.js';
import { InputEmbedding, InputEmbeddingBackward, embeddingSizes, type EmbeddingShape } from '../src/kernels/embedding.js';
import { BceWithLogits, CrossEntropy, SequenceAccuracy, type CrossEntropyKind } from '../src/kernels/losses.js';
import { Adam, Ema, SignSgd, TRM_ADAM_ATAN2 } from '../src/kernels/optimizer.js';
import { RmsNormBackward, RmsNormForward, defaultRmsNormVariant, rmsNormSizes, type RmsNormShape } from '../src/kernels/rmsnorm.js';
import { Rope, createRopeTable } from '../src/kernels/rope.js';
import { SwigluBackward, SwigluForward, swigluSizes, type SwigluShape } from '../src/kernels/swiglu.js';
import { indexBuffer, randomBuffer } from './data.js';
import type { TrmDims } from './shapes.js';

export type WorkMetric = 'flops' | 'bytes';

/** An op bound to its buffers, ready to time. */
export interface BuiltOp {
  encode(): void;
  /** Frees the op and its buffers. */
  destroy(): void;
  /** FLOPs or bytes of one run, in the case's metric. */
  work: number;
  variant?: string;
}

export interface KernelCase {
  name: string;
  metric: WorkMetric;
  build(gpu: Gpu, dims: TrmDims): Promise<BuiltOp>;
}

interface Op {
  encode(): void;
  destroy(): void;
}

/** Buffers of one case, freed together. */
class Scratch {
  private readonly buffers: GPUBuffer[] = [];

  constructor(private readonly gpu: Gpu) {}

  floats(label: string, count: number, seed = 1): GPUBuffer {
    return this.own(randomBuffer(this.gpu, label, count, seed));
  }

  indices(label: string, count: number, bound: number): GPUBuffer {
    return this.own(indexBuffer(this.gpu, label, count, bound));
  }

  /** Adds a buffer made elsewhere to the ones destroy() frees. */
  own(buffer: GPUBuffer): GPUBuffer {
    this.buffers.push(buffer);
    return buffer;
  }

  /** Wraps an op so that destroy() frees the op and every buffer made here. */
  built(op: Op, work: number, variant?: string): BuiltOp {
    return {
      encode: () => op.encode(),
      destroy: () => {
        op.destroy();
        for (const buffer of this.buffers) this.gpu.destroyBuffer(buffer);
      },
      work,
      variant,
    };
  }
}

const BYTES = 4;

export const KERNEL_CASES: KernelCase[] = [
  { name: 'attention forward', metric: 'flops', build: (gpu, dims) => attention(gpu, dims, 'forward') },
  { name: 'attention backward', metric: 'flops', build: (gpu, dims) => attention(gpu, dims, 'backward') },
  { name: 'rope forward', metric: 'bytes', build: (gpu, dims) => rope(gpu, dims, 'forward') },
  { name: 'rope backward', metric: 'bytes', build: (gpu, dims) => rope(gpu, dims, 'backward') },
  { name: 'rmsnorm forward', metric: 'bytes', build: (gpu, dims) => rmsNorm(gpu, rowsNorm(dims), 'forward') },
  { name: 'rmsnorm backward', metric: 'bytes', build: (gpu, dims) => rmsNorm(gpu, rowsNorm(dims), 'backward') },
  { name: 'rmsnorm over tokens forward', metric: 'bytes', build: (gpu, dims) => rmsNorm(gpu, tokensNorm(dims), 'forward') },
  { name: 'rmsnorm over tokens backward', metric: 'bytes', build: (gpu, dims) => rmsNorm(gpu, tokensNorm(dims), 'backward') },
  { name: 'swiglu forward', metric: 'bytes', build: (gpu, dims) => swiglu(gpu, channelSwiglu(dims), 'forward') },
  { name: 'swiglu backward', metric: 'bytes', build: (gpu, dims) => swiglu(gpu, channelSwiglu(dims), 'backward') },
  { name: 'swiglu token mix forward', metric: 'bytes', build: (gpu, dims) => swiglu(gpu, tokenSwiglu(dims), 'forward') },
  { name: 'swiglu token mix backward', metric: 'bytes', build: (gpu, dims) => swiglu(gpu, tokenSwiglu(dims), 'backward') },
  { name: 'add', metric: 'bytes', build: (gpu, dims) => elementwise(gpu, dims, 'add') },
  { name: 'add3', metric: 'bytes', build: (gpu, dims) => elementwise(gpu, dims, 'add3') },
  { name: 'axpy', metric: 'bytes', build: (gpu, dims) => elementwise(gpu, dims, 'axpy') },
  { name: 'scale', metric: 'bytes', build: (gpu, dims) => elementwise(gpu, dims, 'scale') },
  { name: 'sum', metric: 'bytes', build: (gpu, dims) => elementwise(gpu, dims, 'sum') },
  { name: 'cross-entropy stablemax fwd+bwd', metric: 'bytes', build: (gpu, dims) => crossEntropy(gpu, dims, 'stablemax') },
  { name: 'cross-entropy softmax fwd+bwd', metric: 'bytes', build: (gpu, dims) => crossEntropy(gpu, dims, 'softmax') },
  { name: 'bce-with-logits fwd+bwd', metric: 'bytes', build: (gpu, dims) => bce(gpu, dims) },
  { name: 'sequence accuracy', metric: 'bytes', build: (gpu, dims) => accuracy(gpu, dims) },
  { name: 'embedding forward', metric: 'bytes', build: (gpu, dims) => embedding(gpu, dims, 'forward') },
  { name: 'embedding backward', metric: 'bytes', build: (gpu, dims) => embedding(gpu, dims, 'backward') },
  { name: 'adam-atan2 step (mlp params)', metric: 'bytes', build: (gpu, dims) => adam(gpu, dims) },
  { name: 'ema (mlp params)', metric: 'bytes', build: (gpu, dims) => ema(gpu, dims) },
  { name: 'sign-sgd puzzle embedding', metric: 'bytes', build: (gpu, dims) => signSgd(gpu, dims) },
];

/** FLOPs of attention forward: QKᵀ and PV, 2·L·L·d each per head. */
export function attentionForwardFlops(shape: AttentionShape): number {
  return 4 * shape.batch * shape.heads * shape.seq * shape.seq * shape.headDim;
}

/** Counts the backward pass as 2.5 × the forward (dV, dP, dQ, dK, as FlashAttention counts it), not the recomputation the kernel does. */
export function attentionBackwardFlops(shape: AttentionShape): number {
  return 2.5 * attentionForwardFlops(shape);
}

export function attentionShape(dims: TrmDims): AttentionShape {
  return { batch: dims.batch, seq: dims.tokens, heads: dims.heads, headDim: dims.headDim };
}

async function attention(gpu: Gpu, dims: TrmDims, direction: 'forward' | 'backward'): Promise<BuiltOp> {
  const shape = attentionShape(dims);
  const sizes = attentionSizes(shape);
  const scratch = new Scratch(gpu);
  const buffers = { qkv: scratch.floats('qkv', sizes.qkv), out: scratch.floats('out', sizes.out), logsumexp: scratch.floats('logsumexp', sizes.logsumexp) };
  const forward = await AttentionForward.create(gpu, 'bench attention', shape, buffers);
  if (direction === 'forward') return scratch.built(forward, attentionForwardFlops(shape), forward.variant);

  // The backward pass reads the forward pass's out and logsumexp, so those must be real.
  forward.encode();
  await gpu.sync('bench attention forward');
  forward.destroy();
  const grads = { dOut: scratch.floats('dOut', sizes.out, 3), dqkv: scratch.floats('dqkv', sizes.qkv) };
  const backward = await AttentionBackward.create(gpu, 'bench attention backward', shape, { ...buffers, ...grads });
  return scratch.built(backward, attentionBackwardFlops(shape), backward.variant);
}

async function rope(gpu: Gpu, dims: TrmDims, direction: 'forward' | 'backward'): Promise<BuiltOp> {
  const shape = attentionShape(dims);
  const scratch = new Scratch(gpu);
  const qkv = scratch.floats('qkv', attentionSizes(shape).qkv);
  const table = scratch.own(createRopeTable(gpu, 'bench rope table', shape.seq, shape.headDim));
  const op = await Rope.create(gpu, `bench rope ${direction}`, shape, { qkv, table }, direction);
  // q and k are read and written in place; the table is read once.
  const qk = 2 * attentionSizes(shape).out;
  return scratch.built(op, (2 * qk + shape.seq * shape.headDim) * BYTES);
}

function rowsNorm(dims: TrmDims): RmsNormShape {
  return { axis: 'last', rows: dims.batch * dims.tokens, hidden: dims.hidden };
}

function tokensNorm(dims: TrmDims): RmsNormShape {
  return { axis: 'middle', batch: dims.batch, length: dims.tokens, channels: dims.hidden };
}

async function rmsNorm(gpu: Gpu, shape: RmsNormShape, direction: 'forward' | 'backward'): Promise<BuiltOp> {
  const sizes = rmsNormSizes(shape);
  const scratch = new Scratch(gpu);
  const variant = defaultRmsNormVariant(gpu, shape);
  const [x, y, rstd] = [scratch.floats('x', sizes.x), scratch.floats('y', sizes.x, 3), scratch.floats('rstd', sizes.rstd, 4)];
  if (direction === 'forward') {
    const op = await RmsNormForward.create(gpu, 'bench rmsnorm', shape, { x, y, rstd }, variant);
    return scratch.built(op, (2 * sizes.x + sizes.rstd) * BYTES, variant);
  }
  const dY = scratch.floats('dY', sizes.x, 5);
  const op = await RmsNormBackward.create(gpu, 'bench rmsnorm backward', shape, { dY, y, rstd, dX: x }, variant);
  return scratch.built(op, (3 * sizes.x + sizes.rstd) * BYTES, variant);
}

function channelSwiglu(dims: TrmDims): SwigluShape {
  return { axis: 'last', rows: dims.batch * dims.tokens, inner: dims.inner };
}

function tokenSwiglu(dims: TrmDims): SwigluShape {
  return { axis: 'middle', batch: dims.batch, inner: dims.tokenInner, channels: dims.hidden };
}

async function swiglu(gpu: Gpu, shape: SwigluShape, direction: 'forward' | 'backward'): Promise<BuiltOp> {
  const sizes = swigluSizes(shape);
  const scratch = new Scratch(gpu);
  const gateUp = scratch.floats('gateUp', sizes.gateUp);
  const hidden = scratch.floats('hidden', sizes.hidden, 3);
  if (direction === 'forward') {
    const op = await SwigluForward.create(gpu, 'bench swiglu', shape, { gateUp, hidden });
    return scratch.built(op, (sizes.gateUp + sizes.hidden) * BYTES);
  }
  const dGateUp = scratch.floats('dGateUp', sizes.gateUp, 4);
  const op = await SwigluBackward.create(gpu, 'bench swiglu backward', shape, { gateUp, dHidden: hidden, dGateUp });
  return scratch.built(op, (2 * sizes.gateUp + sizes.hidden) * BYTES);
}

type ElementwiseName = 'add' | 'add3' | 'axpy' | 'scale' | 'sum';

/** Elementwise ops over one [batch·tokens, hidden] activation. */
async function elementwise(gpu: Gpu, dims: TrmDims, name: ElementwiseName): Promise<BuiltOp> {
  const length = dims.batch * dims.tokens * dims.hidden;
  const scratch = new Scratch(gpu);
  const [a, b, c] = [scratch.floats('a', length), scratch.floats('b', length, 3), scratch.floats('c', length, 4)];
  const out = scratch.floats('out', length, 5);
  const label = `bench ${name}`;
  if (name === 'add') return scratch.built(await Add.create(gpu, label, { length }, { a, b, out }), 3 * length * BYTES);
  if (name === 'add3') return scratch.built(await Add3.create(gpu, label, { length }, { x: a, y: b, z: c, out }), 4 * length * BYTES);
  if (name === 'axpy') return scratch.built(await Axpy.create(gpu, label, { length, alpha: 0.5 }, { a, out }), 3 * length * BYTES);
  if (name === 'scale') return scratch.built(await Scale.create(gpu, label, { length, alpha: 0.5 }, { a, out }), 2 * length * BYTES);
  return scratch.built(await Sum.create(gpu, label, { length }, { x: a, out }), (length + 1) * BYTES);
}

/** Token cross-entropy over the labelled positions: logits [batch, 81, vocab]. */
async function crossEntropy(gpu: Gpu, dims: TrmDims, kind: CrossEntropyKind): Promise<BuiltOp> {
  const { batch, seq, vocab } = dims;
  const scratch = new Scratch(gpu);
  const logits = scratch.floats('logits', batch * seq * vocab);
  const labels = scratch.indices('labels', batch * seq, vocab);
  const [seqLoss, dLogits] = [scratch.floats('seqLoss', batch), scratch.floats('dLogits', batch * seq * vocab)];
  const config = { kind, batch, seq, vocab, lossScale: 1 / batch };
  const op = await CrossEntropy.create(gpu, `bench ${kind} cross-entropy`, config, { logits, labels, seqLoss, dLogits });
  return scratch.built(op, (2 * batch * seq * vocab + batch * seq + batch) * BYTES);
}

async function bce(gpu: Gpu, dims: TrmDims): Promise<BuiltOp> {
  const { batch } = dims;
  const scratch = new Scratch(gpu);
  const buffers = { logits: scratch.floats('logits', batch), targets: scratch.floats('targets', batch, 3), loss: scratch.floats('loss', batch), dLogits: scratch.floats('dLogits', batch) };
  const op = await BceWithLogits.create(gpu, 'bench bce', { batch, lossScale: 1 / batch }, buffers);
  return scratch.built(op, 4 * batch * BYTES);
}

async function accuracy(gpu: Gpu, dims: TrmDims): Promise<BuiltOp> {
  const { batch, seq, vocab } = dims;
  const scratch = new Scratch(gpu);
  const logits = scratch.floats('logits', batch * seq * vocab);
  const labels = scratch.indices('labels', batch * seq, vocab);
  const outputs = { correct: scratch.floats('correct', batch), valid: scratch.floats('valid', batch), exact: scratch.floats('exact', batch) };
  const op = await SequenceAccuracy.create(gpu, 'bench accuracy', { batch, seq, vocab }, { logits, labels, ...outputs });
  return scratch.built(op, (batch * seq * vocab + batch * seq + 3 * batch) * BYTES);
}

function embeddingShape(dims: TrmDims): EmbeddingShape {
  return { batch: dims.batch, seq: dims.seq, prefix: dims.prefix, hidden: dims.hidden, vocab: dims.vocab, puzzleRows: dims.puzzleRows };
}

async function embedding(gpu: Gpu, dims: TrmDims, direction: 'forward' | 'backward'): Promise<BuiltOp> {
  const shape = embeddingShape(dims);
  const sizes = embeddingSizes(shape);
  const scratch = new Scratch(gpu);
  const tokens = scratch.indices('tokens', sizes.tokens, shape.vocab);
  const x = scratch.floats('x', sizes.x);
  if (direction === 'forward') {
    const buffers = { tokens, x, tokenTable: scratch.floats('tokenTable', sizes.tokenTable), puzzleIds: scratch.indices('puzzleIds', sizes.puzzleIds, shape.puzzleRows), puzzleTable: scratch.floats('puzzleTable', sizes.puzzleTable) };
    const op = await InputEmbedding.create(gpu, 'bench embedding', shape, buffers);
    return scratch.built(op, (sizes.x + sizes.tokens + sizes.tokenTable + sizes.puzzleIds + sizes.puzzleTable) * BYTES);
  }
  const grads = { dTokenTable: scratch.floats('dTokenTable', sizes.tokenTable), dPuzzle: scratch.floats('dPuzzle', sizes.dPuzzle) };
  const op = await InputEmbeddingBackward.create(gpu, 'bench embedding backward', shape, { tokens, dX: x, ...grads });
  // dX is read at the grid positions and prefix slot 0 only; dTokenTable is read and written.
  const dXRead = shape.batch * (shape.seq + 1) * shape.hidden;
  return scratch.built(op, (sizes.tokens + dXRead + 2 * sizes.tokenTable + sizes.dPuzzle) * BYTES);
}

async function adam(gpu: Gpu, dims: TrmDims): Promise<BuiltOp> {
  const count = dims.mlpParameters;
  const scratch = new Scratch(gpu);
  const buffers = { param: scratch.floats('param', count), grad: scratch.floats('grad', count, 3), m: scratch.floats('m', count, 4), v: scratch.floats('v', count, 5) };
  const op = await Adam.create(gpu, 'bench adam', count, buffers, TRM_ADAM_ATAN2);
  // Adam.encode() throws unless setStep() ran since the previous encode().
  const stepped = { encode: () => (op.setStep(1, 1e-4), op.encode()), destroy: () => op.destroy() };
  return scratch.built(stepped, 7 * count * BYTES);
}

async function ema(gpu: Gpu, dims: TrmDims): Promise<BuiltOp> {
  const count = dims.mlpParameters;
  const scratch = new Scratch(gpu);
  const op = await Ema.create(gpu, 'bench ema', count, { shadow: scratch.floats('shadow', count), param: scratch.floats('param', count, 3) });
  return scratch.built(op, 3 * count * BYTES);
}

async function signSgd(gpu: Gpu, dims: TrmDims): Promise<BuiltOp> {
  const shape = { batch: dims.batch, hidden: dims.hidden, rows: dims.puzzleRows };
  const scratch = new Scratch(gpu);
  const buffers = { table: scratch.floats('table', shape.rows * shape.hidden), grads: scratch.floats('grads', shape.batch * shape.hidden, 3), ids: scratch.indices('ids', shape.batch, shape.rows) };
  const op = await SignSgd.create(gpu, 'bench sign-sgd', shape, buffers, 1.0);
  op.setLearningRate(1e-4);
  return scratch.built(op, (shape.batch * shape.hidden + shape.batch + 2 * shape.rows * shape.hidden) * BYTES);
}
