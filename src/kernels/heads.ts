// Output-head kernels: gathering the grid rows of y for lm_head, the halting logit of q_head at
// position 0 with its backward passes, and argmax predictions. Float64 references and the
// WebGPU ops.
import { wgslSources } from '../generated/wgsl.js';
import type { Gpu, StorageBinding } from '../gpu/gpu.js';
import { argmaxReference } from './losses.js';
import { BoundPasses, requireDimensions, requireElements, type Pass } from '../gpu/bindings.js';

/**
 * y [batch, prefix + seq, hidden]: `prefix` puzzle-embedding rows, then the `seq` grid rows
 * that lm_head reads.
 */
export interface RowsShape {
  batch: number;
  prefix: number;
  seq: number;
  hidden: number;
}

/**
 * The halting head's view of q_head: one binding from q_head.weight[0, 0] to q_head.bias[0],
 * whose element biasOffset is the bias (the weight's row 0 is its first `hidden` elements).
 */
export interface HaltingHeadShape extends RowsShape {
  biasOffset: number;
}

/** Element counts of y (and dY), the grid rows and the q_head binding. */
export function headsSizes(shape: RowsShape & { biasOffset?: number }) {
  const { batch, prefix, seq, hidden } = shape;
  return { y: batch * (prefix + seq) * hidden, grid: batch * seq * hidden, head: (shape.biasOffset ?? hidden) + 1 };
}

// ---------------------------------------------------------------------------------------
// Float64 references.

/** grid [batch, seq, hidden] = rows prefix … prefix + seq − 1 of each sample of y. */
export function gatherRowsReference(shape: RowsShape, y: ArrayLike<number>): Float64Array {
  const { batch, prefix, seq, hidden } = shape;
  const grid = new Float64Array(batch * seq * hidden);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < seq; s++) {
      for (let c = 0; c < hidden; c++) grid[(b * seq + s) * hidden + c] = y[(b * (prefix + seq) + prefix + s) * hidden + c];
    }
  }
  return grid;
}

/** Transposes gatherRowsReference: dGrid goes to the grid rows of a y-shaped tensor, zeros elsewhere. */
export function scatterRowsReference(shape: RowsShape, dGrid: ArrayLike<number>): Float64Array {
  const { batch, prefix, seq, hidden } = shape;
  const dY = new Float64Array(batch * (prefix + seq) * hidden);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < seq; s++) {
      for (let c = 0; c < hidden; c++) dY[(b * (prefix + seq) + prefix + s) * hidden + c] = dGrid[(b * seq + s) * hidden + c];
    }
  }
  return dY;
}

/** q[b] = bias + y[b, 0] · weight row 0, from the q_head binding `head`. */
export function qHaltReference(shape: HaltingHeadShape, y: ArrayLike<number>, head: ArrayLike<number>): Float64Array {
  const { batch, prefix, seq, hidden } = shape;
  return Float64Array.from({ length: batch }, (_, b) => {
    let sum = head[shape.biasOffset];
    for (let c = 0; c < hidden; c++) sum += y[b * (prefix + seq) * hidden + c] * head[c];
    return sum;
  });
}

/**
 * Backward of qHaltReference for dQ [batch]: dHead (weight row 0 and bias added into a copy
 * of dHeadIn) and dY (zeros except row 0 of each sample).
 */
export function qHaltBackwardReference(
  shape: HaltingHeadShape,
  y: ArrayLike<number>,
  head: ArrayLike<number>,
  dQ: ArrayLike<number>,
  dHeadIn: ArrayLike<number>,
): { dHead: Float64Array; dY: Float64Array } {
  const { batch, prefix, seq, hidden } = shape;
  const dHead = Float64Array.from(dHeadIn);
  const dY = new Float64Array(batch * (prefix + seq) * hidden);
  for (let b = 0; b < batch; b++) {
    const row = b * (prefix + seq) * hidden;
    dHead[shape.biasOffset] += dQ[b];
    for (let c = 0; c < hidden; c++) {
      dHead[c] += dQ[b] * y[row + c];
      dY[row + c] = dQ[b] * head[c];
    }
  }
  return { dHead, dY };
}

