// Rotary position embedding (rotate-half, GPT-NeoX convention) on the q and k sections of a
// fused qkv buffer: the angle tables, a float64 reference, and the in-place WebGPU op.
import { wgslSources } from '../generated/wgsl.js';
import { ShapeError } from '../gpu/errors.js';
import { Gpu, type StorageBinding } from '../gpu/gpu.js';
import { attentionSizes, checkPositiveSizes, qkvIndex, type AttentionShape } from './attention.js';
import { requireElements } from '../gpu/bindings.js';

/** The rotary base θ: frequency i of a head is θ^(−2i/headDim). */
export const ROPE_BASE = 10000;

/** Forward rotates q and k by +angle. Backward rotates dq and dk by −angle, the transpose. */
export type RopeDirection = 'forward' | 'backward';

/**
 * Computes cos and sin of position · base^(−2i/headDim) in float64, as [seq, headDim/2] tables
 * for positions 0 … seq − 1. The full [seq, headDim] tables are these halves concatenated twice.
 */
export function ropeAngles(seq: number, headDim: number, base = ROPE_BASE): { cos: Float64Array; sin: Float64Array } {
  const half = headDim / 2;
  const cos = new Float64Array(seq * half);
  const sin = new Float64Array(seq * half);
  for (let position = 0; position < seq; position++) {
    for (let i = 0; i < half; i++) {
      const angle = position * base ** ((-2 * i) / headDim);
      cos[position * half + i] = Math.cos(angle);
      sin[position * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * Float64 reference: a copy of qkv with each q and k head vector x rotated as
 * x·cos + rotate_half(x)·sin (forward), or with the transpose dy·cos + rotate_halfᵀ(dy·sin)
 * (backward), using the full [seq, headDim] tables. The v section is copied unchanged.
 */
export function ropeReference(shape: AttentionShape, qkv: ArrayLike<number>, direction: RopeDirection): Float64Array {
  const { batch: batches, seq, heads, headDim } = shape;
  const { cos, sin } = fullRopeTables(seq, headDim);
  const result = Float64Array.from(qkv);

  for (let batch = 0; batch < batches; batch++) {
    for (let position = 0; position < seq; position++) {
      const cosRow = cos.subarray(position * headDim, (position + 1) * headDim);
      const sinRow = sin.subarray(position * headDim, (position + 1) * headDim);
      for (const section of [0, 1]) {
        for (let head = 0; head < heads; head++) {
          const start = qkvIndex(shape, section, batch, position, head, 0);
          const x = result.slice(start, start + headDim);
          const rotated = direction === 'forward' ? multiply(rotateHalf(x), sinRow) : rotateHalfTransposed(multiply(x, sinRow));
          for (let d = 0; d < headDim; d++) result[start + d] = x[d] * cosRow[d] + rotated[d];
        }
      }
    }
  }
  return result;
}

/** Builds the [seq, headDim] cos and sin tables, each row its half-row concatenated twice. */
function fullRopeTables(seq: number, headDim: number): { cos: Float64Array; sin: Float64Array } {
  const half = headDim / 2;
  const angles = ropeAngles(seq, headDim);
  const cos = new Float64Array(seq * headDim);
  const sin = new Float64Array(seq * headDim);
  for (let position = 0; position < seq; position++) {
    for (let d = 0; d < headDim; d++) {
      cos[position * headDim + d] = angles.cos[position * half + (d % half)];
      sin[position * headDim + d] = angles.sin[position * half + (d % half)];
    }
  }
  return { cos, sin };
}

/** concat(−x[half:], x[:half]). */
function rotateHalf(x: Float64Array): Float64Array {
  const half = x.length / 2;
  return Float64Array.from(x, (_, d) => (d < half ? -x[d + half] : x[d - half]));
}

/** Applies the transpose of rotateHalf: concat(y[half:], −y[:half]). */
function rotateHalfTransposed(y: Float64Array): Float64Array {
  const half = y.length / 2;
  return Float64Array.from(y, (_, d) => (d < half ? y[d + half] : -y[d - half]));
}

function multiply(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (value, i) => value * b[i]);
}

/**
 * Uploads the table the rope kernel reads: f32 [seq, headDim/2, 2] of (cos, sin), computed in
 * float64 and rounded once. One table serves every rope op with that headDim and at most that seq.
 */
export function createRopeTable(gpu: Gpu, label: string, seq: number, headDim: number, base = ROPE_BASE): GPUBuffer {
  const { cos, sin } = ropeAngles(seq, headDim, base);
  const table = new Float32Array(cos.length * 2);
  for (let i = 0; i < cos.length; i++) {
    table[2 * i] = cos[i];
    table[2 * i + 1] = sin[i];
  }
  return gpu.createBufferFrom(label, table);
}

/**
 * RoPE bound to its buffers, in place: forward rotates q and k of qkv [batch, seq,
 * 3·heads·headDim] (v untouched), so the attention passes read post-RoPE q and k straight from
 * qkv. Backward rotates dq and dk of a dqkv buffer of the same layout back (dv untouched).
 */
export class Rope {
  private constructor(
    private readonly gpu: Gpu,
    readonly name: string,
    readonly shape: AttentionShape,
    readonly direction: RopeDirection,
    private readonly pipeline: GPUComputePipeline,
    private readonly bindGroup: GPUBindGroup,
    private readonly params: GPUBuffer,
  ) {}

  static async create(
    gpu: Gpu,
    name: string,
    shape: AttentionShape,
    buffers: { qkv: StorageBinding; table: StorageBinding },
    direction: RopeDirection,
  ): Promise<Rope> {
    validateRopeShape(name, shape);
    requireElements(`rope '${name}'`, 'qkv', buffers.qkv, attentionSizes(shape).qkv);
    requireElements(`rope '${name}'`, 'table', buffers.table, shape.seq * shape.headDim);

    const pipeline = await gpu.pipeline('rope', wgslSources.rope, 'rope');
    const half = shape.headDim / 2;
    const pairs = shape.batch * shape.seq * 2 * shape.heads * half;
    const sinSign = direction === 'forward' ? 1 : -1;
    const params = gpu.createUniform(`${name}.params`, [pairs, shape.seq, shape.heads, half, sinSign], 'uuuuf');
    const bindGroup = gpu.bindGroup(name, pipeline, [buffers.qkv, buffers.table, params]);
    return new Rope(gpu, name, shape, direction, pipeline, bindGroup, params);
  }

  encode(): void {
    const { batch, seq, heads, headDim } = this.shape;
    this.gpu.dispatch(this.name, this.pipeline, this.bindGroup, Math.ceil((batch * seq * heads * headDim) / 64));
  }

  destroy(): void {
    this.gpu.destroyBuffer(this.params);
  }
}

function validateRopeShape(name: string, shape: AttentionShape): void {
  checkPositiveSizes(`rope '${name}'`, shape);
  if (shape.headDim % 2 !== 0) throw new ShapeError(`rope '${name}': headDim must be even, got ${shape.headDim}`);
}
