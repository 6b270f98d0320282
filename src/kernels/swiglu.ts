// SwiGLU activation on the fused gate|up projection, forward and backward: float64
// references and the WebGPU ops.
import { wgslSources } from '../generated/wgsl.js';
import { ShapeError } from '../gpu/errors.js';
import type { Gpu, StorageBinding } from '../gpu/gpu.js';
import { BoundPasses, requireDimensions, requireElements, type BufferRange } from '../gpu/bindings.js';

/**
 * Layout of the gate and up halves in the fused projection's output.
 * - 'last': gateUp [rows, 2·inner], gate in columns [0, inner), up in [inner, 2·inner);
 *   hidden [rows, inner]. This is the channel-mixing MLP.
 * - 'middle': gateUp [batch, 2·inner, channels], gate in rows [0, inner) of the middle axis,
 *   up in [inner, 2·inner); hidden [batch, inner, channels]. This is the token-mixing MLP,
 *   which projects along the sequence axis of a [batch, L, channels] tensor.
 */
export type SwigluShape = { axis: 'last'; rows: number; inner: number } | { axis: 'middle'; batch: number; inner: number; channels: number };

/** Both layouts as gateUp [outer, 2, half] and hidden [outer, half]. */
export function swigluView(shape: SwigluShape): { outer: number; half: number } {
  if (shape.axis === 'last') return { outer: shape.rows, half: shape.inner };
  return { outer: shape.batch, half: shape.inner * shape.channels };
}

/** Number of elements of gateUp (and dGateUp) and of hidden (and dHidden). */
export function swigluSizes(shape: SwigluShape): { gateUp: number; hidden: number } {
  const { outer, half } = swigluView(shape);
  return { gateUp: 2 * outer * half, hidden: outer * half };
}

// ---------------------------------------------------------------------------------------
// Float64 references.

/** Computes sigmoid(x) from exp(−|x|), which cannot overflow because its exponent is never positive. */
export function sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

export function silu(x: number): number {
  return x * sigmoid(x);
}

/** d silu / dx = sigmoid(x) · (1 + x · sigmoid(−x)). */
export function siluDerivative(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return sigmoid(x) + (x * e) / ((1 + e) * (1 + e));
}

/** Calls visit(e, gate, up) with hidden element e and the indices of its gate and up values. */
function forEachElement(shape: SwigluShape, visit: (e: number, gate: number, up: number) => void): void {
  const { outer, half } = swigluView(shape);
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < half; r++) visit(o * half + r, 2 * o * half + r, (2 * o + 1) * half + r);
  }
}

/** hidden = silu(gate) ⊙ up. */
export function swigluForwardReference(shape: SwigluShape, gateUp: ArrayLike<number>): Float64Array {
  const hidden = new Float64Array(swigluSizes(shape).hidden);
  forEachElement(shape, (e, gate, up) => {
    hidden[e] = silu(gateUp[gate]) * gateUp[up];
  });
  return hidden;
}

/** dGate = dHidden ⊙ up ⊙ silu'(gate), dUp = dHidden ⊙ silu(gate), in gateUp's layout. */
export function swigluBackwardReference(shape: SwigluShape, gateUp: ArrayLike<number>, dHidden: ArrayLike<number>): Float64Array {
  const dGateUp = new Float64Array(swigluSizes(shape).gateUp);
  forEachElement(shape, (e, gate, up) => {
    dGateUp[gate] = dHidden[e] * gateUp[up] * siluDerivative(gateUp[gate]);
    dGateUp[up] = dHidden[e] * silu(gateUp[gate]);
  });
  return dGateUp;
}

// ---------------------------------------------------------------------------------------
// GPU ops.

function checkShape(op: string, shape: SwigluShape): { outer: number; half: number } {
  const { axis, ...dimensions } = shape;
  if (axis !== 'last' && axis !== 'middle') throw new ShapeError(`${op}: axis must be 'last' or 'middle', got '${axis}'`);
  requireDimensions(op, dimensions);
  const view = swigluView(shape);
  if (2 * view.outer * view.half >= 2 ** 32) throw new ShapeError(`${op}: gateUp has ${2 * view.outer * view.half} elements, beyond 32-bit indexing`);
  return view;
}

/**
 * Binds one SwiGLU kernel: the vec4 variant when half is a multiple of 4 (every TRM shape),
 * the lane-by-lane one otherwise. `operands` lists the output first, then the inputs.
 */
async function swigluPasses(gpu: Gpu, name: string, direction: 'forward' | 'backward', view: { outer: number; half: number }, operands: BufferRange[]) {
  const variant = view.half % 4 === 0 ? 'aligned' : 'unaligned';
  const entryPoint = `swiglu_${direction}_${variant}`;
  const pipeline = await gpu.pipeline(`swiglu.${direction}_${variant}`, wgslSources.swiglu, entryPoint);
  const count = view.outer * view.half;
  const params = gpu.createUniform(`${name}.params`, [count, view.half], 'uu');
  const bindGroup = gpu.bindGroup(name, pipeline, [params, ...operands]);
  return [{ pipeline, bindGroup, params, workgroups: Math.ceil(count / 4 / 64) }];
}

/** hidden = silu(gate) ⊙ up, reading the gate and up halves of gateUp as `shape` lays them out. */
export class SwigluForward extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: SwigluShape, buffers: { gateUp: StorageBinding; hidden: StorageBinding }): Promise<SwigluForward> {
    const op = `swiglu forward '${name}'`;
    const view = checkShape(op, shape);
    const sizes = swigluSizes(shape);
    const hidden = requireElements(op, 'hidden', buffers.hidden, sizes.hidden);
    const gateUp = requireElements(op, 'gateUp', buffers.gateUp, sizes.gateUp);
    return new SwigluForward(gpu, name, await swigluPasses(gpu, name, 'forward', view, [hidden, gateUp]));
  }
}

/** dGateUp (written, not accumulated) from dHidden and the forward pass's gateUp. */
export class SwigluBackward extends BoundPasses {
  static async create(
    gpu: Gpu,
    name: string,
    shape: SwigluShape,
    buffers: { gateUp: StorageBinding; dHidden: StorageBinding; dGateUp: StorageBinding },
  ): Promise<SwigluBackward> {
    const op = `swiglu backward '${name}'`;
    const view = checkShape(op, shape);
    const sizes = swigluSizes(shape);
    const dGateUp = requireElements(op, 'dGateUp', buffers.dGateUp, sizes.gateUp);
    const gateUp = requireElements(op, 'gateUp', buffers.gateUp, sizes.gateUp);
    const dHidden = requireElements(op, 'dHidden', buffers.dHidden, sizes.hidden);
    return new SwigluBackward(gpu, name, await swigluPasses(gpu, name, 'backward', view, [dGateUp, gateUp, dHidden]));
  }
}