/** argmax of each row of logits [rows, vocab], as torch.argmax. */
export function argmaxRowsReference(rows: number, vocab: number, logits: ArrayLike<number>): Int32Array {
  return Int32Array.from({ length: rows }, (_, r) => argmaxReference(Array.from({ length: vocab }, (_, v) => logits[r * vocab + v])));
}

// ---------------------------------------------------------------------------------------
// GPU ops.

interface HeadsUniform {
  shape: RowsShape;
  vocab?: number;
  biasOffset?: number;
  outputOffset?: number;
  rows?: number;
}

/** An operand's name for errors, its binding, and the f32 (or i32) values it must hold. */
type Operand = [name: string, binding: StorageBinding, elements: number];

/**
 * Checks the operands and binds one entry point of heads.wgsl: the uniform, then the operands
 * in order, one invocation per element of `invocations`.
 */
async function headsPasses(gpu: Gpu, name: string, op: string, entryPoint: string, uniform: HeadsUniform, operands: Operand[], invocations: number): Promise<Pass[]> {
  const ranges = operands.map(([operand, binding, elements]) => requireElements(op, operand, binding, elements));
  const { batch, prefix, seq, hidden } = uniform.shape;
  const words = [batch, prefix + seq, prefix, hidden, uniform.vocab ?? 0, uniform.biasOffset ?? 0, uniform.outputOffset ?? 0, uniform.rows ?? 0];
  const pipeline = await gpu.pipeline(`heads.${entryPoint}`, wgslSources.heads, entryPoint);
  const params = gpu.createUniform(`${name}.params`, words, 'uuuuuuuu');
  const bindGroup = gpu.bindGroup(name, pipeline, [params, ...ranges]);
  return [{ pipeline, bindGroup, params, workgroups: Math.ceil(invocations / 64) }];
}

function checkRowsShape(op: string, shape: RowsShape): ReturnType<typeof headsSizes> {
  requireDimensions(op, { batch: shape.batch, seq: shape.seq, hidden: shape.hidden });
  if (!Number.isInteger(shape.prefix) || shape.prefix < 0) throw new RangeError(`${op}: prefix must be a non-negative integer, got ${shape.prefix}`);
  return headsSizes(shape);
}

function checkHaltingShape(op: string, shape: HaltingHeadShape): ReturnType<typeof headsSizes> {
  checkRowsShape(op, shape);
  if (!Number.isInteger(shape.biasOffset) || shape.biasOffset < shape.hidden) {
    throw new RangeError(`${op}: biasOffset must be an integer of at least hidden = ${shape.hidden}, got ${shape.biasOffset}`);
  }
  return headsSizes(shape);
}

/** grid [batch, seq, hidden] = the grid rows of y [batch, prefix + seq, hidden]. */
export class GatherRows extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: RowsShape, buffers: { y: StorageBinding; grid: StorageBinding }): Promise<GatherRows> {
    const op = `gather rows '${name}'`;
    const sizes = checkRowsShape(op, shape);
    const operands: Operand[] = [['y', buffers.y, sizes.y], ['grid', buffers.grid, sizes.grid]];
    return new GatherRows(gpu, name, await headsPasses(gpu, name, op, 'gather_rows', { shape }, operands, sizes.grid));
  }
}

/** dY [batch, prefix + seq, hidden] = dGrid in the grid rows and zero in the prefix rows (every element written). */
export class ScatterRows extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: RowsShape, buffers: { dGrid: StorageBinding; dY: StorageBinding }): Promise<ScatterRows> {
    const op = `scatter rows '${name}'`;
    const sizes = checkRowsShape(op, shape);
    const operands: Operand[] = [['dGrid', buffers.dGrid, sizes.grid], ['dY', buffers.dY, sizes.y]];
    return new ScatterRows(gpu, name, await headsPasses(gpu, name, op, 'scatter_rows', { shape }, operands, sizes.y));
  }
}

