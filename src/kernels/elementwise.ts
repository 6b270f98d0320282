// Elementwise ops on flat f32 tensors (add, add3, scale, axpy, fill, copy) and a deterministic
// sum: float64 references and the WebGPU ops.
//
// An op's output must lie in a different GPUBuffer from its read-only inputs: WebGPU rejects a
// dispatch that binds one buffer both read-only and writable, even in disjoint ranges. Axpy
// reads and writes `out` through one binding, so it is the way to update a tensor in place.
import { wgslSources } from '../generated/wgsl.js';
import { ShapeError } from '../gpu/errors.js';
import { Gpu, type StorageBinding } from '../gpu/gpu.js';
import { BoundPasses, bufferRange, firstElements, requireDimensions, requireElements, type BufferRange, type Pass } from '../gpu/bindings.js';

// ---------------------------------------------------------------------------------------
// Float64 references.

export function addReference(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (value, i) => value + b[i]);
}

export function add3Reference(a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (value, i) => value + b[i] + c[i]);
}

export function scaleReference(alpha: number, a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (value) => alpha * value);
}

/** out + alpha · a. */
export function axpyReference(alpha: number, a: ArrayLike<number>, out: ArrayLike<number>): Float64Array {
  return Float64Array.from(out, (value, i) => value + alpha * a[i]);
}

export function sumReference(x: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < x.length; i++) total += x[i];
  return total;
}

// ---------------------------------------------------------------------------------------
// GPU ops.

type ElementwiseKernel = 'add' | 'add3' | 'scale' | 'axpy' | 'fill';

/** Number of elements of a flat tensor. */
export interface ElementwiseShape {
  length: number;
}

function checkLength(op: string, shape: ElementwiseShape): void {
  requireDimensions(op, { length: shape.length });
  if (shape.length >= 2 ** 32) throw new ShapeError(`${op}: length ${shape.length} is beyond 32-bit indexing`);
}

/**
 * Checks the shape and operands of one elementwise kernel and binds its passes: the vec4
 * kernel over whole vec4s, then the scalar kernel over the 0–3 elements left. `operands`
 * lists `out` first, then the inputs, in binding order.
 */
async function elementwisePasses(
  gpu: Gpu,
  name: string,
  kernel: ElementwiseKernel,
  shape: ElementwiseShape,
  operands: [string, StorageBinding][],
  scalars: { alpha?: number; value?: number } = {},
): Promise<Pass[]> {
  const op = `${kernel} '${name}'`;
  checkLength(op, shape);
  const { length } = shape;
  const ranges = operands.map(([operand, binding]) => requireElements(op, operand, binding, length));

  const vectors = Math.floor(length / 4);
  const words = (start: number, end: number) => [start, end, scalars.alpha ?? 1, scalars.value ?? 0];
  const passes: Pass[] = [];

  if (vectors > 0) {
    const pipeline = await gpu.pipeline(`elementwise.${kernel}_vec4`, wgslSources.elementwise, `${kernel}_vec4`);
    const params = gpu.createUniform(`${name}.params`, words(0, vectors), 'uuff');
    const bindGroup = gpu.bindGroup(name, pipeline, [params, ...ranges.map((range) => firstElements(range, vectors * 4))]);
    passes.push({ pipeline, bindGroup, params, workgroups: Math.ceil(vectors / 64) });
  }

  if (length % 4 > 0) {
    const pipeline = await gpu.pipeline(`elementwise.${kernel}_scalar`, wgslSources.elementwise, `${kernel}_scalar`);
    const params = gpu.createUniform(`${name}.tail.params`, words(vectors * 4, length), 'uuff');
    const bindGroup = gpu.bindGroup(name, pipeline, [params, ...ranges]);
    passes.push({ pipeline, bindGroup, params, workgroups: 1 });
  }
  return passes;
}

/** out = a + b. To add into a or b in place, use Axpy. */
export class Add extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: ElementwiseShape, buffers: { a: StorageBinding; b: StorageBinding; out: StorageBinding }): Promise<Add> {
    const operands: [string, StorageBinding][] = [['out', buffers.out], ['a', buffers.a], ['b', buffers.b]];
    return new Add(gpu, name, await elementwisePasses(gpu, name, 'add', shape, operands));
  }
}

