// Storage bindings of the kernel ops: explicit byte ranges, size checks that name the op and
// operand, and BoundPasses, the base of ops that record a fixed list of dispatches.
import { ShapeError } from './errors.js';
import type { Gpu, StorageBinding } from './gpu.js';

/** A storage binding with its offset and size in bytes spelled out. */
export interface BufferRange {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** Resolves a binding to an explicit range; a bare buffer means the whole buffer. */
export function bufferRange(binding: StorageBinding): BufferRange {
  if (!('buffer' in binding)) return { buffer: binding, offset: 0, size: binding.size };
  const offset = binding.offset ?? 0;
  return { buffer: binding.buffer, offset, size: binding.size ?? binding.buffer.size - offset };
}

/**
 * Checks that a binding contains at least `elements` 32-bit values (f32, i32 or u32) and returns the range of
 * exactly those values, so that an op never binds more of a shared buffer than it uses.
 */
export function requireElements(op: string, operand: string, binding: StorageBinding, elements: number): BufferRange {
  const range = bufferRange(binding);
  if (range.size < elements * 4) {
    throw new ShapeError(`${op}: operand ${operand} needs ${elements} 32-bit values (${elements * 4} bytes) but its binding of '${range.buffer.label}' has ${range.size} bytes`);
  }
  return firstElements(range, elements);
}

/** Throws unless every named dimension is a positive integer. */
export function requireDimensions(op: string, dimensions: Record<string, number>): void {
  for (const [key, value] of Object.entries(dimensions)) {
    if (!Number.isInteger(value) || value < 1) throw new ShapeError(`${op}: ${key} must be a positive integer, got ${value}`);
  }
}

/** Returns the range of the first `elements` 32-bit values. */
export function firstElements(range: BufferRange, elements: number): BufferRange {
  return { buffer: range.buffer, offset: range.offset, size: elements * 4 };
}

/** One dispatch with its bindings and the uniform buffer it owns. */
export interface Pass {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: number;
  params: GPUBuffer;
}

/**
 * A fixed list of dispatches bound to their buffers: the base of most kernel ops. encode()
 * records them in order and allocates nothing.
 */
export class BoundPasses {
  protected constructor(
    protected readonly gpu: Gpu,
    readonly name: string,
    private readonly passes: Pass[],
    private readonly scratch: GPUBuffer[] = [],
  ) {}

  encode(): void {
    for (const pass of this.passes) this.gpu.dispatch(this.name, pass.pipeline, pass.bindGroup, pass.workgroups);
  }

  destroy(): void {
    for (const pass of this.passes) this.gpu.destroyBuffer(pass.params);
    for (const buffer of this.scratch) this.gpu.destroyBuffer(buffer);
  }
}