/** q [batch] = q_head.bias[0] + y[:, 0] · q_head.weight[0], with `head` bound as HaltingHeadShape describes. */
export class QHaltForward extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: HaltingHeadShape, buffers: { y: StorageBinding; head: StorageBinding; q: StorageBinding }): Promise<QHaltForward> {
    const op = `q_halt forward '${name}'`;
    const sizes = checkHaltingShape(op, shape);
    const operands: Operand[] = [['y', buffers.y, sizes.y], ['head', buffers.head, sizes.head], ['q', buffers.q, shape.batch]];
    return new QHaltForward(gpu, name, await headsPasses(gpu, name, op, 'q_halt_forward', { shape, biasOffset: shape.biasOffset }, operands, shape.batch));
  }
}

/** Adds the gradients of q_head.weight[0] and q_head.bias[0] for dQ [batch] into dHead; row 1 is left alone. */
export class QHaltWeightGrad extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: HaltingHeadShape, buffers: { y: StorageBinding; dQ: StorageBinding; dHead: StorageBinding }): Promise<QHaltWeightGrad> {
    const op = `q_halt weight grad '${name}'`;
    const sizes = checkHaltingShape(op, shape);
    const operands: Operand[] = [['y', buffers.y, sizes.y], ['dQ', buffers.dQ, shape.batch], ['dHead', buffers.dHead, sizes.head]];
    return new QHaltWeightGrad(gpu, name, await headsPasses(gpu, name, op, 'q_halt_weight_grad', { shape, biasOffset: shape.biasOffset }, operands, shape.hidden + 1));
  }
}

/** dY [batch, prefix + seq, hidden] = dQ[b] · q_head.weight[0] in row 0 of each sample, zero elsewhere (every element written). */
export class QHaltInputGrad extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: HaltingHeadShape, buffers: { dQ: StorageBinding; head: StorageBinding; dY: StorageBinding }): Promise<QHaltInputGrad> {
    const op = `q_halt input grad '${name}'`;
    const sizes = checkHaltingShape(op, shape);
    const operands: Operand[] = [['dQ', buffers.dQ, shape.batch], ['head', buffers.head, sizes.head], ['dY', buffers.dY, sizes.y]];
    return new QHaltInputGrad(gpu, name, await headsPasses(gpu, name, op, 'q_halt_input_grad', { shape, biasOffset: shape.biasOffset }, operands, sizes.y));
  }
}

/** predictions[outputOffset + r] (i32) = argmax of row r of logits [rows, vocab]. */
export class ArgmaxRows extends BoundPasses {
  static async create(
    gpu: Gpu,
    name: string,
    shape: { rows: number; vocab: number; outputOffset: number },
    buffers: { logits: StorageBinding; predictions: StorageBinding },
  ): Promise<ArgmaxRows> {
    const op = `argmax rows '${name}'`;
    requireDimensions(op, { rows: shape.rows, vocab: shape.vocab });
    if (!Number.isInteger(shape.outputOffset) || shape.outputOffset < 0) throw new RangeError(`${op}: outputOffset must be a non-negative integer, got ${shape.outputOffset}`);
    const operands: Operand[] = [['logits', buffers.logits, shape.rows * shape.vocab], ['predictions', buffers.predictions, shape.outputOffset + shape.rows]];
    const uniform = { shape: { batch: 0, prefix: 0, seq: 0, hidden: 0 }, vocab: shape.vocab, outputOffset: shape.outputOffset, rows: shape.rows };
    return new ArgmaxRows(gpu, name, await headsPasses(gpu, name, op, 'argmax_rows', uniform, operands, shape.rows));
  }
}
