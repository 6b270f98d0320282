// Fused non-causal scaled dot-product attention over a fused qkv buffer: float64 references for
// the forward and backward passes, and the WebGPU ops.
import { wgslSources } from '../generated/wgsl.js';
import { ShapeError } from '../gpu/errors.js';
import { requireElements } from '../gpu/bindings.js';
import { Gpu, type StorageBinding } from '../gpu/gpu.js';

export type AttentionVariant = 'tiled' | 'registers';
export const ATTENTION_VARIANTS: readonly AttentionVariant[] = ['tiled', 'registers'];

/**
 * Sizes of one attention call. A token's channels in qkv are q, then k, then v, each
 * head-major [heads, headDim]; the output has the q layout.
 */
export interface AttentionShape {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
}

/** The largest head dimension the kernels hold in registers (16 vec4s per row). */
export const MAX_HEAD_DIM = 64;

/** Rows a tiled workgroup computes, one per invocation. */
const BLOCK_ROWS = 64;

/** Rows one invocation of the register variant computes. */
const REGISTER_ROWS = 4;

/**
 * Element counts of the f32 tensors: qkv and dqkv [batch, seq, 3·heads·headDim], out and dOut
 * [batch, seq, heads·headDim], logsumexp [batch, heads, seq].
 */
export function attentionSizes(shape: AttentionShape): { qkv: number; out: number; logsumexp: number } {
  const tokens = shape.batch * shape.seq;
  return { qkv: tokens * 3 * shape.heads * shape.headDim, out: tokens * shape.heads * shape.headDim, logsumexp: tokens * shape.heads };
}

/** Returns the score scale 1/sqrt(headDim), the default of torch's scaled_dot_product_attention. */
export function attentionScale(headDim: number): number {
  return 1 / Math.sqrt(headDim);
}

/** Index of channel d of a head in section 0 (q), 1 (k) or 2 (v) of a qkv-shaped tensor. */
export function qkvIndex(shape: AttentionShape, section: number, batch: number, position: number, head: number, d: number): number {
  return (((batch * shape.seq + position) * 3 + section) * shape.heads + head) * shape.headDim + d;
}

/** Index of channel d of a head in an out-shaped tensor. */
export function outIndex(shape: AttentionShape, batch: number, position: number, head: number, d: number): number {
  return ((batch * shape.seq + position) * shape.heads + head) * shape.headDim + d;
}

/** Copies one head's vectors out of a qkv-shaped (section 0 q, 1 k, 2 v) or out-shaped tensor, as [seq, headDim]. */
export function headRows(shape: AttentionShape, tensor: ArrayLike<number>, batch: number, head: number, section?: number): Float64Array {
  const { seq, headDim } = shape;
  const rows = new Float64Array(seq * headDim);
  for (let position = 0; position < seq; position++) {
    const start = section === undefined ? outIndex(shape, batch, position, head, 0) : qkvIndex(shape, section, batch, position, head, 0);
    for (let d = 0; d < headDim; d++) rows[position * headDim + d] = tensor[start + d];
  }
  return rows;
}

/** Computes the softmax probabilities P [seq (query), seq (key)] of scale·Q·Kᵀ and the logsumexp of each score row. */
function softmaxProbabilities(shape: AttentionShape, q: Float64Array, k: Float64Array): { probabilities: Float64Array; logsumexp: Float64Array } {
  const { seq, headDim } = shape;
  const scale = attentionScale(headDim);
  const probabilities = new Float64Array(seq * seq);
  const logsumexp = new Float64Array(seq);

  for (let i = 0; i < seq; i++) {
    const scores = probabilities.subarray(i * seq, (i + 1) * seq);
    for (let j = 0; j < seq; j++) {
      let qk = 0;
      for (let d = 0; d < headDim; d++) qk += q[i * headDim + d] * k[j * headDim + d];
      scores[j] = scale * qk;
    }

    const max = scores.reduce((a, b) => Math.max(a, b), -Infinity);
    let sum = 0;
    for (let j = 0; j < seq; j++) sum += Math.exp(scores[j] - max);
    logsumexp[i] = max + Math.log(sum);
    for (let j = 0; j < seq; j++) scores[j] = Math.exp(scores[j] - logsumexp[i]);
  }
  return { probabilities, logsumexp };
}

/** Returns C [seq, headDim] = A·B for A [seq, seq] and B [seq, headDim], or Aᵀ·B when transposeA. */
function productWithRows(shape: AttentionShape, a: Float64Array, b: Float64Array, transposeA = false): Float64Array {
  const { seq, headDim } = shape;
  const c = new Float64Array(seq * headDim);
  for (let i = 0; i < seq; i++) {
    for (let j = 0; j < seq; j++) {
      const weight = transposeA ? a[j * seq + i] : a[i * seq + j];
      for (let d = 0; d < headDim; d++) c[i * headDim + d] += weight * b[j * headDim + d];
    }
  }
  return c;
}

