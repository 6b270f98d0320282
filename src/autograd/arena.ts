// Device memory and bound ops for code that records the same kernels step after step: a pool
// of activation buffers, and a cache of ops keyed by their name, shape and bindings.
//
// A training step records hundreds of kernels with identical shapes every time. The pool
// always hands out the lowest-numbered free buffer of a size, so a step that repeats the
// previous step's requests binds the same buffers. Every op and bind group of such a step is
// then found in the cache, and neither memory nor the op count grows after the first step.
import type { Gpu, StorageBinding } from '../gpu/gpu.js';
import { bufferRange, type BufferRange } from '../gpu/bindings.js';

/** A kernel op bound to its buffers: encode() records it, destroy() frees its uniforms. */
export interface BoundOp {
  encode(): void;
  destroy(): void;
}

export class Arena {
  /** Free buffers by byte size, in ascending id order. */
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly pooled: GPUBuffer[] = [];
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  private readonly ops = new Map<string, Promise<BoundOp>>();
  private readonly created: BoundOp[] = [];
  private buffersInUse = 0;

  constructor(readonly gpu: Gpu) {}

  /** Buffers handed out by acquire() and not yet released. */
  get inUse(): number {
    return this.buffersInUse;
  }

  /** Ops created so far. */
  get opCount(): number {
    return this.ops.size;
  }

  /** Returns `elements` f32 values (or i32, u32) of a pooled buffer, reusing a free one of the same size if there is one. */
  acquire(label: string, elements: number): BufferRange {
    const bytes = Math.max(16, Math.ceil((elements * 4) / 16) * 16);
    const free = this.free.get(bytes);
    let buffer = free?.shift();
    if (!buffer) {
      buffer = this.gpu.createBuffer(`pooled, first used for ${label}`, bytes);
      this.bufferId(buffer);
      this.pooled.push(buffer);
    }
    this.buffersInUse++;
    return { buffer, offset: 0, size: elements * 4 };
  }

  /** Returns a buffer from acquire() to the pool; kernels recorded before still read it as it was. */
  release(range: BufferRange): void {
    const free = this.free.get(range.buffer.size) ?? [];
    free.push(range.buffer);
    free.sort((a, b) => this.bufferId(a) - this.bufferId(b));
    this.free.set(range.buffer.size, free);
    this.buffersInUse--;
  }

  /** Returns the number that identifies a buffer in cache keys. */
  bufferId(buffer: GPUBuffer): number {
    let id = this.ids.get(buffer);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(buffer, id);
    }
    return id;
  }

  /**
   * Returns the op that `create` builds for this name, shape and bindings, creating it on the
   * first request. `shape` is any JSON value that, with the bindings, fixes what the op does.
   */
  op<T extends BoundOp>(name: string, shape: unknown, bindings: StorageBinding[], create: () => Promise<T>): Promise<T> {
    const where = bindings.map((binding) => {
      const range = bufferRange(binding);
      return `${this.bufferId(range.buffer)}@${range.offset}+${range.size}`;
    });
    const key = `${name}|${JSON.stringify(shape)}|${where.join(',')}`;
    let op = this.ops.get(key);
    if (!op) {
      op = create();
      op.then((created) => this.created.push(created), () => undefined);
      this.ops.set(key, op);
    }
    return op as Promise<T>;
  }

  /** Destroys every op and pooled buffer; buffers still handed out become invalid too. */
  dispose(): void {
    for (const op of this.created) op.destroy();
    this.created.length = 0;
    this.ops.clear();
    for (const buffer of this.pooled) this.gpu.destroyBuffer(buffer);
    this.pooled.length = 0;
    this.free.clear();
    this.buffersInUse = 0;
  }
}