/** out = x + y + z, added left to right; used for the input injection before the first block. */
export class Add3 extends BoundPasses {
  static async create(
    gpu: Gpu,
    name: string,
    shape: ElementwiseShape,
    buffers: { x: StorageBinding; y: StorageBinding; z: StorageBinding; out: StorageBinding },
  ): Promise<Add3> {
    const operands: [string, StorageBinding][] = [['out', buffers.out], ['x', buffers.x], ['y', buffers.y], ['z', buffers.z]];
    return new Add3(gpu, name, await elementwisePasses(gpu, name, 'add3', shape, operands));
  }
}

/** out = alpha · a. */
export class Scale extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: ElementwiseShape & { alpha: number }, buffers: { a: StorageBinding; out: StorageBinding }): Promise<Scale> {
    const operands: [string, StorageBinding][] = [['out', buffers.out], ['a', buffers.a]];
    return new Scale(gpu, name, await elementwisePasses(gpu, name, 'scale', shape, operands, { alpha: shape.alpha }));
  }
}

/** out += alpha · a, for summing gradients. */
export class Axpy extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: ElementwiseShape & { alpha: number }, buffers: { a: StorageBinding; out: StorageBinding }): Promise<Axpy> {
    const operands: [string, StorageBinding][] = [['out', buffers.out], ['a', buffers.a]];
    return new Axpy(gpu, name, await elementwisePasses(gpu, name, 'axpy', shape, operands, { alpha: shape.alpha }));
  }
}

/** out = value in every element. */
export class Fill extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: ElementwiseShape & { value: number }, buffers: { out: StorageBinding }): Promise<Fill> {
    return new Fill(gpu, name, await elementwisePasses(gpu, name, 'fill', shape, [['out', buffers.out]], { value: shape.value }));
  }
}

/**
 * out = a, as a buffer-to-buffer copy recorded in the command encoder: no kernel is needed.
 * The two ranges must not overlap if they are in the same buffer.
 */
export class Copy {
  private constructor(
    private readonly gpu: Gpu,
    readonly name: string,
    private readonly source: BufferRange,
    private readonly target: BufferRange,
    private readonly bytes: number,
  ) {}

  static async create(gpu: Gpu, name: string, shape: ElementwiseShape, buffers: { a: StorageBinding; out: StorageBinding }): Promise<Copy> {
    const op = `copy '${name}'`;
    checkLength(op, shape);
    const source = requireElements(op, 'a', buffers.a, shape.length);
    const target = requireElements(op, 'out', buffers.out, shape.length);
    return new Copy(gpu, name, source, target, shape.length * 4);
  }

  encode(): void {
    this.gpu.copy(this.source.buffer, this.source.offset, this.target.buffer, this.target.offset, this.bytes);
  }

  /** Releases nothing (a copy owns no buffers); present so every op can be destroyed alike. */
  destroy(): void {}
}

// ---------------------------------------------------------------------------------------
// Sum.

const SUM_BLOCK = 1024;

/**
 * out[0] = the sum of x's `length` elements. Each pass adds blocks of 1024 values in a fixed
 * tree, and passes repeat over the block sums (in scratch buffers made here) until one value
 * is left. That takes one pass up to 1024 elements, two up to 2²⁰ and three up to 2³⁰. The
 * order of additions depends only on the length, so the result is reproducible bit for bit.
 */
export class Sum extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: ElementwiseShape, buffers: { x: StorageBinding; out: StorageBinding }): Promise<Sum> {
    const op = `sum '${name}'`;
    checkLength(op, shape);
    let input = requireElements(op, 'x', buffers.x, shape.length);
    const out = requireElements(op, 'out', buffers.out, 1);
    const pipeline = await gpu.pipeline('elementwise.sum_blocks', wgslSources.elementwise, 'sum_blocks');

    const passes: Pass[] = [];
    const scratch: GPUBuffer[] = [];
    let length = shape.length;
    while (true) {
      const blocks = Math.ceil(length / SUM_BLOCK);
      const target = blocks === 1 ? out : bufferRange(gpu.createBuffer(`${name}.partials${passes.length}`, blocks * 4));
      if (blocks > 1) scratch.push(target.buffer);

      const params = gpu.createUniform(`${name}.params${passes.length}`, [0, length, 1, 0], 'uuff');
      const bindGroup = gpu.bindGroup(name, pipeline, [params, target, firstElements(input, length)]);
      passes.push({ pipeline, bindGroup, params, workgroups: blocks });
      if (blocks === 1) break;

      input = target;
      length = blocks;
    }
    return new Sum(gpu, name, passes, scratch);
  }
}
