// Input encoding (token and puzzle embeddings, scaled by sqrt(hidden)): float64 references
// for the forward and backward passes and the WebGPU ops.
import { wgslSources } from '../generated/wgsl.js';
import { ShapeError } from '../gpu/errors.js';
import type { Gpu, StorageBinding } from '../gpu/gpu.js';
import { BoundPasses, requireDimensions, requireElements, type BufferRange, type Pass } from '../gpu/bindings.js';

/**
 * Sizes of the input encoding. The sequence of each sample is `prefix` puzzle slots (slot 0
 * is the puzzle-table row, the others are zero) followed by `seq` token embeddings.
 * TRM on Sudoku: seq 81, prefix 16, hidden 512, vocab 11.
 */
export interface EmbeddingShape {
  batch: number;
  seq: number;
  prefix: number;
  hidden: number;
  vocab: number;
  /** Rows of the puzzle-embedding table (number of puzzle ids). */
  puzzleRows: number;
}

/** Element counts of every tensor the input encoding reads or writes. */
export function embeddingSizes(shape: EmbeddingShape) {
  const { batch, seq, prefix, hidden, vocab, puzzleRows } = shape;
  return {
    tokens: batch * seq,
    tokenTable: vocab * hidden,
    puzzleIds: batch,
    puzzleTable: puzzleRows * hidden,
    x: batch * (prefix + seq) * hidden,
    dPuzzle: batch * hidden,
  };
}

/**
 * Throws a ShapeError unless every id is an integer in [0, rows). Call it on host data
 * before upload; on the GPU an out-of-range id only turns its output row into NaN.
 */
export function checkIds(op: string, input: string, ids: ArrayLike<number>, rows: number): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= rows) {
      throw new ShapeError(`${op}: ${input}[${i}] is ${id}, but ids must be integers in [0, ${rows})`);
    }
  }
}

/** Float64 reference of the forward pass: x [batch, prefix + seq, hidden]. Ids must be valid. */
export function inputEmbeddingReference(
  shape: EmbeddingShape,
  tokens: ArrayLike<number>,
  tokenTable: ArrayLike<number>,
  puzzleIds: ArrayLike<number>,
  puzzleTable: ArrayLike<number>,
): Float64Array {
  const { batch, seq, prefix, hidden } = shape;
  const length = prefix + seq;
  const scale = Math.sqrt(hidden);
  const x = new Float64Array(batch * length * hidden);

  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < hidden; c++) {
      x[b * length * hidden + c] = scale * puzzleTable[puzzleIds[b] * hidden + c];
    }
    for (let s = 0; s < seq; s++) {
      const row = tokens[b * seq + s];
      for (let c = 0; c < hidden; c++) {
        x[(b * length + prefix + s) * hidden + c] = scale * tokenTable[row * hidden + c];
      }
    }
  }
  return x;
}

/**
 * Float64 reference of the backward pass. dTokenTable = dTokenTableIn + sqrt(hidden) · (sum of
 * dX over the positions holding each token id); dPuzzle [batch, hidden] = sqrt(hidden) · dX[b, 0]
 * per sample, not yet summed per puzzle id. Ids must be valid.
 */
export function inputEmbeddingBackwardReference(
  shape: EmbeddingShape,
  tokens: ArrayLike<number>,
  dX: ArrayLike<number>,
  dTokenTableIn: ArrayLike<number>,
): { dTokenTable: Float64Array; dPuzzle: Float64Array } {
  const { batch, seq, prefix, hidden } = shape;
  const length = prefix + seq;
  const scale = Math.sqrt(hidden);
  const dTokenTable = Float64Array.from(dTokenTableIn);
  const dPuzzle = new Float64Array(batch * hidden);

  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < hidden; c++) {
      dPuzzle[b * hidden + c] = scale * dX[b * length * hidden + c];
    }
    for (let s = 0; s < seq; s++) {
      const row = tokens[b * seq + s];
      for (let c = 0; c < hidden; c++) {
        dTokenTable[row * hidden + c] += scale * dX[(b * length + prefix + s) * hidden + c];
      }
    }
  }
  return { dTokenTable, dPuzzle };
}

/** The forward pass bound to its buffers: one dispatch, and encode() allocates nothing. */
export class InputEmbedding extends BoundPasses {
  /**
   * tokens and puzzleIds are i32. Out-of-range ids are not checked here because the data is on
   * the GPU already; checkIds validates host data before upload.
   */
  static async create(
    gpu: Gpu,
    name: string,
    shape: EmbeddingShape,
    buffers: { tokens: StorageBinding; tokenTable: StorageBinding; puzzleIds: StorageBinding; puzzleTable: StorageBinding; x: StorageBinding },
  ): Promise<InputEmbedding> {
    const op = `embedding forward '${name}'`;
    requireDimensions(op, { ...shape });
    const sizes = embeddingSizes(shape);
    const operands = (['tokens', 'tokenTable', 'puzzleIds', 'puzzleTable', 'x'] as const).map((operand) => requireElements(op, operand, buffers[operand], sizes[operand]));
    const pass = await embeddingPass(gpu, name, shape, 'input_embedding', operands, sizes.x);
    return new InputEmbedding(gpu, name, [pass]);
  }
}

/**
 * The backward pass bound to its buffers: adds into dTokenTable (zero it before the first
 * accumulation) and overwrites dPuzzle. One dispatch without float atomics, so the result is
 * bitwise reproducible. Token ids outside [0, vocab) contribute nothing.
 */
export class InputEmbeddingBackward extends BoundPasses {
  static async create(
    gpu: Gpu,
    name: string,
    shape: EmbeddingShape,
    buffers: { tokens: StorageBinding; dX: StorageBinding; dTokenTable: StorageBinding; dPuzzle: StorageBinding },
  ): Promise<InputEmbeddingBackward> {
    const op = `embedding backward '${name}'`;
    requireDimensions(op, { ...shape });
    const sizes = embeddingSizes(shape);
    const operands = [
      requireElements(op, 'tokens', buffers.tokens, sizes.tokens),
      requireElements(op, 'dX', buffers.dX, sizes.x),
      requireElements(op, 'dTokenTable', buffers.dTokenTable, sizes.tokenTable),
      requireElements(op, 'dPuzzle', buffers.dPuzzle, sizes.dPuzzle),
    ];
    const pass = await embeddingPass(gpu, name, shape, 'input_embedding_backward', operands, sizes.tokenTable + sizes.dPuzzle);
    return new InputEmbeddingBackward(gpu, name, [pass]);
  }
}

/** Binds one entry point of embedding.wgsl: the uniform first, then `operands`, one invocation per element of `invocations`. */
async function embeddingPass(gpu: Gpu, name: string, shape: EmbeddingShape, entryPoint: string, operands: BufferRange[], invocations: number): Promise<Pass> {
  const { batch, seq, prefix, hidden, vocab, puzzleRows } = shape;
  const pipeline = await gpu.pipeline(`embedding.${entryPoint}`, wgslSources.embedding, entryPoint);
  const params = gpu.createUniform(`${name}.params`, [batch, seq, prefix, hidden, vocab, puzzleRows, Math.sqrt(hidden)], 'uuuuuuf');
  const bindGroup = gpu.bindGroup(name, pipeline, [params, ...operands]);
  return { pipeline, bindGroup, params, workgroups: Math.ceil(invocations / 64) };
}