/** Float64 reference forward: out = softmax(scale · q·kᵀ)·v per (batch, head), and the logsumexp of each score row. */
export function attentionForwardReference(shape: AttentionShape, qkv: ArrayLike<number>): { out: Float64Array; logsumexp: Float64Array } {
  const { batch: batches, seq, heads, headDim } = shape;
  const out = new Float64Array(attentionSizes(shape).out);
  const logsumexp = new Float64Array(attentionSizes(shape).logsumexp);

  for (let batch = 0; batch < batches; batch++) {
    for (let head = 0; head < heads; head++) {
      const softmax = softmaxProbabilities(shape, headRows(shape, qkv, batch, head, 0), headRows(shape, qkv, batch, head, 1));
      const o = productWithRows(shape, softmax.probabilities, headRows(shape, qkv, batch, head, 2));

      logsumexp.set(softmax.logsumexp, (batch * heads + head) * seq);
      for (let i = 0; i < seq; i++) out.set(o.subarray(i * headDim, (i + 1) * headDim), outIndex(shape, batch, i, head, 0));
    }
  }
  return { out, logsumexp };
}

/**
 * Float64 reference backward: dqkv [batch, seq, 3·heads·headDim] from qkv and dOut, with
 * D_i = rowsum(dO_i ⊙ O_i), dV = Pᵀ·dO, dS = P ⊙ (dO·Vᵀ − D), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
 */
export function attentionBackwardReference(shape: AttentionShape, qkv: ArrayLike<number>, dOut: ArrayLike<number>): Float64Array {
  const { batch: batches, seq, heads, headDim } = shape;
  const scale = attentionScale(headDim);
  const dqkv = new Float64Array(attentionSizes(shape).qkv);

  for (let batch = 0; batch < batches; batch++) {
    for (let head = 0; head < heads; head++) {
      const q = headRows(shape, qkv, batch, head, 0);
      const k = headRows(shape, qkv, batch, head, 1);
      const v = headRows(shape, qkv, batch, head, 2);
      const dO = headRows(shape, dOut, batch, head);
      const { probabilities } = softmaxProbabilities(shape, q, k);
      const o = productWithRows(shape, probabilities, v);

      const scoreGrad = new Float64Array(seq * seq);
      for (let i = 0; i < seq; i++) {
        let delta = 0;
        for (let d = 0; d < headDim; d++) delta += dO[i * headDim + d] * o[i * headDim + d];
        for (let j = 0; j < seq; j++) {
          let dp = 0;
          for (let d = 0; d < headDim; d++) dp += dO[i * headDim + d] * v[j * headDim + d];
          scoreGrad[i * seq + j] = probabilities[i * seq + j] * (dp - delta);
        }
      }

      const grads = [productWithRows(shape, scoreGrad, k), productWithRows(shape, scoreGrad, q, true), productWithRows(shape, probabilities, dO, true)];
      const factors = [scale, scale, 1];
      for (let section = 0; section < 3; section++) {
        for (let position = 0; position < seq; position++) {
          const start = qkvIndex(shape, section, batch, position, head, 0);
          for (let d = 0; d < headDim; d++) dqkv[start + d] = factors[section] * grads[section][position * headDim + d];
        }
      }
    }
  }
  return dqkv;
}

/** Picks the variant for an adapter: registers on CPU-backed adapters, where barriers are expensive, tiled otherwise. */
export function defaultAttentionVariant(gpu: Gpu): AttentionVariant {
  return gpu.isSoftware ? 'registers' : 'tiled';
}

/**
 * Attention forward bound to its buffers: out [batch, seq, heads·headDim] and logsumexp
 * [batch, heads, seq] from qkv [batch, seq, 3·heads·headDim], whose q and k already carry RoPE.
 * The backward pass needs all three unchanged.
 */
export class AttentionForward {
  private constructor(
    private readonly gpu: Gpu,
    readonly name: string,
    readonly shape: AttentionShape,
    readonly variant: AttentionVariant,
    private readonly pipeline: GPUComputePipeline,
    private readonly bindGroup: GPUBindGroup,
    private readonly params: GPUBuffer,
  ) {}

  static async create(
    gpu: Gpu,
    name: string,
    shape: AttentionShape,
    buffers: { qkv: StorageBinding; out: StorageBinding; logsumexp: StorageBinding },
    variant: AttentionVariant = defaultAttentionVariant(gpu),
  ): Promise<AttentionForward> {
    validateAttentionShape(name, shape, variant);
    const sizes = attentionSizes(shape);
    requireElements(`attention '${name}'`, 'qkv', buffers.qkv, sizes.qkv);
    requireElements(`attention '${name}'`, 'out', buffers.out, sizes.out);
    requireElements(`attention '${name}'`, 'logsumexp', buffers.logsumexp, sizes.logsumexp);

    const pipeline = await attentionPipeline(gpu, `attention_forward_${variant}`, shape);
    const params = attentionParams(gpu, name, shape);
    const bindGroup = gpu.bindGroup(name, pipeline, [buffers.qkv, buffers.out, buffers.logsumexp, params]);
    return new AttentionForward(gpu, name, shape, variant, pipeline, bindGroup, params);
  }

