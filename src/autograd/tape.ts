// Reverse-mode automatic differentiation over tensors in GPU buffers, in the style of
// micrograd: an op that runs while gradients are enabled records a closure that encodes its
// backward kernels, and backward() runs the closures in reverse order. Pooled tensors are
// reference-counted, so a saved activation returns to the pool once the last closure that
// reads it has run, and tidy() scopes return the temporaries of a forward pass.
import { Add } from '../kernels/elementwise.js';
import { type BufferRange } from '../gpu/bindings.js';
import type { Arena } from './arena.js';

export class Tensor {
  /** Gradient of the loss, accumulated during backward(); null until something contributes. */
  grad: Tensor | null = null;
  /** Holders of a pooled tensor: its scope, tape entries that saved it, the tensor it is the gradient of. */
  refs = 1;

  constructor(
    readonly label: string,
    readonly shape: readonly number[],
    readonly data: BufferRange,
    readonly requiresGrad: boolean,
    /** Pooled tensors go back to the arena when refs reaches 0; others are owned elsewhere. */
    readonly pooled: boolean,
  ) {}

  get size(): number {
    return product(this.shape);
  }
}

/** A tidy() result: tensors, possibly inside arrays and plain objects, or nothing. */
export type TensorTree = Tensor | void | readonly TensorTree[] | { readonly [key: string]: TensorTree };

interface Entry {
  output: Tensor;
  saved: Tensor[];
  backward: (dOut: Tensor) => Promise<void>;
}

export class Tape {
  private entries: Entry[] = [];
  private readonly scopes: Tensor[][] = [[]];
  private enabled = true;

  constructor(readonly arena: Arena) {}

  /** Whether ops record their backward pass now. */
  get recording(): boolean {
    return this.enabled;
  }

  /** Backward closures recorded and not yet run. */
  get length(): number {
    return this.entries.length;
  }

  /** Returns whether an op's output needs a gradient: gradients are enabled and some input needs one. */
  needsGrad(...inputs: { requiresGrad: boolean }[]): boolean {
    return this.enabled && inputs.some((input) => input.requiresGrad);
  }

  async noGrad<T>(body: () => Promise<T>): Promise<T> {
    const previous = this.enabled;
    this.enabled = false;
    try {
      return await body();
    } finally {
      this.enabled = previous;
    }
  }

  /** Runs body; pooled tensors it creates and does not return are released unless the tape saved them. */
  async tidy<T extends TensorTree>(body: () => Promise<T>): Promise<T> {
    this.scopes.push([]);
    let result: T | undefined;
    try {
      result = await body();
      return result;
    } finally {
      const kept = new Set(tensorsIn(result));
      for (const tensor of this.scopes.pop() ?? []) {
        if (kept.has(tensor)) this.scopes[this.scopes.length - 1].push(tensor);
        else this.drop(tensor);
      }
    }
  }

  /** Creates a pooled tensor held by the current scope. */
  tensor(label: string, shape: readonly number[], requiresGrad = false): Tensor {
    const tensor = new Tensor(label, shape, this.arena.acquire(label, product(shape)), requiresGrad, true);
    this.scopes[this.scopes.length - 1].push(tensor);
    return tensor;
  }

  /** Wraps memory that the caller owns, such as a persistent carry buffer, as a tensor. */
  external(label: string, data: BufferRange, shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(label, shape, data, requiresGrad, false);
  }

  /** Returns a view of the same values that needs no gradient, valid while `tensor` is. */
  detach(tensor: Tensor): Tensor {
    return new Tensor(tensor.label, tensor.shape, tensor.data, false, false);
  }

  /** Creates a pooled tensor for a gradient of `like`, held by the caller until addGrad() takes it. */
  gradFor(like: Tensor): Tensor {
    return new Tensor(`d${like.label}`, like.shape, this.arena.acquire(`d${like.label}`, like.size), false, true);
  }

  /** Drops the current scope's hold on a tensor, for a loop that no longer needs its last value. */
  dispose(tensor: Tensor): void {
    for (let s = this.scopes.length - 1; s >= 0; s--) {
      const index = this.scopes[s].indexOf(tensor);
      if (index < 0) continue;
      this.scopes[s].splice(index, 1);
      this.drop(tensor);
      return;
    }
  }

  /** Records the backward pass of an op with one output; `saved` stay alive until it has run. */
  record(output: Tensor, saved: Tensor[], backward: (dOut: Tensor) => Promise<void>): void {
    if (!this.enabled || !output.requiresGrad) return;
    for (const tensor of saved) this.hold(tensor);
    this.entries.push({ output, saved, backward });
  }

  /** Adds `gradient` into tensor.grad and takes over the caller's reference to it. */
  async addGrad(tensor: Tensor, gradient: Tensor): Promise<void> {
    if (!tensor.requiresGrad) return this.drop(gradient);
    if (!tensor.grad) {
      tensor.grad = gradient;
      return;
    }
    const sum = this.gradFor(tensor);
    const shape = { length: tensor.size };
    const add = await this.arena.op('gradient sum', shape, [tensor.grad.data, gradient.data, sum.data], () =>
      Add.create(this.arena.gpu, `gradient sum of ${tensor.label}`, shape, { a: tensor.grad!.data, b: gradient.data, out: sum.data }),
    );
    add.encode();
    this.drop(tensor.grad);
    this.drop(gradient);
    tensor.grad = sum;
  }

  /** Shares a gradient with a second consumer, as addGrad() takes one reference per call. */
  share(gradient: Tensor): Tensor {
    return this.hold(gradient);
  }

  /**
   * Seeds the gradients (taking over the references to them) and runs the recorded closures in
   * reverse. After a closure runs, its output's gradient and its saved tensors are released.
   */
  async backward(seeds: [Tensor, Tensor][]): Promise<void> {
    for (const [tensor, gradient] of seeds) await this.addGrad(tensor, gradient);
    const entries = this.entries;
    this.entries = [];
    let i = entries.length - 1;
    try {
      for (; i >= 0; i--) {
        const { output, backward } = entries[i];
        if (output.grad) await backward(output.grad);
        this.release(entries[i]);
      }
    } finally {
      // After a failed closure, the rest of the tape is released unrun.
      for (; i >= 0; i--) this.release(entries[i]);
    }
  }

  /** Releases a tensor's gradient, such as a leaf's once the caller has read it. */
  clearGrad(tensor: Tensor): void {
    if (tensor.grad) this.drop(tensor.grad);
    tensor.grad = null;
  }

  /** Forgets closures that backward() never ran, releasing what they saved. */
  clear(): void {
    for (const entry of this.entries) this.release(entry);
    this.entries = [];
  }

  private release(entry: Entry): void {
    this.clearGrad(entry.output);
    for (const tensor of entry.saved) this.drop(tensor);
  }

  private hold(tensor: Tensor): Tensor {
    if (tensor.pooled) tensor.refs++;
    return tensor;
  }

  private drop(tensor: Tensor): void {
    if (!tensor.pooled) return;
    tensor.refs--;
    if (tensor.refs === 0) this.arena.release(tensor.data);
  }
}

function product(shape: readonly number[]): number {
  return shape.reduce((total, dimension) => total * dimension, 1);
}

function tensorsIn(tree: TensorTree | undefined): Tensor[] {
  if (tree instanceof Tensor) return [tree];
  if (!tree || typeof tree !== 'object') return [];
  return Object.values(tree).flatMap((value) => tensorsIn(value as TensorTree));
}