  encode(): void {
    dispatchRows(this.gpu, this.name, this.pipeline, this.bindGroup, this.shape, this.variant);
  }

  destroy(): void {
    this.gpu.destroyBuffer(this.params);
  }
}

/**
 * Attention backward bound to its buffers: writes every element of dqkv [batch, seq,
 * 3·heads·headDim] (dQ, dK, dV in the qkv layout) from qkv, out and logsumexp as the forward
 * pass left them and dOut [batch, seq, heads·headDim]. Two dispatches, one over query rows for
 * dQ and one over key rows for dK and dV, which write disjoint channels.
 */
export class AttentionBackward {
  private constructor(
    private readonly gpu: Gpu,
    readonly name: string,
    readonly shape: AttentionShape,
    readonly variant: AttentionVariant,
    private readonly passes: { kernel: string; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup }[],
    private readonly params: GPUBuffer,
  ) {}

  static async create(
    gpu: Gpu,
    name: string,
    shape: AttentionShape,
    buffers: { qkv: StorageBinding; out: StorageBinding; logsumexp: StorageBinding; dOut: StorageBinding; dqkv: StorageBinding },
    variant: AttentionVariant = defaultAttentionVariant(gpu),
  ): Promise<AttentionBackward> {
    validateAttentionShape(name, shape, variant);
    const sizes = attentionSizes(shape);
    requireElements(`attention backward '${name}'`, 'qkv', buffers.qkv, sizes.qkv);
    requireElements(`attention backward '${name}'`, 'out', buffers.out, sizes.out);
    requireElements(`attention backward '${name}'`, 'logsumexp', buffers.logsumexp, sizes.logsumexp);
    requireElements(`attention backward '${name}'`, 'dOut', buffers.dOut, sizes.out);
    requireElements(`attention backward '${name}'`, 'dqkv', buffers.dqkv, sizes.qkv);

    const params = attentionParams(gpu, name, shape);
    const bindings = [buffers.qkv, buffers.out, buffers.logsumexp, params, buffers.dOut, buffers.dqkv];
    const passes = [];
    for (const [pass, entryPoint] of [['dq', 'attention_query_grad'], ['dkdv', 'attention_key_value_grad']]) {
      const pipeline = await attentionPipeline(gpu, `${entryPoint}_${variant}`, shape);
      const kernel = `${name}.${pass}`;
      passes.push({ kernel, pipeline, bindGroup: gpu.bindGroup(kernel, pipeline, bindings) });
    }
    return new AttentionBackward(gpu, name, shape, variant, passes, params);
  }

  encode(): void {
    for (const pass of this.passes) dispatchRows(this.gpu, pass.kernel, pass.pipeline, pass.bindGroup, this.shape, this.variant);
  }

  destroy(): void {
    this.gpu.destroyBuffer(this.params);
  }
}

function attentionPipeline(gpu: Gpu, entryPoint: string, shape: AttentionShape): Promise<GPUComputePipeline> {
  return gpu.pipeline(`attention.${entryPoint}`, wgslSources.attention, entryPoint, { HEAD_DIM: shape.headDim });
}

function attentionParams(gpu: Gpu, name: string, shape: AttentionShape): GPUBuffer {
  return gpu.createUniform(`${name}.params`, [shape.batch, shape.seq, shape.heads, attentionScale(shape.headDim)], 'uuuf');
}

function dispatchRows(gpu: Gpu, kernel: string, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, shape: AttentionShape, variant: AttentionVariant): void {
  const { batch, seq, heads } = shape;
  if (variant === 'tiled') {
    gpu.dispatch(kernel, pipeline, bindGroup, [Math.ceil(seq / BLOCK_ROWS), batch * heads, 1]);
  } else {
    gpu.dispatch(kernel, pipeline, bindGroup, Math.ceil((batch * heads * Math.ceil(seq / REGISTER_ROWS)) / 64));
  }
}

/** Throws a ShapeError naming the op unless every size of the shape is a positive integer. */
export function checkPositiveSizes(op: string, shape: AttentionShape): void {
  for (const key of ['batch', 'seq', 'heads', 'headDim'] as const) {
    const value = shape[key];
    if (!Number.isInteger(value) || value < 1) throw new ShapeError(`${op}: ${key} must be a positive integer, got ${value}`);
  }
}

function validateAttentionShape(name: string, shape: AttentionShape, variant: AttentionVariant): void {
  checkPositiveSizes(`attention '${name}'`, shape);
  if (shape.headDim % 4 !== 0 || shape.headDim > MAX_HEAD_DIM) {
    throw new ShapeError(`attention '${name}': headDim must be a multiple of 4 and at most ${MAX_HEAD_DIM}, got ${shape.headDim}`);
  }
  if (variant === 'tiled' && shape.batch * shape.heads > 65535) {
    throw new ShapeError(`attention '${name}': batch · heads = ${shape.batch * shape.heads} exceeds 65535 workgroups for the tiled variant; use a smaller batch`);
  }
}

